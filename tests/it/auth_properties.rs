//! Properties of signing: what is signed verifies, any change to what was signed does not, and the
//! header's segment order and unknown segments do not matter.

use cronix::core::secret::Secret;
use cronix::core::signature::{VerifyCode, sign, verify};
use proptest::prelude::*;

const WINDOW: i64 = 300;

/// Bodies: empty, small binary, or a full MiB (made from a seed so generation stays cheap).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => Just(Vec::new()),
        1 => any::<u64>().prop_map(mebibyte_from),
    ]
}

fn mebibyte_from(seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Request {
    secret: Vec<u8>,
    timestamp: i64,
    method: String,
    path: String,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::collection::vec(any::<u8>(), 1..80),
        0i64..4_000_000_000,
        "\\PC{0,12}",
        "/\\PC{0,80}",
        body(),
    )
        .prop_map(|(secret, timestamp, method, path, body)| Request {
            secret,
            timestamp,
            method,
            path,
            body,
        })
}

fn signed(r: &Request) -> (Secret, String) {
    let secret = Secret::new(r.secret.clone());
    let header = sign(&secret, r.timestamp, &r.method, &r.path, &r.body)
        .expose()
        .to_string();
    (secret, header)
}

fn verify_request(
    secret: Secret,
    header: &str,
    r: &Request,
    now: i64,
) -> Result<usize, VerifyCode> {
    verify(
        &[secret],
        Some(header),
        &r.method,
        &r.path,
        &r.body,
        now,
        WINDOW,
    )
    .map_err(|e| e.code)
}

/// Split a header into its `t=` and `v1=` segments.
fn segments(header: &str) -> (String, String) {
    let (t, v1) = header.split_once(',').unwrap();
    (t.to_string(), v1.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn what_is_signed_verifies(r in request(), drift in -WINDOW..=WINDOW) {
        let (secret, header) = signed(&r);
        prop_assert_eq!(verify_request(secret, &header, &r, r.timestamp + drift), Ok(0));
    }

    #[test]
    fn a_changed_timestamp_is_a_mismatch(r in request(), delta in prop_oneof![-WINDOW..0, 1..=WINDOW]) {
        let (secret, header) = signed(&r);
        let (_, v1) = segments(&header);
        let moved = r.timestamp + delta;
        prop_assume!(moved >= 0);
        let forged = format!("t={moved},{v1}");
        prop_assert_eq!(verify_request(secret, &forged, &r, moved), Err(VerifyCode::SignatureMismatch));
    }

    #[test]
    fn a_changed_method_is_a_mismatch(r in request(), other in "\\PC{0,12}") {
        prop_assume!(other.to_uppercase() != r.method.to_uppercase());
        let (secret, header) = signed(&r);
        let changed = Request { method: other, ..r.clone() };
        prop_assert_eq!(verify_request(secret, &header, &changed, r.timestamp), Err(VerifyCode::SignatureMismatch));
    }

    #[test]
    fn a_changed_path_is_a_mismatch(r in request(), other in "/\\PC{0,80}") {
        prop_assume!(other != r.path);
        let (secret, header) = signed(&r);
        let changed = Request { path: other, ..r.clone() };
        prop_assert_eq!(verify_request(secret, &header, &changed, r.timestamp), Err(VerifyCode::SignatureMismatch));
    }

    #[test]
    fn a_changed_body_is_a_mismatch(r in request(), at in any::<prop::sample::Index>(), bit in 0u8..8, append in any::<u8>()) {
        let (secret, header) = signed(&r);
        let mut body = r.body.clone();
        if body.is_empty() {
            body.push(append);
        } else {
            body[at.index(r.body.len())] ^= 1 << bit;
        }
        let changed = Request { body, ..r.clone() };
        prop_assert_eq!(verify_request(secret, &header, &changed, r.timestamp), Err(VerifyCode::SignatureMismatch));
    }

    #[test]
    fn another_secret_is_a_mismatch(r in request(), other in prop::collection::vec(any::<u8>(), 1..80)) {
        prop_assume!(other != r.secret);
        let (_, header) = signed(&r);
        prop_assert_eq!(verify_request(Secret::new(other), &header, &r, r.timestamp), Err(VerifyCode::SignatureMismatch));
    }

    #[test]
    fn reordered_segments_and_unknown_ones_still_verify(
        r in request(),
        unknown in prop::collection::vec(("[a-z0-9]{1,4}", "[^,]{0,20}"), 0..4),
        v1_first in any::<bool>(),
        at in any::<prop::sample::Index>(),
    ) {
        let (secret, header) = signed(&r);
        let (t, v1) = segments(&header);
        let mut parts: Vec<String> = if v1_first { vec![v1, t] } else { vec![t, v1] };
        for (key, value) in unknown.into_iter().filter(|(k, _)| k != "t" && k != "v1") {
            let position = at.index(parts.len() + 1);
            parts.insert(position, format!("{key}={value}"));
        }
        let rebuilt = parts.join(",");
        prop_assert_eq!(verify_request(secret, &rebuilt, &r, r.timestamp), Ok(0));
    }
}
