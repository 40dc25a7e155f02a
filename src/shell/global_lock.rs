//! The Redis side of `concurrency_scope: global`: one connection, the claim of an intended
//! instant, the lease with its refresher thread, the replace request, the status read by
//! `global-status` and `show`, and the connection check for `doctor`.
//!
//! Runs the decisions of `core::global_lock` atomically in Lua scripts, over cronix's own RESP2
//! client (`shell::resp`): every exchange has one deadline (`timeout_ms`) and every reply a byte
//! cap, so a rogue listener on the Redis port can neither grow the shim nor keep a fire alive. The
//! password goes only over TLS, a unix socket or to a loopback address (refused before connecting
//! otherwise), and global scope refuses a Redis without a password unless the config opts out.
//! Only global-scope fires and the status commands come here: a host-scope fire never connects.
//! Must never put the Redis password into a log line, an error or a record; text read from Redis
//! is escaped (`core::global_lock::printable`) before anyone prints it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use crate::core::global_lock::{
    self as core_lock, Claim, Endpoint, HolderFacts, JobKeys, LeaseRecord, Refresh, ReplaceRequest,
    Target, printable,
};
use crate::shell::config::RedisLock;
use crate::shell::resp::{self, Value, cmd};
use crate::shell::{http, secrets, tls_roots};

/// Claim an instant once: set the claim if it is new (and then the job's `last` hash, if the instant
/// is newer than the one it holds); otherwise return the existing claim and its remaining TTL.
const CLAIM_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local cur = tonumber(redis.call('HGET', KEYS[2], 'fire_time') or '-1')
  if tonumber(ARGV[3]) > cur then
    redis.call('HSET', KEYS[2], 'fire_time', ARGV[3], 'host_id', ARGV[4], 'run_id', ARGV[5],
               'claimed_at', ARGV[6])
  end
  return {1}
end
return {0, redis.call('GET', KEYS[1]), redis.call('TTL', KEYS[1])}
";

/// Push back the lease's expiry if it is still ours, and return the replace request, if any.
const REFRESH_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local req = redis.call('GET', KEYS[2])
  if req then return {1, req} end
  return {1}
end
return {0}
";

/// Delete the lease only if it is still ours.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The lease's value and its remaining time (`PTTL`).
const HOLDER_SCRIPT: &str = r"
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
";

/// Why the global lock could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// The config cannot work (the password reference does not resolve, the password would go in
    /// clear text, Redis has no password and the config does not opt out, the CA file is not
    /// trusted): exit 3 whatever `on_unavailable` says.
    Config(String),
    /// Redis did not answer in time, refused the login, failed a command or answered out of bounds.
    Unavailable(String),
}

impl LockError {
    pub fn message(&self) -> &str {
        match self {
            LockError::Config(m) | LockError::Unavailable(m) => m,
        }
    }
}

/// A connection to the configured Redis.
#[derive(Clone)]
pub struct Redis {
    /// `None` after an exchange failed (its reply may be half read): the next exchange connects
    /// anew, so a late reply is never taken for the answer to a later command.
    conn: Arc<Mutex<Option<resp::Conn>>>,
    /// What a new connection needs (the password is resolved again then, never kept).
    settings: Arc<(RedisLock, Option<PathBuf>)>,
    prefix: String,
    addr: String,
    timeout: Duration,
}

/// Connect and log in, all before one deadline (`timeout_ms`).
pub fn connect(config: &RedisLock, env_file: Option<&Path>) -> Result<Redis, LockError> {
    let conn = open(config, env_file)?;
    Ok(Redis {
        conn: Arc::new(Mutex::new(Some(conn))),
        settings: Arc::new((config.clone(), env_file.map(Path::to_path_buf))),
        prefix: config.key_prefix.clone(),
        addr: config.addr.clone(),
        timeout: Duration::from_millis(config.timeout_ms),
    })
}

fn open(config: &RedisLock, env_file: Option<&Path>) -> Result<resp::Conn, LockError> {
    let where_ = format!("locks.redis ({})", config.addr);
    let config_error = |m: String| LockError::Config(format!("{where_}: {m}"));
    let endpoint = core_lock::parse_endpoint(&config.addr).map_err(config_error)?;
    core_lock::auth_rule(config.password_ref.is_some(), config.allow_unauthenticated)
        .map_err(config_error)?;
    let tls = config.tls || endpoint.tls;
    let endpoint = Endpoint { tls, ..endpoint };
    let timeout = Duration::from_millis(config.timeout_ms);
    // One deadline from here on: the name look-up, the connect and the login all fit in it.
    let deadline = Instant::now() + timeout;
    let addrs = resolve(&endpoint, deadline)
        .map_err(|m| LockError::Unavailable(format!("{where_}: {m}")))?;
    let password = resolve_password(config, env_file)?;
    if password.is_some() {
        let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
        core_lock::password_route(&endpoint, &ips).map_err(config_error)?;
    }
    let tls_settings = match (&endpoint.target, tls) {
        (Target::Tcp { host, .. }, true) => Some(tls_settings(host, config).map_err(config_error)?),
        _ => None,
    };
    let target = match &endpoint.target {
        Target::Tcp { .. } => resp::Target::Tcp(&addrs),
        Target::Unix(path) => resp::Target::Unix(path),
    };
    let unavailable = |what: &str, e: std::io::Error| {
        LockError::Unavailable(format!("{where_}: {what} ({})", printable(&e.to_string())))
    };
    let mut conn = resp::connect(&target, tls_settings.as_ref(), deadline)
        .map_err(|e| unavailable("cannot connect", e))?;
    let mut hello = Vec::new();
    if let Some(password) = &password {
        let mut auth = vec![b"AUTH".to_vec()];
        if let Some(user) = &config.username {
            auth.push(user.as_bytes().to_vec());
        }
        auth.push(password.as_bytes().to_vec());
        hello.push(auth);
    }
    let db = config.db.or(endpoint.db).unwrap_or(0);
    if db != 0 {
        hello.push(cmd(&[&"SELECT", &db]));
    }
    let replies = conn.exchange(&hello, deadline);
    for command in &mut hello {
        for arg in command.iter_mut() {
            arg.zeroize();
        }
    }
    let replies = replies.map_err(|e| unavailable("cannot log in", e))?;
    for (reply, what) in replies.iter().zip(
        ["log in", "select the db"]
            .iter()
            .skip(usize::from(password.is_none())),
    ) {
        if let Value::Error(e) = reply {
            return Err(LockError::Unavailable(format!(
                "{where_}: cannot {what} ({})",
                printable(e)
            )));
        }
    }
    Ok(conn)
}

/// The addresses of a TCP endpoint (none for a unix socket), looked up before `deadline`.
///
/// The system resolver (`getaddrinfo`) has no deadline of its own (a dead DNS server costs its
/// timeout times its attempts, per name server), so the look-up runs on a helper thread and the
/// fire waits for it only until the deadline; a look-up still running then is left to finish in
/// the background (it ends with the process at the latest) and the fire goes on as Redis
/// unavailable.
fn resolve(endpoint: &Endpoint, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    let Target::Tcp { host, port } = &endpoint.target else {
        return Ok(Vec::new());
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, *port)]);
    }
    let too_slow = || {
        format!(
            "cannot resolve {host} within locks.redis.timeout_ms; a faster resolver, an IP \
             address in addr or a larger timeout_ms would do"
        )
    };
    if Instant::now() >= deadline {
        return Err(too_slow());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (name, number) = (host.clone(), *port);
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let found = (name.as_str(), number)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<SocketAddr>>);
            // The fire may have stopped waiting: nobody to tell.
            let _ = tx.send(found);
        })
        .map_err(|e| format!("cannot resolve {host} (no thread for the look-up: {e})"))?;
    let left = deadline.saturating_duration_since(Instant::now());
    let addrs = match rx.recv_timeout(left) {
        Ok(found) => found.map_err(|e| format!("cannot resolve {host} ({e})"))?,
        Err(_) => return Err(too_slow()),
    };
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    Ok(addrs)
}

/// The rustls client settings: ring, the server name verified against `ca_file`, or else the
/// system bundle at its fixed paths (`shell::tls_roots`, never a path from the environment:
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` do not change whom cronix trusts with the password).
fn tls_settings(host: &str, config: &RedisLock) -> Result<resp::Tls, String> {
    http::install_crypto_provider();
    let server_name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host} is not a name TLS can verify"))?;
    let roots = tls_roots::roots_named(config.ca_file.as_deref(), "locks.redis.ca_file")?;
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(resp::Tls {
        config: Arc::new(client),
        server_name,
    })
}

fn resolve_password(
    config: &RedisLock,
    env_file: Option<&Path>,
) -> Result<Option<Zeroizing<String>>, LockError> {
    let Some(reference) = &config.password_ref else {
        return Ok(None);
    };
    let config_error = |m: String| LockError::Config(format!("locks.redis.password_ref: {m}"));
    let resolved =
        secrets::resolve(std::slice::from_ref(reference), env_file).map_err(config_error)?;
    let secret = resolved.secrets.first().ok_or_else(|| {
        config_error(format!(
            "{reference} resolved to nothing; set it (the config's env_file for env: references)"
        ))
    })?;
    let text = std::str::from_utf8(secret.expose())
        .map_err(|_| config_error(format!("{reference} is not UTF-8 text")))?;
    Ok(Some(Zeroizing::new(text.to_string())))
}

/// The outcome of claiming an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This fire delivers the instant.
    Mine,
    /// Another fire (on this or another host) claimed it first; its claim, when readable, and
    /// whether the claim looks planted (`core::global_lock::claim_is_suspect`).
    Duplicate { by: Option<Claim>, suspect: bool },
}

/// The status of one job in Redis (for `global-status` and `show`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobGlobalStatus {
    /// The current lease holder.
    pub holder: Option<Holder>,
    /// The newest claimed instant.
    pub last_claim: Option<Claim>,
}

/// A lease holder as people read it (every field escaped: it comes from Redis).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub host_id: String,
    pub run_id: String,
    pub since: String,
}

/// The lease as a contended fire found it: its value and remaining time (`PTTL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSeen {
    pub record: Option<LeaseRecord>,
    pub value: Option<String>,
    pub pttl_ms: i64,
}

fn escaped_claim(claim: Claim) -> Claim {
    Claim {
        host_id: printable(&claim.host_id),
        run_id: printable(&claim.run_id),
        fire_time: claim.fire_time,
        claimed_at: printable(&claim.claimed_at),
    }
}

fn escaped_record(record: LeaseRecord) -> LeaseRecord {
    LeaseRecord {
        token: String::new(),
        host_id: printable(&record.host_id),
        run_id: printable(&record.run_id),
        since: printable(&record.since),
    }
}

fn eval(script: &str, keys: &[&str], args: &[&dyn resp::Arg]) -> Vec<Vec<u8>> {
    let mut command = cmd(&[&"EVAL", &script, &keys.len()]);
    command.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
    command.extend(args.iter().map(|a| a.bytes()));
    command
}

impl Redis {
    fn keys(&self, app: &str, job: &str) -> JobKeys {
        JobKeys::new(&self.prefix, app, job)
    }

    /// One exchange: `commands` pipelined, their replies read, all before one deadline. An error
    /// reply fails the exchange.
    fn run(&self, what: &str, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, LockError> {
        let fail = |why: String| {
            LockError::Unavailable(format!("redis {}: {what} failed ({why})", self.addr))
        };
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match slot.take() {
            Some(conn) => conn,
            None => open(&self.settings.0, self.settings.1.as_deref())?,
        };
        let conn = slot.insert(conn);
        let deadline = Instant::now() + self.timeout;
        let replies = match conn.exchange(commands, deadline) {
            Ok(replies) => replies,
            Err(e) => {
                slot.take();
                return Err(fail(printable(&e.to_string())));
            }
        };
        if let Some(Value::Error(e)) = replies.iter().find(|v| matches!(v, Value::Error(_))) {
            return Err(fail(printable(e)));
        }
        Ok(replies)
    }

    fn run_one(&self, what: &str, command: Vec<Vec<u8>>) -> Result<Value, LockError> {
        let mut replies = self.run(what, &[command])?;
        Ok(replies.pop().unwrap_or(Value::Nil))
    }

    /// Claim `claim.fire_time` of `app.job` for this fire (`SET NX` with the claim's expiry).
    pub fn claim(&self, app: &str, job: &str, claim: &Claim) -> Result<Claimed, LockError> {
        let keys = self.keys(app, job);
        let value = serde_json::to_string(claim).unwrap_or_default();
        let fire_key = keys.fire(claim.fire_time);
        let reply = self.run_one(
            "claiming the instant",
            eval(
                CLAIM_SCRIPT,
                &[&fire_key, &keys.last],
                &[
                    &value,
                    &core_lock::CLAIM_TTL_SECONDS,
                    &claim.fire_time,
                    &claim.host_id,
                    &claim.run_id,
                    &claim.claimed_at,
                ],
            ),
        )?;
        let items = match reply {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        if items.first().and_then(Value::int) == Some(1) {
            return Ok(Claimed::Mine);
        }
        let text = items.get(1).and_then(Value::text);
        let ttl = items.get(2).and_then(Value::int).unwrap_or(-1);
        // The real clock, as Redis' TTL runs on real time (in a release build the fire time comes
        // from the same clock).
        let now = jiff::Timestamp::now().as_second();
        let suspect = core_lock::claim_is_suspect(ttl, text.as_deref(), claim.fire_time, now);
        let by = text
            .and_then(|t| serde_json::from_str::<Claim>(&t).ok())
            .map(escaped_claim);
        Ok(Claimed::Duplicate { by, suspect })
    }

    /// `SET NX PX`: take the job's lease if nobody holds it.
    pub fn try_lease(
        &self,
        app: &str,
        job: &str,
        record: &LeaseRecord,
        me: &HolderFacts,
    ) -> Result<Option<Lease>, LockError> {
        let keys = self.keys(app, job);
        let value = record.to_value();
        let reply = self.run_one(
            "taking the lease",
            cmd(&[
                &"SET",
                &keys.lease,
                &value,
                &"NX",
                &"PX",
                &core_lock::LEASE_TTL_MS,
            ]),
        )?;
        Ok(match reply {
            Value::Simple(ok) if ok == "OK" => {
                Some(Lease::new(self.clone(), keys, value, me.clone()))
            }
            _ => None,
        })
    }

    /// The lease of `app.job` as it is now: its record (escaped), raw value and remaining time.
    pub fn lease_seen(&self, app: &str, job: &str) -> Result<LeaseSeen, LockError> {
        let keys = self.keys(app, job);
        let reply = self.run_one(
            "reading the lease",
            eval(HOLDER_SCRIPT, &[&keys.lease], &[]),
        )?;
        let items = match reply {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let value = items.first().and_then(Value::text);
        Ok(LeaseSeen {
            record: value
                .as_deref()
                .and_then(LeaseRecord::parse)
                .map(escaped_record),
            value,
            pttl_ms: items.get(1).and_then(Value::int).unwrap_or(-2),
        })
    }

    /// The current holder of the lease, if any and readable (its token kept: it tells holders
    /// apart).
    fn holder(&self, app: &str, job: &str) -> Result<Option<LeaseRecord>, LockError> {
        let keys = self.keys(app, job);
        let reply = self.run_one("reading the lease", cmd(&[&"GET", &keys.lease]))?;
        Ok(reply.text().as_deref().and_then(LeaseRecord::parse))
    }

    /// `Replace`: take the lease; while someone else holds it, ask that holder to stop (once per
    /// holder) and poll until `wait` has passed. `None`: the holder did not let go in time.
    pub fn lease_replacing(
        &self,
        app: &str,
        job: &str,
        record: &LeaseRecord,
        me: &HolderFacts,
        wait: Duration,
    ) -> Result<(Option<Lease>, Option<LeaseRecord>), LockError> {
        let deadline = Instant::now() + wait;
        let mut asked: Option<LeaseRecord> = None;
        loop {
            if let Some(lease) = self.try_lease(app, job, record, me)? {
                return Ok((Some(lease), asked.map(escaped_record)));
            }
            let holder = self.holder(app, job)?;
            if let Some(holder) =
                holder.filter(|h| asked.as_ref().is_none_or(|a| a.token != h.token))
            {
                self.request_replace(app, job, &holder, record, me.fire_time, wait)?;
                asked = Some(holder);
            }
            if Instant::now() >= deadline {
                return Ok((None, asked.map(escaped_record)));
            }
            std::thread::sleep(Duration::from_millis(core_lock::REPLACE_POLL_MS));
        }
    }

    fn request_replace(
        &self,
        app: &str,
        job: &str,
        holder: &LeaseRecord,
        me: &LeaseRecord,
        fire_time: i64,
        wait: Duration,
    ) -> Result<(), LockError> {
        let keys = self.keys(app, job);
        let request = ReplaceRequest {
            target_run_id: holder.run_id.clone(),
            by_run_id: me.run_id.clone(),
            by_host_id: me.host_id.clone(),
            fire_time,
        }
        .to_value();
        let ttl_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run_one(
            "posting the replace request",
            cmd(&[&"SET", &keys.replace, &request, &"PX", &ttl_ms]),
        )
        .map(|_| ())
    }

    /// The lease holder and the newest claimed instant of `app.job`.
    pub fn status(&self, app: &str, job: &str) -> Result<JobGlobalStatus, LockError> {
        let keys = self.keys(app, job);
        let replies = self.run(
            "reading the status",
            &[cmd(&[&"GET", &keys.lease]), cmd(&[&"HGETALL", &keys.last])],
        )?;
        let holder = replies
            .first()
            .and_then(Value::text)
            .as_deref()
            .and_then(LeaseRecord::parse)
            .map(escaped_record)
            .map(|l| Holder {
                host_id: l.host_id,
                run_id: l.run_id,
                since: l.since,
            });
        let mut last = std::collections::BTreeMap::new();
        if let Some(Value::Array(items)) = replies.get(1) {
            for pair in items.chunks(2) {
                if let [k, v] = pair
                    && let (Some(k), Some(v)) = (k.text(), v.text())
                {
                    last.insert(k, v);
                }
            }
        }
        let last_claim = match (
            last.get("fire_time"),
            last.get("host_id"),
            last.get("run_id"),
        ) {
            (Some(t), Some(h), Some(r)) => t.parse().ok().map(|fire_time| {
                escaped_claim(Claim {
                    host_id: h.clone(),
                    run_id: r.clone(),
                    fire_time,
                    claimed_at: last.get("claimed_at").cloned().unwrap_or_default(),
                })
            }),
            _ => None,
        };
        Ok(JobGlobalStatus { holder, last_claim })
    }

    /// `PING`, for `doctor`: the server's answer (escaped).
    pub fn ping(&self) -> Result<String, LockError> {
        let reply = self.run_one("PING", cmd(&[&"PING"]))?;
        Ok(printable(&reply.text().unwrap_or_default()))
    }
}

/// `doctor`'s Redis check: connect, log in and `PING` with the config's settings. `Ok` says where.
pub fn check(config: &RedisLock, env_file: Option<&Path>) -> Result<String, String> {
    let redis = connect(config, env_file).map_err(|e| e.message().to_string())?;
    let answer = redis.ping().map_err(|e| e.message().to_string())?;
    let endpoint = core_lock::parse_endpoint(&config.addr).ok();
    let transport = match endpoint {
        Some(Endpoint {
            target: Target::Unix(_),
            ..
        }) => "unix socket",
        Some(e) if e.tls || config.tls => "TLS",
        _ => "plain TCP",
    };
    let auth = if config.password_ref.is_some() {
        "password"
    } else {
        "no password (allow_unauthenticated: true)"
    };
    Ok(format!(
        "redis {} answers {answer} over {transport}, {auth} (db {}, key prefix {:?})",
        config.addr,
        config.db.unwrap_or(0),
        config.key_prefix
    ))
}

/// A held lease. Clones share it; `release` (compare-and-delete) is done once, by whichever clone
/// gets there first (the fire's end, the SIGTERM handler, the panic hook or the refresher).
#[derive(Clone)]
pub struct Lease {
    inner: Arc<LeaseInner>,
}

struct LeaseInner {
    redis: Redis,
    keys: JobKeys,
    value: String,
    me: HolderFacts,
    released: AtomicBool,
    /// Set (and signalled) to stop the refresher.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// What the refresher reports to the fire.
pub enum RefreshEvent {
    /// A `Replace` fire that claimed a later instant asks this holder to stop.
    Replaced(ReplaceRequest),
    /// The lease is gone (expired while unrefreshed, or taken over): overlap is possible now.
    Lost,
    /// A refresh failed; the lease expires unless a later one succeeds.
    Failed(String),
}

impl Lease {
    fn new(redis: Redis, keys: JobKeys, value: String, me: HolderFacts) -> Lease {
        Lease {
            inner: Arc::new(LeaseInner {
                redis,
                keys,
                value,
                me,
                released: AtomicBool::new(false),
                stop: Mutex::new(false),
                wake: Condvar::new(),
            }),
        }
    }

    /// Refresh the lease every `REFRESH_EVERY_MS` on a thread of its own, calling `on_event` for
    /// what the fire must hear about. The thread ends on release, on `Replaced` and on `Lost`.
    pub fn start_refresher(&self, on_event: impl Fn(RefreshEvent) + Send + 'static) {
        let lease = self.clone();
        std::thread::spawn(move || lease.refresh_loop(&on_event));
    }

    fn refresh_loop(&self, on_event: &dyn Fn(RefreshEvent)) {
        let every = Duration::from_millis(core_lock::REFRESH_EVERY_MS);
        loop {
            if self.wait_stopped(every) {
                return;
            }
            match self.refresh() {
                Ok(Refresh::Kept) => {}
                Ok(Refresh::Replaced(request)) => return on_event(RefreshEvent::Replaced(request)),
                Ok(Refresh::Lost) => return on_event(RefreshEvent::Lost),
                Err(e) => on_event(RefreshEvent::Failed(e.message().to_string())),
            }
        }
    }

    /// Wait up to `every`; whether the lease was released meanwhile.
    fn wait_stopped(&self, every: Duration) -> bool {
        let stop = self.inner.stop.lock().unwrap_or_else(|p| p.into_inner());
        let (stop, _) = self
            .inner
            .wake
            .wait_timeout_while(stop, every, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *stop
    }

    /// Push back the expiry; a request aimed at this holder is honoured only when the job is
    /// `Replace` and the claim of the instant it names is the asking run's (one more read).
    fn refresh(&self) -> Result<Refresh, LockError> {
        let inner = &self.inner;
        let reply = inner.redis.run_one(
            "refreshing the lease",
            eval(
                REFRESH_SCRIPT,
                &[&inner.keys.lease, &inner.keys.replace],
                &[&inner.value, &core_lock::LEASE_TTL_MS],
            ),
        )?;
        let items = match reply {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let kept = items.first().and_then(Value::int) == Some(1);
        let text = items.get(1).and_then(Value::text);
        let request = core_lock::request_for_me(text.as_deref(), &inner.me);
        let claim = match (&request, kept) {
            (Some(req), true) => inner
                .redis
                .run_one(
                    "reading the asking fire's claim",
                    cmd(&[&"GET", &inner.keys.fire(req.fire_time)]),
                )?
                .text(),
            _ => None,
        };
        Ok(core_lock::refresh_verdict(
            kept,
            request,
            claim.as_deref(),
            &inner.me,
        ))
    }

    /// Stop the refresher and delete the lease if it is still ours (once; later calls do nothing).
    pub fn release(&self) -> Result<(), String> {
        let inner = &self.inner;
        {
            let mut stop = inner.stop.lock().unwrap_or_else(|p| p.into_inner());
            *stop = true;
            inner.wake.notify_all();
        }
        if inner.released.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        inner
            .redis
            .run_one(
                "releasing the lease",
                eval(RELEASE_SCRIPT, &[&inner.keys.lease], &[&inner.value]),
            )
            .map(|_| ())
            .map_err(|e| e.message().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn a_host_name_is_looked_up_on_a_helper_thread_before_the_deadline() {
        let endpoint = core_lock::parse_endpoint("redis://localhost:6379").unwrap();
        let addrs = resolve(&endpoint, Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 6379),
            "{addrs:?}"
        );
        // A deadline already passed: no answer is waited for.
        let started = Instant::now();
        let err = resolve(&endpoint, started).unwrap_err();
        assert!(err.contains("within locks.redis.timeout_ms"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(100));
        // An IP address needs no look-up.
        let ip = core_lock::parse_endpoint("redis://127.0.0.1:6379").unwrap();
        assert_eq!(resolve(&ip, started).unwrap().len(), 1);
    }

    /// A listener whose first connection answers `+LATE` after 300 ms and whose later ones answer
    /// `+PONG` at once.
    fn late_then_prompt() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut s) = stream else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(got) = s.read(&mut buf) {
                        if got == 0 {
                            return;
                        }
                        if n == 0 {
                            std::thread::sleep(Duration::from_millis(300));
                            let _ = s.write_all(b"+LATE\r\n");
                        } else {
                            let _ = s.write_all(b"+PONG\r\n");
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn after_a_failed_exchange_a_late_reply_is_never_taken_for_the_next_answer() {
        let addr = late_then_prompt();
        let config = crate::shell::config::parse(&format!(
            "locks:\n  redis:\n    addr: {addr}\n    timeout_ms: 100\n    allow_unauthenticated: true\n"
        ))
        .unwrap();
        let redis = connect(&config.locks.redis.unwrap(), None).unwrap();
        let err = redis.ping().unwrap_err();
        assert!(err.message().contains("deadline"), "{err:?}");
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(redis.ping().unwrap(), "PONG");
    }
}
