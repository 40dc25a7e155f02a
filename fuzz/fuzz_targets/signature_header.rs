//! Fuzz the `X-Cron-Signature` parser and verifier: no input may panic, a parsed timestamp is never
//! negative, and a header rebuilt from a parsed one by the signer always verifies.
#![no_main]

use cronix::core::secret::Secret;
use cronix::core::signature::{VerifyCode, parse_header, sign, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let secret = Secret::new(b"fuzz-secret".to_vec());
    match parse_header(header) {
        Ok(parsed) => {
            assert!(parsed.timestamp >= 0);
            let outcome = verify(
                std::slice::from_ref(&secret),
                Some(header),
                "POST",
                "/fuzz",
                data,
                parsed.timestamp,
                300,
            );
            if let Err(e) = &outcome {
                assert_eq!(e.code, VerifyCode::SignatureMismatch);
            }
            let resigned = sign(&secret, parsed.timestamp, "POST", "/fuzz", data);
            let back = verify(
                std::slice::from_ref(&secret),
                Some(resigned.expose()),
                "POST",
                "/fuzz",
                data,
                parsed.timestamp,
                300,
            );
            assert_eq!(back, Ok(0));
        }
        Err(e) => assert_eq!(e.code, VerifyCode::MalformedHeader),
    }
});
