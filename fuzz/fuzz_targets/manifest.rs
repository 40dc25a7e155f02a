//! Manifest parsing on arbitrary bytes: never panic; whatever is accepted has a canonical form that
//! parses back to the same manifest (canonicalization is a fixed point), and every rejection names a
//! path and says something.
#![no_main]

use cronix::core::manifest;
use libfuzzer_sys::fuzz_target;

fn zone_exists(name: &str) -> bool {
    matches!(name, "UTC" | "Europe/Paris" | "America/New_York" | "Asia/Kathmandu")
}

fuzz_target!(|data: &[u8]| {
    match manifest::parse(data, &zone_exists) {
        Ok(parsed) => {
            let canonical = manifest::canonical(&parsed);
            let again = manifest::parse(canonical.as_bytes(), &zone_exists)
                .unwrap_or_else(|issues| panic!("canonical form rejected: {issues:?}"));
            assert_eq!(again, parsed);
            assert_eq!(manifest::canonical(&again), canonical);
        }
        Err(issues) => {
            assert!(!issues.is_empty());
            for issue in issues {
                assert!(!issue.message.is_empty());
                assert!(issue.message.len() < 2048, "{} bytes", issue.message.len());
            }
        }
    }
});
