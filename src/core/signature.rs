//! Request signing and verification (cronix protocol v1): payload `<ts>.<METHOD>.<path>.<body>`,
//! header `t=<ts>,v1=<hex>`, HMAC-SHA256, constant-time comparison, rotation by secret index.
//!
//! Pure: the caller passes the time and the secret bytes. Must never put a secret or a signature
//! (given or computed) into an error, a `Debug` output or a log.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::core::secret::{REDACTED, Secret};

type HmacSha256 = Hmac<Sha256>;

/// The replay window a verifier uses when none is configured, in seconds.
pub const DEFAULT_MAX_SKEW: i64 = 300;
/// The smallest replay window accepted; smaller ones reject honest clock drift.
pub const MIN_MAX_SKEW: i64 = 30;
/// Hex digits of a `v1` signature (HMAC-SHA256).
const V1_HEX_LEN: usize = 64;

/// An `X-Cron-Signature` value. `Debug` is redacted; `expose()` gives the text for the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader(Zeroizing<String>);

impl SignatureHeader {
    /// The header value, to be put on the wire (and nowhere else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureHeader({REDACTED})")
    }
}

/// Sign a request: `t=<timestamp>,v1=<hex HMAC-SHA256 of the canonical payload>`.
pub fn sign(
    secret: &Secret,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> SignatureHeader {
    let mac = payload_mac(secret, timestamp, method, path_and_query, body);
    let mut tag = mac.finalize().into_bytes();
    let mut value = Zeroizing::new(String::with_capacity(24 + V1_HEX_LEN));
    value.push_str("t=");
    value.push_str(&timestamp.to_string());
    value.push_str(",v1=");
    push_lower_hex(&mut value, &tag);
    tag.as_mut_slice().zeroize();
    SignatureHeader(value)
}

/// Why a signature was refused; the codes are the protocol's error categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyCode {
    /// No signature header at all.
    MissingSignature,
    /// A header that is not `t=<digits>,v1=<64 hex>` (in any order, other segments ignored).
    MalformedHeader,
    /// The timestamp is further than the window from now.
    StaleTimestamp,
    /// No given secret produces the signature.
    SignatureMismatch,
}

impl VerifyCode {
    /// The code's protocol name, as printed in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::MissingSignature => "MissingSignature",
            VerifyCode::MalformedHeader => "MalformedHeader",
            VerifyCode::StaleTimestamp => "StaleTimestamp",
            VerifyCode::SignatureMismatch => "SignatureMismatch",
        }
    }
}

impl fmt::Display for VerifyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal with its code and a message that never contains a signature or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub code: VerifyCode,
    pub message: String,
}

impl VerifyError {
    fn new(code: VerifyCode, message: impl Into<String>) -> VerifyError {
        VerifyError {
            code,
            message: message.into(),
        }
    }
    fn malformed(message: impl Into<String>) -> VerifyError {
        Self::new(VerifyCode::MalformedHeader, message)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// A parsed signature header. `Debug` shows the timestamp only.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedHeader {
    pub timestamp: i64,
    tag: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ParsedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedHeader")
            .field("timestamp", &self.timestamp)
            .field("v1", &REDACTED)
            .finish()
    }
}

/// Parse `t=<digits>,v1=<64 hex>`: segments split on `,`, each `key=value`, in any order; unknown
/// keys are ignored; when a key repeats the last one counts (as in the reference implementation);
/// hex digits may be upper or lower case.
pub fn parse_header(header: &str) -> Result<ParsedHeader, VerifyError> {
    if header.is_empty() {
        return Err(VerifyError::malformed(
            "the signature header is empty; expected t=<unix seconds>,v1=<64 hex digits>",
        ));
    }
    let mut timestamp = None;
    let mut tag = None;
    for (index, segment) in header.split(',').enumerate() {
        let Some((key, value)) = segment.split_once('=') else {
            return Err(VerifyError::malformed(format!(
                "segment {} of the signature header has no \"=\"; expected t=<unix seconds>,v1=<64 hex digits>",
                index + 1
            )));
        };
        match key {
            "t" => timestamp = Some(parse_timestamp(value)?),
            "v1" => tag = Some(parse_v1(value)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| {
        VerifyError::malformed("the signature header has no t=<unix seconds> segment")
    })?;
    let tag = tag.ok_or_else(|| {
        VerifyError::malformed("the signature header has no v1=<64 hex digits> segment")
    })?;
    Ok(ParsedHeader { timestamp, tag })
}

fn parse_timestamp(value: &str) -> Result<i64, VerifyError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::malformed(
            "t in the signature header must be unix seconds (digits only)",
        ));
    }
    value.parse::<i64>().map_err(|_| {
        VerifyError::malformed("t in the signature header is too large to be unix seconds")
    })
}

fn parse_v1(value: &str) -> Result<Zeroizing<[u8; 32]>, VerifyError> {
    let mut tag = Zeroizing::new([0u8; 32]);
    if value.len() != V1_HEX_LEN || hex::decode_to_slice(value, &mut tag[..]).is_err() {
        return Err(VerifyError::malformed(format!(
            "v1 in the signature header must be {V1_HEX_LEN} hex digits"
        )));
    }
    Ok(tag)
}

/// Check a signature header against `secrets`; on success return the index of the secret that
/// matched (rotation: any listed secret is accepted). Order of checks: header present, well formed,
/// timestamp within `max_skew` seconds of `now`, then each non-empty secret in constant time.
pub fn verify(
    secrets: &[Secret],
    header: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
    max_skew: i64,
) -> Result<usize, VerifyError> {
    let Some(header) = header else {
        return Err(VerifyError::new(
            VerifyCode::MissingSignature,
            "the request has no X-Cron-Signature header",
        ));
    };
    let parsed = parse_header(header)?;
    check_freshness(parsed.timestamp, now, max_skew)?;
    matching_secret(secrets, &parsed, method, path_and_query, body).ok_or_else(|| {
        VerifyError::new(
            VerifyCode::SignatureMismatch,
            format!(
                "the signature matches none of the {} secret(s); check the secret, and that the \
                 method, path and query, and body are exactly as sent",
                secrets.len()
            ),
        )
    })
}

fn check_freshness(timestamp: i64, now: i64, max_skew: i64) -> Result<(), VerifyError> {
    let distance = (i128::from(now) - i128::from(timestamp)).abs();
    if distance > i128::from(max_skew) {
        let side = if timestamp < now {
            "behind"
        } else {
            "ahead of"
        };
        return Err(VerifyError::new(
            VerifyCode::StaleTimestamp,
            format!(
                "timestamp {timestamp} is {distance} s {side} now ({now}), outside the {max_skew} s \
                 window; check both clocks (NTP)"
            ),
        ));
    }
    Ok(())
}

fn matching_secret(
    secrets: &[Secret],
    parsed: &ParsedHeader,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Option<usize> {
    secrets.iter().position(|secret| {
        !secret.is_empty()
            && payload_mac(secret, parsed.timestamp, method, path_and_query, body)
                .verify_slice(&parsed.tag[..])
                .is_ok()
    })
}

/// Refuse a configured replay window below `MIN_MAX_SKEW` (an error, not a clamp).
pub fn check_skew_window(max_skew: i64) -> Result<(), String> {
    if max_skew < MIN_MAX_SKEW {
        return Err(format!(
            "a skew window of {max_skew} s is too small: use at least {MIN_MAX_SKEW} s \
             (the default is {DEFAULT_MAX_SKEW} s)"
        ));
    }
    Ok(())
}

/// The canonical payload, as bytes (for tests and documentation; signing streams it instead).
pub fn canonical_payload(
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = payload_prefix(timestamp, method, path_and_query).into_bytes();
    out.extend_from_slice(body);
    out
}

fn payload_prefix(timestamp: i64, method: &str, path_and_query: &str) -> String {
    format!("{timestamp}.{}.{path_and_query}.", method.to_uppercase())
}

/// The MAC over the canonical payload, fed in two parts so the body is never copied.
fn payload_mac(
    secret: &Secret,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> HmacSha256 {
    let mut mac = keyed_mac(secret);
    mac.update(payload_prefix(timestamp, method, path_and_query).as_bytes());
    mac.update(body);
    mac
}

fn keyed_mac(secret: &Secret) -> HmacSha256 {
    match <HmacSha256 as KeyInit>::new_from_slice(secret.expose()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

fn push_lower_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"whsec_test_primary_aaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn secret(bytes: &[u8]) -> Secret {
        Secret::new(bytes.to_vec())
    }

    #[test]
    fn the_payload_is_timestamp_method_path_body_joined_by_dots() {
        assert_eq!(
            canonical_payload(17, "post", "/a?b=c", b"\x00body"),
            b"17.POST./a?b=c.\x00body".to_vec()
        );
    }

    #[test]
    fn the_header_is_t_then_64_lowercase_hex() {
        let header = sign(
            &secret(KEY),
            1730000000,
            "POST",
            "/.well-known/cron-manifest",
            b"",
        );
        assert_eq!(
            header.expose(),
            "t=1730000000,v1=49a3792e3ba45f28e51bfb3f4934310272d48b39fdfe5c5dbaa8a3d4e4fb35ad"
        );
        assert_eq!(format!("{header:?}"), "SignatureHeader([redacted])");
    }

    #[test]
    fn a_signed_request_verifies_with_the_index_of_the_matching_secret() {
        let header = sign(&secret(b"new"), 100, "GET", "/x", b"b");
        let secrets = [secret(b"old"), secret(b"new")];
        assert_eq!(
            verify(&secrets, Some(header.expose()), "GET", "/x", b"b", 100, 300),
            Ok(1)
        );
    }

    #[test]
    fn empty_secrets_never_match() {
        let header = sign(&secret(b""), 100, "GET", "/x", b"");
        let err = verify(
            &[secret(b"")],
            Some(header.expose()),
            "GET",
            "/x",
            b"",
            100,
            300,
        )
        .unwrap_err();
        assert_eq!(err.code, VerifyCode::SignatureMismatch);
    }

    #[test]
    fn an_absent_header_is_missing_and_an_empty_one_malformed() {
        let s = [secret(KEY)];
        let code = |h| verify(&s, h, "GET", "/", b"", 0, 300).unwrap_err().code;
        assert_eq!(code(None), VerifyCode::MissingSignature);
        assert_eq!(code(Some("")), VerifyCode::MalformedHeader);
    }

    #[test]
    fn header_segments_in_any_order_with_unknown_ones_parse() {
        let hex = "ab".repeat(32);
        let parsed = parse_header(&format!("v0=zz,v1={hex},t=42,x=")).unwrap();
        assert_eq!(parsed.timestamp, 42);
        assert_eq!(&parsed.tag[..], &[0xab; 32][..]);
        assert!(parse_header(&format!("t=42,v1={}", "AB".repeat(32))).is_ok());
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        let hex = "ab".repeat(32);
        for t in ["", "-1", "+1", " 1", "1.5", "99999999999999999999"] {
            let err = parse_header(&format!("t={t},v1={hex}")).unwrap_err();
            assert_eq!(err.code, VerifyCode::MalformedHeader, "t={t}");
        }
    }

    #[test]
    fn errors_never_contain_the_given_signature() {
        let given = "c".repeat(63);
        let err = parse_header(&format!("t=1,v1={given}")).unwrap_err();
        assert!(!err.message.contains(&given), "{}", err.message);
        let err = parse_header(&format!("t1,v1={}", "c".repeat(64))).unwrap_err();
        assert!(!err.message.contains("ccc"), "{}", err.message);
    }

    #[test]
    fn the_window_is_inclusive_and_symmetric() {
        let s = [secret(KEY)];
        let header = sign(&s[0], 1000, "GET", "/", b"");
        let at = |now| verify(&s, Some(header.expose()), "GET", "/", b"", now, 30);
        assert_eq!(at(1030), Ok(0));
        assert_eq!(at(970), Ok(0));
        assert_eq!(at(1031).unwrap_err().code, VerifyCode::StaleTimestamp);
        assert_eq!(at(969).unwrap_err().code, VerifyCode::StaleTimestamp);
        assert_eq!(at(i64::MIN).unwrap_err().code, VerifyCode::StaleTimestamp);
    }

    #[test]
    fn a_skew_window_below_thirty_seconds_is_refused() {
        assert!(check_skew_window(29).unwrap_err().contains("at least 30"));
        assert!(check_skew_window(-1).is_err());
        assert!(check_skew_window(30).is_ok());
        assert!(check_skew_window(DEFAULT_MAX_SKEW).is_ok());
    }
}
