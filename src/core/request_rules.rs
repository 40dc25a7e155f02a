//! The rules of a job's request that the manifest parser and the shim's re-check share: the URL
//! (scheme, host, no userinfo, no link-local or metadata address) and header names and values.
//!
//! One implementation, used by `core::manifest` when a manifest is parsed and by the shim (through
//! `core::manifest::check_job`) before it signs. Pure: values in, verdicts out.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::core::manifest::{MAX_HEADER_VALUE_BYTES, MAX_URL_BYTES};

/// Header names the shim sets itself; a manifest may not set them.
pub const RESERVED_HEADERS: [&str; 4] =
    ["host", "content-length", "transfer-encoding", "connection"];

/// Header names that carry credentials. A manifest is served by the app and copied into spec files and
/// plans, so credentials never belong in it: requests are authenticated by their signature.
pub const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// An HTTP token (RFC 9110 `tchar`), not a name the shim owns.
pub fn check_header_name(name: &str) -> Result<(), String> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 256 || !name.bytes().all(is_tchar) {
        return Err("not a valid HTTP header name; use letters, digits and -".into());
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("x-cron-") || RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err("is set by cronix itself and may not be given in a manifest; remove it".into());
    }
    if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
        return Err(
            "carries credentials, which must not be in a manifest (it is copied into spec files); \
                    remove it: cronix authenticates every request with X-Cron-Signature"
                .into(),
        );
    }
    Ok(())
}

/// A header value: at most 8 KiB, no control character (0x00–0x1F, 0x7F) except the horizontal tab,
/// which RFC 9110 allows inside a field value and which cannot split a request.
pub fn check_header_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_HEADER_VALUE_BYTES {
        return Err(format!(
            "{} bytes; at most {MAX_HEADER_VALUE_BYTES}",
            value.len()
        ));
    }
    if let Some(at) = value
        .bytes()
        .position(|b| b == b'\r' || b == b'\n' || b == 0)
    {
        return Err(format!(
            "contains CR, LF or NUL (byte {at}), which would split the request; remove them"
        ));
    }
    if let Some((at, b)) = value
        .bytes()
        .enumerate()
        .find(|&(_, b)| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(format!(
            "contains control character 0x{b:02X} at byte {at}; header values are printable text \
             (a tab is allowed), remove it"
        ));
    }
    Ok(())
}

/// An absolute `http://` or `https://` URL with a host and no userinfo, free of spaces and controls.
pub fn check_url(s: &str) -> Result<(), String> {
    if s.len() > MAX_URL_BYTES {
        return Err(format!("{} bytes; at most {MAX_URL_BYTES}", s.len()));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains whitespace or a control character; percent-encode it".into());
    }
    let url = url::Url::parse(s)
        .map_err(|e| format!("not a valid URL ({e}); write https://host/path"))?;
    let after_scheme = s.split_once("://").map(|(_, rest)| rest);
    if after_scheme.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
        return Err("has no host; write https://host/path".into());
    }
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "scheme \"{}\" is not supported; use https:// (or http:// for loopback)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host; write https://host/path".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "carries a user name or password; remove it and use the job's headers or secret refs"
                .into(),
        );
    }
    if is_link_local_host(&url) {
        return Err(format!(
            "host {} is a link-local or cloud metadata address or name (169.254.0.0/16, fe80::/10, \
             fd00:ec2::254, 100.100.100.200, 192.0.0.192, the same inside NAT64, 6to4, Teredo or \
             IPv4-mapped IPv6, and the names {}), which a signed request must never reach; use the \
             job's real host",
            url.host_str().unwrap_or_default(),
            METADATA_HOST_NAMES.join(", ")
        ));
    }
    Ok(())
}

/// The config's `http_proxy`: `http://host:port` (a path of `/` at most), no userinfo, query or
/// fragment. Credentials do not belong in the config; a proxy that needs them is not supported.
pub fn check_proxy_url(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains whitespace or a control character; write http://host:port".into());
    }
    let url =
        url::Url::parse(s).map_err(|e| format!("not a valid URL ({e}); write http://host:port"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "scheme \"{}\" is not supported; write http://host:port (https:// targets are \
             tunnelled through it with CONNECT)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host; write http://host:port".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "carries a user name or password, which the config must not hold; use a \
                    proxy that admits this host without credentials"
                .into(),
        );
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("has a path, query or fragment; write http://host:port".into());
    }
    Ok(())
}

/// Host names that reach a cloud's instance metadata service (matched whole, case-insensitively,
/// with or without a trailing dot). Names that merely resolve to a metadata address are not caught
/// here: cronix does not resolve names when it checks a URL.
pub const METADATA_HOST_NAMES: [&str; 5] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// IPv4 metadata endpoints outside 169.254.0.0/16: Alibaba Cloud and Oracle Cloud.
const METADATA_V4: [Ipv4Addr; 2] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// Whether a URL's host is a link-local or metadata address or a metadata name: 169.254.0.0/16,
/// fe80::/10, fd00:ec2::254, the IPv4 metadata endpoints, the IPv4 forms embedded in IPv6
/// (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48` with the address in the
/// last 32 bits, 6to4 `2002::/16`, Teredo `2001::/32`), and `METADATA_HOST_NAMES`.
pub fn is_link_local_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_metadata_v4(ip),
        Some(url::Host::Ipv6(ip)) => is_link_local_v6(ip),
        Some(url::Host::Domain(name)) => is_metadata_name(name),
        None => false,
    }
}

fn is_metadata_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    METADATA_HOST_NAMES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
}

fn is_metadata_v4(ip: Ipv4Addr) -> bool {
    ip.is_link_local() || METADATA_V4.contains(&ip)
}

/// The AWS IPv6 metadata endpoint.
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn is_link_local_v6(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
        || ip == EC2_METADATA_V6
        || embedded_v4(ip).into_iter().any(is_metadata_v4)
}

/// Every IPv4 address an IPv6 address can carry to an IPv4 host through a translator or tunnel.
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let mut out = Vec::new();
    if let Some(mapped) = ip.to_ipv4_mapped() {
        out.push(mapped);
    }
    // ::a.b.c.d (deprecated IPv4-compatible form), which some stacks still route to the IPv4 address.
    if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
        out.push(v4(s[6], s[7]));
    }
    // NAT64: the well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 6052, 8215).
    if (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]) || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) {
        out.push(v4(s[6], s[7]));
    }
    // 6to4: 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        out.push(v4(s[1], s[2]));
    }
    // Teredo: 2001:0::/32, server address in bits 32..64, client address inverted in the last 32.
    if s[0] == 0x2001 && s[1] == 0 {
        out.push(v4(s[2], s[3]));
        out.push(v4(!s[6], !s[7]));
    }
    out
}

/// Whether a URL's host is loopback by exact match: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_hosts_are_refused() {
        for bad in [
            "http://169.254.169.254/latest/meta-data",
            "https://169.254.1.1/x",
            "http://[fe80::1]/x",
            "http://[febf::1]/x",
            "http://[fd00:ec2::254]/x",
            "http://[::ffff:169.254.169.254]/x",
            "http://[::169.254.169.254]/x",
            "http://[64:ff9b::a9fe:a9fe]/x",
            "http://[64:ff9b::169.254.169.254]/x",
            "http://[64:ff9b:1::a9fe:a9fe]/x",
            "http://[2002:a9fe:a9fe::1]/x",
            "http://[2001:0:4136:e378:8000:63bf:5601:5601]/x",
            "http://100.100.100.200/latest/meta-data",
            "http://192.0.0.192/x",
            "http://2852039166/x",
            "http://0xa9.0xfe.0xa9.0xfe/x",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.Google.Internal./x",
            "http://metadata/x",
            "http://metadata.goog/x",
            "http://instance-data/latest",
            "http://instance-data.ec2.internal/latest",
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.contains("link-local or cloud metadata"), "{bad}: {err}");
        }
        for good in [
            "https://169.253.1.1/x",
            "https://[fec0::1]/x",
            "https://[fd00:ec2::253]/x",
            "https://metadata.example/x",
            "https://metadata.google.internal.example.com/x",
            "http://127.0.0.1/x",
            "https://[64:ff9b::808:808]/x",
            "https://[2002:0808:0808::1]/x",
            "https://[2001:db8::1]/x",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn header_values_refuse_control_characters_but_not_tab() {
        assert!(check_header_value("a\tb").is_ok());
        for bad in ["a\u{1}b", "a\u{1f}", "a\u{7f}", "a\rb", "a\u{0}"] {
            assert!(check_header_value(bad).is_err(), "{bad:?}");
        }
        assert!(
            check_header_value("x\u{1b}[31m")
                .unwrap_err()
                .contains("0x1B at byte 1")
        );
    }
}
