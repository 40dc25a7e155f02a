//! `concurrency_scope: global` as data: the Redis key names, the records stored under them, the
//! timings of claims and leases, the address forms `locks.redis.addr` accepts, and the decisions a
//! global-scope fire takes from Redis' answers.
//!
//! Pure: no connection, no clock (callers pass times), no randomness (callers pass the token). The
//! Redis client and the scripts that run these decisions atomically live in `shell::global_lock`.

use serde::{Deserialize, Serialize};

use crate::core::fire_time::LOOKBACK_MINUTES;
use crate::core::manifest::Concurrency;

/// Default `locks.redis.key_prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "cronix:";

/// How long a fire claim lives: twelve times the window in which a late start is still attributed
/// to an instant, so a claim outlives every fire that could name its instant.
pub const CLAIM_TTL_SECONDS: u64 = 12 * 60 * LOOKBACK_MINUTES as u64;

/// How long a lease lives without a refresh: a holder that dies loses it after at most this long.
pub const LEASE_TTL_MS: u64 = 10_000;

/// How often a holder refreshes its lease and looks for a replace request.
pub const REFRESH_EVERY_MS: u64 = 500;

/// How often a waiting `Replace` fire tries to take the lease.
pub const REPLACE_POLL_MS: u64 = 25;

/// Default connect and per-command timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;

/// The keys of one job under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobKeys {
    /// `<prefix>lock:<app>.<job>`: the lease of `Forbid` and `Replace` jobs.
    pub lease: String,
    /// `<prefix>replace:<app>.<job>`: a `Replace` fire's request that the holder stop.
    pub replace: String,
    /// `<prefix>last:<app>.<job>`: a hash describing the newest claimed instant.
    pub last: String,
    fire_prefix: String,
}

impl JobKeys {
    pub fn new(prefix: &str, app: &str, job: &str) -> JobKeys {
        JobKeys {
            lease: format!("{prefix}lock:{app}.{job}"),
            replace: format!("{prefix}replace:{app}.{job}"),
            last: format!("{prefix}last:{app}.{job}"),
            fire_prefix: format!("{prefix}fire:{app}.{job}:"),
        }
    }

    /// `<prefix>fire:<app>.<job>:<intended fire time, unix seconds>`: claimed once per instant.
    pub fn fire(&self, fire_time: i64) -> String {
        format!("{}{fire_time}", self.fire_prefix)
    }
}

/// What a global-scope fire does in Redis, by `policy.concurrency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseMode {
    /// `Allow`: claim the instant only.
    None,
    /// `Forbid`: claim, then take the lease or give up at once.
    Forbid,
    /// `Replace`: claim, then take the lease, asking the holder to stop and waiting for it.
    Replace,
}

pub fn lease_mode(concurrency: Concurrency) -> LeaseMode {
    match concurrency {
        Concurrency::Allow => LeaseMode::None,
        Concurrency::Forbid => LeaseMode::Forbid,
        Concurrency::Replace => LeaseMode::Replace,
    }
}

/// The value of a fire claim and of the `last` hash: who claimed which instant, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub host_id: String,
    pub run_id: String,
    /// The intended fire time, unix seconds.
    pub fire_time: i64,
    /// RFC 3339 UTC.
    pub claimed_at: String,
}

/// The value of a lease: the random token makes it this holder's alone; the rest is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub token: String,
    pub host_id: String,
    pub run_id: String,
    /// RFC 3339 UTC: when the holder took the lease.
    pub since: String,
}

impl LeaseRecord {
    /// The stored form. The whole value is compared by the refresh and release scripts, so it is
    /// written once and never re-serialized.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(value: &str) -> Option<LeaseRecord> {
        serde_json::from_str(value).ok()
    }
}

/// The value of a replace request: which holder (run id) should stop, and who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceRequest {
    pub target_run_id: String,
    pub by_run_id: String,
    pub by_host_id: String,
}

impl ReplaceRequest {
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a holder's refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The lease is still ours and its expiry was pushed back.
    Kept,
    /// The lease is no longer ours (it expired, or someone else holds it now).
    Lost,
    /// A `Replace` fire asks this holder to stop.
    Replaced(ReplaceRequest),
}

/// Decide from the refresh script's answer: whether the lease was still ours, and the replace
/// request it found, if any. A request aimed at another run (an earlier holder) is ignored.
pub fn refresh_verdict(kept: bool, request: Option<&str>, my_run_id: &str) -> Refresh {
    if !kept {
        return Refresh::Lost;
    }
    match request.and_then(|r| serde_json::from_str::<ReplaceRequest>(r).ok()) {
        Some(req) if req.target_run_id == my_run_id => Refresh::Replaced(req),
        _ => Refresh::Kept,
    }
}

/// Where Redis is: `host:port`, or a `redis://` / `rediss://` URL without credentials or a path
/// beyond `/<db>` (the db, user name and password have their own keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// A `/<db>` path in the URL.
    pub db: Option<i64>,
}

pub const DEFAULT_REDIS_PORT: u16 = 6379;

/// Parse `locks.redis.addr`.
pub fn parse_endpoint(addr: &str) -> Result<Endpoint, String> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err("addr is empty; write host:port or redis://host:port".into());
    }
    if addr.contains("://") {
        return parse_url_endpoint(addr);
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| {
        format!("addr {addr:?} has no port; write host:port (e.g. 127.0.0.1:6379)")
    })?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    check_host(host, addr)?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("addr {addr:?}: the port is not a number in 1..65535"))?;
    Ok(Endpoint {
        host: host.to_string(),
        port,
        tls: false,
        db: None,
    })
}

fn parse_url_endpoint(addr: &str) -> Result<Endpoint, String> {
    // Not echoed until it is known to hold no credentials.
    let url = url::Url::parse(addr)
        .map_err(|e| format!("addr is not a URL ({e}); write redis://host:port"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "addr: a URL with a user name or password is refused (it would put a credential in \
             the config); use locks.redis.username and locks.redis.password_ref"
                .into(),
        );
    }
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        other => {
            return Err(format!(
                "addr {addr:?}: scheme {other}:// is not supported; use redis:// or rediss://"
            ));
        }
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "addr {addr:?}: a query or fragment is not supported; use the db, username and \
             password_ref keys"
        ));
    }
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or_default();
    check_host(host, addr)?;
    let db = match url.path().trim_start_matches('/') {
        "" => None,
        db => Some(
            db.parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| format!("addr {addr:?}: the path must be /<db number> or empty"))?,
        ),
    };
    Ok(Endpoint {
        host: host.to_string(),
        port: url.port().unwrap_or(DEFAULT_REDIS_PORT),
        tls,
        db,
    })
}

fn check_host(host: &str, addr: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "addr {addr:?}: the host is not a host name or IP address"
        ))
    }
}

/// `host_id`: what names this host in logs, history, claims and leases.
pub fn check_host_id(id: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host_id {id:?} must be 1..64 letters, digits, '.', '_' or '-', starting with a letter \
             or digit"
        ))
    }
}

/// `key_prefix`: printable ASCII without spaces, at most 64 bytes (it starts every key).
pub fn check_key_prefix(prefix: &str) -> Result<(), String> {
    let ok = prefix.len() <= 64 && prefix.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key_prefix {prefix:?} must be at most 64 printable characters without spaces"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_job_and_the_instant_under_the_prefix() {
        let keys = JobKeys::new("cronix:", "billing", "settle");
        assert_eq!(
            keys.fire(1_780_000_000),
            "cronix:fire:billing.settle:1780000000"
        );
        assert_eq!(keys.lease, "cronix:lock:billing.settle");
        assert_eq!(keys.replace, "cronix:replace:billing.settle");
        assert_eq!(keys.last, "cronix:last:billing.settle");
    }

    #[test]
    fn a_claim_outlives_the_window_that_can_name_its_instant() {
        assert!(CLAIM_TTL_SECONDS >= 10 * 60 * LOOKBACK_MINUTES as u64);
        const { assert!(REFRESH_EVERY_MS * 5 <= LEASE_TTL_MS) };
    }

    #[test]
    fn every_policy_claims_and_only_forbid_and_replace_lease() {
        assert_eq!(lease_mode(Concurrency::Allow), LeaseMode::None);
        assert_eq!(lease_mode(Concurrency::Forbid), LeaseMode::Forbid);
        assert_eq!(lease_mode(Concurrency::Replace), LeaseMode::Replace);
    }

    #[test]
    fn a_replace_request_stops_only_the_run_it_names() {
        let req = ReplaceRequest {
            target_run_id: "r1".into(),
            by_run_id: "r2".into(),
            by_host_id: "web-2".into(),
        }
        .to_value();
        assert!(matches!(
            refresh_verdict(true, Some(&req), "r1"),
            Refresh::Replaced(r) if r.by_host_id == "web-2"
        ));
        assert_eq!(refresh_verdict(true, Some(&req), "r9"), Refresh::Kept);
        assert_eq!(refresh_verdict(true, Some("garbage"), "r1"), Refresh::Kept);
        assert_eq!(refresh_verdict(true, None, "r1"), Refresh::Kept);
        assert_eq!(refresh_verdict(false, Some(&req), "r1"), Refresh::Lost);
    }

    #[test]
    fn a_lease_value_round_trips() {
        let lease = LeaseRecord {
            token: "t".into(),
            host_id: "web-1".into(),
            run_id: "r".into(),
            since: "2026-03-01T02:00:00Z".into(),
        };
        assert_eq!(LeaseRecord::parse(&lease.to_value()), Some(lease));
        assert_eq!(LeaseRecord::parse("{"), None);
    }

    #[test]
    fn endpoints_are_host_port_or_redis_urls() {
        let plain = parse_endpoint("127.0.0.1:6380").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls),
            ("127.0.0.1", 6380, false)
        );
        let url = parse_endpoint("rediss://redis.internal/2").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls, url.db),
            ("redis.internal", 6379, true, Some(2))
        );
        let v6 = parse_endpoint("[::1]:6379").unwrap();
        assert_eq!(v6.host, "::1");
        assert!(
            parse_endpoint("redis.internal")
                .unwrap_err()
                .contains("no port")
        );
        assert!(
            parse_endpoint("redis://u:pw@h:1")
                .unwrap_err()
                .contains("password_ref")
        );
        assert!(
            parse_endpoint("http://h:1")
                .unwrap_err()
                .contains("redis://")
        );
        assert!(parse_endpoint("h:0").is_err());
        assert!(parse_endpoint("redis://h:1/x").is_err());
        assert!(parse_endpoint("h h:1").is_err());
    }

    #[test]
    fn host_ids_and_prefixes_are_checked() {
        assert!(check_host_id("web-1.eu").is_ok());
        assert!(check_host_id("").is_err());
        assert!(check_host_id("-x").is_err());
        assert!(check_host_id("a b").is_err());
        assert!(check_key_prefix("cronix:").is_ok());
        assert!(check_key_prefix("").is_ok());
        assert!(check_key_prefix("a b").is_err());
    }
}
