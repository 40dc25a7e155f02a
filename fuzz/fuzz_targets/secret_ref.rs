//! Fuzz the secret-reference parser: no input may panic, whatever is accepted matches the
//! reference pattern, a `raw:` literal never shows in `Display`/`Debug`, and the printed form of
//! any other reference parses back to the same reference.
#![no_main]

use cronix::core::secret::{MAX_REF_LEN, SecretRef};
use libfuzzer_sys::fuzz_target;

fn matches_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_REF_LEN
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'/' | b'-'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = SecretRef::parse(text) else {
        return;
    };
    assert!(
        matches_pattern(text),
        "accepted a reference outside the pattern"
    );
    match &reference {
        SecretRef::Raw(literal) => {
            assert!(!literal.is_empty());
            assert_eq!(reference.to_string(), "raw:[redacted]");
            // Longer than the whole redacted Debug text, so it can only show up by leaking.
            if literal.len() > r#"Raw("[redacted]")"#.len() {
                assert!(!format!("{reference:?}").contains(literal.as_str()));
            }
        }
        other => {
            let printed = other.to_string();
            assert_eq!(SecretRef::parse(&printed).as_ref(), Ok(other));
        }
    }
});
