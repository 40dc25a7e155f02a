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

// A claim outlives the window that can name its instant; a lease survives several missed refreshes.
const _: () = assert!(CLAIM_TTL_SECONDS >= 10 * 60 * LOOKBACK_MINUTES as u64);
const _: () = assert!(REFRESH_EVERY_MS * 5 <= LEASE_TTL_MS);

/// How often a waiting `Replace` fire tries to take the lease.
pub const REPLACE_POLL_MS: u64 = 25;

/// Default deadline of the connection and of each exchange with Redis.
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
    /// The instant the asking fire claimed (unix seconds): the holder checks that claim in Redis
    /// names the asking run before it stops. Absent (0) in a request that proves nothing.
    #[serde(default)]
    pub fire_time: i64,
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

/// What a lease holder knows about itself when a replace request comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderFacts {
    pub run_id: String,
    /// The instant this holder delivers (unix seconds).
    pub fire_time: i64,
    /// Whether the job is `Replace` (only those are ever stopped by a request).
    pub replace: bool,
}

/// The request found next to the lease, if it is one this holder must look at: it names this run
/// and the job is `Replace`. Anything else (garbage, another run, a `Forbid` or `Allow` job) is
/// ignored without a further read.
pub fn request_for_me(request: Option<&str>, me: &HolderFacts) -> Option<ReplaceRequest> {
    if !me.replace {
        return None;
    }
    request
        .and_then(|r| serde_json::from_str::<ReplaceRequest>(r).ok())
        .filter(|req| req.target_run_id == me.run_id)
}

/// Decide from the refresh: whether the lease was still ours, the request aimed at this holder (see
/// `request_for_me`), and the claim stored for the instant that request names. The holder stops only
/// when that claim is the asking run's own, of a later instant than the one it delivers: a request
/// from a run that claimed nothing (a forged one, or from any client of Redis that is not a fire of
/// this job) is ignored.
pub fn refresh_verdict(
    kept: bool,
    request: Option<ReplaceRequest>,
    requester_claim: Option<&str>,
    me: &HolderFacts,
) -> Refresh {
    if !kept {
        return Refresh::Lost;
    }
    let Some(req) = request else {
        return Refresh::Kept;
    };
    let proven = requester_claim
        .and_then(|c| serde_json::from_str::<Claim>(c).ok())
        .is_some_and(|c| {
            c.run_id == req.by_run_id && c.fire_time == req.fire_time && c.fire_time > me.fire_time
        });
    if proven {
        Refresh::Replaced(req)
    } else {
        Refresh::Kept
    }
}

/// How far before an instant a claim may be made and still be a fire's own (hosts' clocks differ):
/// a claim set earlier than this was planted ahead of the instant.
pub const CLAIM_EARLY_SECONDS: i64 = 60;

/// The error class a `duplicate` or `contended` fire records when what held it back looks planted
/// (a claim set before the instant, a lease older than the job's worst case). `check` counts those
/// instants as missed, so a silenced job raises an alert.
pub const SILENCED_CLASS: &str = "silenced";

/// Whether the claim that made this fire a `duplicate` looks planted: it has no expiry or a longer
/// one than cronix sets (`ttl_seconds`, Redis' `TTL`: -1 none, -2 gone), it was set more than
/// `CLAIM_EARLY_SECONDS` before the instant (reckoned from its remaining TTL, Redis' own clock), or
/// its value does not name this instant.
pub fn claim_is_suspect(ttl_seconds: i64, value: Option<&str>, fire_time: i64, now: i64) -> bool {
    let ttl = CLAIM_TTL_SECONDS as i64;
    if ttl_seconds == -2 {
        // Expired between the claim and this read: a real, old claim.
        return false;
    }
    if ttl_seconds < 0 || ttl_seconds > ttl {
        return true;
    }
    let set_at = now - (ttl - ttl_seconds);
    let names_instant = value
        .and_then(|v| serde_json::from_str::<Claim>(v).ok())
        .is_some_and(|c| c.fire_time == fire_time);
    set_at < fire_time - CLAIM_EARLY_SECONDS || !names_instant
}

/// Whether the lease that made this fire `contended` looks planted: no expiry or a longer one than
/// cronix sets (`pttl_ms`, Redis' `PTTL`), an unreadable record, or a holder that has held it longer
/// than the job's worst case (`since` RFC 3339; `now`, `worst_case_seconds` from the caller).
pub fn lease_is_stale(
    pttl_ms: i64,
    value: Option<&str>,
    now: jiff::Timestamp,
    worst_case_seconds: i64,
) -> bool {
    if pttl_ms == -2 {
        return false;
    }
    if pttl_ms < 0 || pttl_ms > LEASE_TTL_MS as i64 {
        return true;
    }
    let since = value
        .and_then(LeaseRecord::parse)
        .and_then(|l| l.since.parse::<jiff::Timestamp>().ok());
    match since {
        Some(since) => now.as_second() - since.as_second() > worst_case_seconds,
        None => true,
    }
}

/// Text read from Redis, made safe to print: control characters escaped, at most 128 characters.
pub fn printable(text: &str) -> String {
    crate::core::escape::inline_cut(text, 128)
}

/// Whether the password may go to this endpoint: over TLS, over a unix socket, or over plain TCP
/// only when every address the host resolves to is a loopback address. Checked before connecting.
pub fn password_route(endpoint: &Endpoint, resolved: &[std::net::IpAddr]) -> Result<(), String> {
    if endpoint.tls || matches!(endpoint.target, Target::Unix(_)) {
        return Ok(());
    }
    if !resolved.is_empty() && resolved.iter().all(std::net::IpAddr::is_loopback) {
        return Ok(());
    }
    Err(
        "refusing to send the Redis password in clear text to a non-loopback address; use TLS \
         (rediss:// or tls: true, with ca_file for a private CA), a unix:///path socket, or a \
         loopback address"
            .into(),
    )
}

/// Global scope needs an authenticated Redis: without a password any client of it can claim every
/// instant or plant a lease and silence the jobs. `allow_unauthenticated: true` is the explicit
/// opt-out.
pub fn auth_rule(has_password: bool, allow_unauthenticated: bool) -> Result<(), String> {
    if has_password || allow_unauthenticated {
        return Ok(());
    }
    Err(
        "locks.redis has no password_ref: any client of an unauthenticated Redis can silence every \
         global-scope job; set password_ref (and requirepass or an ACL user on the server), or set \
         allow_unauthenticated: true to accept that"
            .into(),
    )
}

/// Where Redis is: `host:port`, a `redis://` / `rediss://` URL without credentials or a path
/// beyond `/<db>` (the db, user name and password have their own keys), or `unix:///path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub target: Target,
    pub tls: bool,
    /// A `/<db>` path in the URL.
    pub db: Option<i64>,
}

/// A TCP host and port, or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Unix(std::path::PathBuf),
}

pub const DEFAULT_REDIS_PORT: u16 = 6379;

/// Parse `locks.redis.addr`.
pub fn parse_endpoint(addr: &str) -> Result<Endpoint, String> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err("addr is empty; write host:port or redis://host:port".into());
    }
    if let Some(path) = addr.strip_prefix("unix://") {
        return parse_unix_endpoint(path, addr);
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
        target: Target::Tcp {
            host: host.to_string(),
            port,
        },
        tls: false,
        db: None,
    })
}

fn parse_unix_endpoint(path: &str, addr: &str) -> Result<Endpoint, String> {
    let ok = path.starts_with('/')
        && path.len() < 108
        && !path.split('/').any(|part| part == "..")
        && path.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(format!(
            "addr {addr:?}: write unix:///absolute/path/to/redis.sock (printable, no `..`, under \
             108 bytes)"
        ));
    }
    Ok(Endpoint {
        target: Target::Unix(path.into()),
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
                "addr {addr:?}: scheme {other}:// is not supported; use redis://, rediss:// or \
                 unix://"
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
        target: Target::Tcp {
            host: host.to_string(),
            port: url.port().unwrap_or(DEFAULT_REDIS_PORT),
        },
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
    fn every_policy_claims_and_only_forbid_and_replace_lease() {
        assert_eq!(lease_mode(Concurrency::Allow), LeaseMode::None);
        assert_eq!(lease_mode(Concurrency::Forbid), LeaseMode::Forbid);
        assert_eq!(lease_mode(Concurrency::Replace), LeaseMode::Replace);
    }

    fn me(replace: bool) -> HolderFacts {
        HolderFacts {
            run_id: "r1".into(),
            fire_time: 100,
            replace,
        }
    }

    fn claim_of(run_id: &str, fire_time: i64) -> String {
        serde_json::to_string(&Claim {
            host_id: "web-2".into(),
            run_id: run_id.into(),
            fire_time,
            claimed_at: "x".into(),
        })
        .unwrap()
    }

    #[test]
    fn a_replace_request_stops_only_a_replace_holder_it_names_when_its_claim_proves_it() {
        let req = ReplaceRequest {
            target_run_id: "r1".into(),
            by_run_id: "r2".into(),
            by_host_id: "web-2".into(),
            fire_time: 160,
        }
        .to_value();
        let found = request_for_me(Some(&req), &me(true));
        assert!(found.is_some());
        assert!(matches!(
            refresh_verdict(true, found.clone(), Some(&claim_of("r2", 160)), &me(true)),
            Refresh::Replaced(r) if r.by_host_id == "web-2"
        ));
        // No claim, another run's claim, an older instant: a forged or stale request.
        assert_eq!(
            refresh_verdict(true, found.clone(), None, &me(true)),
            Refresh::Kept
        );
        assert_eq!(
            refresh_verdict(true, found.clone(), Some(&claim_of("r9", 160)), &me(true)),
            Refresh::Kept
        );
        let mut old = me(true);
        old.fire_time = 200;
        assert_eq!(
            refresh_verdict(true, found.clone(), Some(&claim_of("r2", 160)), &old),
            Refresh::Kept
        );
        // A Forbid holder never looks; another run's request, garbage: nothing.
        assert_eq!(request_for_me(Some(&req), &me(false)), None);
        let mut other = me(true);
        other.run_id = "r9".into();
        assert_eq!(request_for_me(Some(&req), &other), None);
        assert_eq!(request_for_me(Some("garbage"), &me(true)), None);
        assert_eq!(refresh_verdict(true, None, None, &me(true)), Refresh::Kept);
        assert_eq!(
            refresh_verdict(false, found, None, &me(true)),
            Refresh::Lost
        );
    }

    #[test]
    fn planted_claims_and_leases_are_told_from_real_ones() {
        let ttl = CLAIM_TTL_SECONDS as i64;
        let t = 1_000_000;
        let v = claim_of("r", t);
        // Claimed 3 s after the instant, read 5 s after it.
        assert!(!claim_is_suspect(ttl - 2, Some(&v), t, t + 5));
        // Claimed an hour before the instant; no expiry; longer expiry; another instant's value.
        assert!(claim_is_suspect(ttl - 3605, Some(&v), t, t + 5));
        assert!(claim_is_suspect(-1, Some(&v), t, t + 5));
        assert!(claim_is_suspect(ttl + 1, Some(&v), t, t + 5));
        assert!(claim_is_suspect(
            ttl - 2,
            Some(&claim_of("r", t + 60)),
            t,
            t + 5
        ));
        assert!(!claim_is_suspect(-2, None, t, t + 5));

        let now: jiff::Timestamp = "2026-03-01T02:10:00Z".parse().unwrap();
        let lease = |since: &str| {
            LeaseRecord {
                token: "t".into(),
                host_id: "h".into(),
                run_id: "r".into(),
                since: since.into(),
            }
            .to_value()
        };
        assert!(!lease_is_stale(
            9_000,
            Some(&lease("2026-03-01T02:09:00Z")),
            now,
            120
        ));
        assert!(lease_is_stale(
            9_000,
            Some(&lease("2026-03-01T02:00:00Z")),
            now,
            120
        ));
        assert!(lease_is_stale(
            -1,
            Some(&lease("2026-03-01T02:09:00Z")),
            now,
            120
        ));
        assert!(lease_is_stale(
            60_000,
            Some(&lease("2026-03-01T02:09:00Z")),
            now,
            120
        ));
        assert!(lease_is_stale(9_000, Some("planted"), now, 120));
    }

    #[test]
    fn the_password_goes_only_over_tls_a_unix_socket_or_to_loopback() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let plain = parse_endpoint("redis.internal:6379").unwrap();
        assert!(
            password_route(&plain, &[ip("10.0.0.5")])
                .unwrap_err()
                .contains("rediss://")
        );
        assert!(password_route(&plain, &[ip("127.0.0.1"), ip("10.0.0.5")]).is_err());
        assert!(password_route(&plain, &[]).is_err());
        assert!(password_route(&plain, &[ip("127.0.0.2"), ip("::1")]).is_ok());
        let tls = parse_endpoint("rediss://redis.internal:6380").unwrap();
        assert!(password_route(&tls, &[ip("10.0.0.5")]).is_ok());
        let unix = parse_endpoint("unix:///run/redis/redis.sock").unwrap();
        assert!(password_route(&unix, &[]).is_ok());
    }

    #[test]
    fn global_scope_needs_a_password_unless_opted_out() {
        assert!(
            auth_rule(false, false)
                .unwrap_err()
                .contains("allow_unauthenticated: true")
        );
        assert!(auth_rule(true, false).is_ok());
        assert!(auth_rule(false, true).is_ok());
    }

    #[test]
    fn text_from_redis_is_printed_escaped() {
        assert_eq!(printable("web-1\x1b[2Jx\n"), "web-1\\u001b[2Jx\\u000a");
        assert_eq!(printable("rtl\u{202e}x"), "rtl\\u202ex");
        assert_eq!(printable(&"a".repeat(300)).chars().count(), 129);
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
        let tcp = |host: &str, port| Target::Tcp {
            host: host.into(),
            port,
        };
        let plain = parse_endpoint("127.0.0.1:6380").unwrap();
        assert_eq!((plain.target, plain.tls), (tcp("127.0.0.1", 6380), false));
        let url = parse_endpoint("rediss://redis.internal/2").unwrap();
        assert_eq!(
            (url.target, url.tls, url.db),
            (tcp("redis.internal", 6379), true, Some(2))
        );
        let v6 = parse_endpoint("[::1]:6379").unwrap();
        assert_eq!(v6.target, tcp("::1", 6379));
        let unix = parse_endpoint("unix:///run/redis/redis.sock").unwrap();
        assert_eq!(unix.target, Target::Unix("/run/redis/redis.sock".into()));
        assert!(parse_endpoint("unix://relative.sock").is_err());
        assert!(parse_endpoint("unix:///run/../x.sock").is_err());
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
