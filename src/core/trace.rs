//! W3C trace context for the shim's attempts: `traceparent: 00-<trace id>-<span id>-01`.
//!
//! Pure: the trace id is derived from the fire's run id (so every attempt of a fire shares one trace),
//! the span id from the run id and the attempt number (the root and lock spans of an exported trace
//! get ids derived the same way). Must never produce an all-zero id (invalid
//! under the W3C spec) and takes no randomness or clock.

use sha2::{Digest, Sha256};

/// The header name (W3C trace context).
pub const HEADER: &str = "traceparent";

/// 32 lowercase hex digits for the fire: the run id's 128 bits when it is a UUID, else (or if those are
/// all zero) the first 16 bytes of SHA-256 over it.
pub fn trace_id(run_id: &str) -> String {
    hex::encode(trace_id_bytes(run_id))
}

/// 16 lowercase hex digits for one attempt of the fire.
pub fn span_id(run_id: &str, attempt: u32) -> String {
    hex::encode(span_id_bytes(run_id, attempt))
}

/// The trace id's 16 bytes (what [`trace_id`] prints).
pub fn trace_id_bytes(run_id: &str) -> [u8; 16] {
    let bytes = match uuid::Uuid::parse_str(run_id) {
        Ok(id) if !id.is_nil() => *id.as_bytes(),
        _ => first_bytes::<16>(&digest(&[run_id.as_bytes()])),
    };
    non_zero(bytes)
}

/// The span id of attempt `attempt` (what [`span_id`] prints, and the exported attempt span's id).
pub fn span_id_bytes(run_id: &str, attempt: u32) -> [u8; 8] {
    non_zero(first_bytes::<8>(&digest(&[
        run_id.as_bytes(),
        b"/attempt/",
        &attempt.to_be_bytes(),
    ])))
}

/// The span id of the fire's root span (`cronix.trigger.fire`).
pub fn fire_span_id_bytes(run_id: &str) -> [u8; 8] {
    non_zero(first_bytes::<8>(&digest(&[run_id.as_bytes(), b"/fire"])))
}

/// The span id of the fire's global lock span (`cronix.trigger.lock`).
pub fn lock_span_id_bytes(run_id: &str) -> [u8; 8] {
    non_zero(first_bytes::<8>(&digest(&[run_id.as_bytes(), b"/lock"])))
}

/// The header value for attempt `attempt` of run `run_id` (version 00, sampled).
pub fn traceparent(run_id: &str, attempt: u32) -> String {
    format!("00-{}-{}-01", trace_id(run_id), span_id(run_id, attempt))
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn first_bytes<const N: usize>(digest: &[u8; 32]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&digest[..N]);
    out
}

/// An id with every bit zero is invalid; make its last byte 1 (a 2^-64 chance for a digest).
fn non_zero<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    if bytes.iter().all(|b| *b == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

/// Whether `value` is a well-formed version-00 traceparent with non-zero ids.
pub fn is_well_formed(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex_of = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    parts.len() == 4
        && parts[0] == "00"
        && hex_of(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex_of(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex_of(parts[3], 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0190f5e2-7c3a-7b21-9d4e-2f1a3b4c5d6e";

    #[test]
    fn the_trace_id_is_the_run_id_and_spans_differ_per_attempt() {
        assert_eq!(trace_id(RUN), "0190f5e27c3a7b219d4e2f1a3b4c5d6e");
        let one = traceparent(RUN, 1);
        let two = traceparent(RUN, 2);
        assert!(is_well_formed(&one), "{one}");
        assert!(is_well_formed(&two), "{two}");
        assert_eq!(one[..36], two[..36]);
        assert_ne!(one, two);
        assert_eq!(traceparent(RUN, 1), one, "deterministic");
    }

    #[test]
    fn ids_are_never_all_zero() {
        let nil = "00000000-0000-0000-0000-000000000000";
        assert!(is_well_formed(&traceparent(nil, 1)));
        assert!(is_well_formed(&traceparent("not-a-uuid", 0)));
        assert_eq!(non_zero([0u8; 8]), [0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn malformed_values_are_recognized() {
        for bad in [
            "",
            "00-0190f5e27c3a7b219d4e2f1a3b4c5d6e-0000000000000000-01",
            "00-00000000000000000000000000000000-1111111111111111-01",
            "01-0190f5e27c3a7b219d4e2f1a3b4c5d6e-1111111111111111-01",
            "00-0190F5E27C3A7B219D4E2F1A3B4C5D6E-1111111111111111-01",
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }
}
