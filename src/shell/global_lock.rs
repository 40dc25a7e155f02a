//! The Redis side of `concurrency_scope: global`: one connection with short timeouts, the claim of
//! an intended instant, the lease with its refresher thread, the replace request, the status read
//! by `global-status` and `show`, and the connection check for `doctor`.
//!
//! Runs the decisions of `core::global_lock` atomically in Lua scripts. Only global-scope fires and
//! the status commands come here: a host-scope fire never loads this code's connection. Must never
//! put the Redis password into a log line, an error or a record.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, Value};
use zeroize::Zeroizing;

use crate::core::global_lock::{
    self as core_lock, Claim, JobKeys, LeaseRecord, Refresh, ReplaceRequest,
};
use crate::shell::config::RedisLock;
use crate::shell::{http, secrets};

/// Claim an instant once: set the claim if it is new (and then the job's `last` hash, if the instant
/// is newer than the one it holds); otherwise return the existing claim.
const CLAIM_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local cur = tonumber(redis.call('HGET', KEYS[2], 'fire_time') or '-1')
  if tonumber(ARGV[3]) > cur then
    redis.call('HSET', KEYS[2], 'fire_time', ARGV[3], 'host_id', ARGV[4], 'run_id', ARGV[5],
               'claimed_at', ARGV[6])
  end
  return {1}
end
return {0, redis.call('GET', KEYS[1])}
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

/// Why the global lock could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// The config cannot work (the password reference does not resolve): exit 3 whatever
    /// `on_unavailable` says.
    Config(String),
    /// Redis did not answer, refused the login, or failed a command.
    Unavailable(String),
}

impl LockError {
    pub fn message(&self) -> &str {
        match self {
            LockError::Config(m) | LockError::Unavailable(m) => m,
        }
    }
}

/// A connection to the configured Redis, with connect and command timeouts set.
#[derive(Clone)]
pub struct Redis {
    conn: Arc<Mutex<redis::Connection>>,
    prefix: String,
    addr: String,
}

/// Connect and log in. Every step is bounded by `timeout_ms`.
pub fn connect(config: &RedisLock, env_file: Option<&Path>) -> Result<Redis, LockError> {
    let endpoint = core_lock::parse_endpoint(&config.addr).map_err(LockError::Config)?;
    let password = resolve_password(config, env_file)?;
    let addr = if endpoint.tls {
        http::install_crypto_provider();
        ConnectionAddr::TcpTls {
            host: endpoint.host.clone(),
            port: endpoint.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(endpoint.host.clone(), endpoint.port)
    };
    let mut settings = RedisConnectionInfo::default()
        .set_db(config.db.or(endpoint.db).unwrap_or(0))
        .set_skip_set_lib_name();
    if let Some(user) = &config.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = &password {
        // The redis crate keeps its own copy in the client's connection info (not zeroized; the
        // client is dropped when this function returns); this copy is wiped on drop.
        settings = settings.set_password(password.as_str());
    }
    let where_ = format!("redis {}", config.addr);
    let unavailable = |what: &str, e: redis::RedisError| {
        LockError::Unavailable(format!("{where_}: {what} ({e})"))
    };
    let info = addr
        .into_connection_info()
        .map_err(|e| unavailable("bad address", e))?
        .set_redis_settings(settings);
    let timeout = Duration::from_millis(config.timeout_ms);
    let client = redis::Client::open(info).map_err(|e| unavailable("bad address", e))?;
    let conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| unavailable("cannot connect or log in", e))?;
    conn.set_read_timeout(Some(timeout))
        .and_then(|()| conn.set_write_timeout(Some(timeout)))
        .map_err(|e| unavailable("cannot set timeouts", e))?;
    Ok(Redis {
        conn: Arc::new(Mutex::new(conn)),
        prefix: config.key_prefix.clone(),
        addr: config.addr.clone(),
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
    /// Another fire (on this or another host) claimed it first; its claim, when readable.
    Duplicate(Option<Claim>),
}

/// The status of one job in Redis (for `global-status` and `show`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobGlobalStatus {
    /// The current lease holder.
    pub holder: Option<Holder>,
    /// The newest claimed instant.
    pub last_claim: Option<Claim>,
}

/// A lease holder as people read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub host_id: String,
    pub run_id: String,
    pub since: String,
}

impl Redis {
    fn keys(&self, app: &str, job: &str) -> JobKeys {
        JobKeys::new(&self.prefix, app, job)
    }

    fn run<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, LockError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| {
            LockError::Unavailable(format!("redis {}: {what} failed ({e})", self.addr))
        })
    }

    /// Claim `claim.fire_time` of `app.job` for this fire (`SET NX` with the claim's expiry).
    pub fn claim(&self, app: &str, job: &str, claim: &Claim) -> Result<Claimed, LockError> {
        let keys = self.keys(app, job);
        let value = serde_json::to_string(claim).unwrap_or_default();
        let script = redis::Script::new(CLAIM_SCRIPT);
        let reply: Vec<Value> = self.run("claiming the instant", |c| {
            script
                .key(keys.fire(claim.fire_time))
                .key(&keys.last)
                .arg(&value)
                .arg(core_lock::CLAIM_TTL_SECONDS)
                .arg(claim.fire_time)
                .arg(&claim.host_id)
                .arg(&claim.run_id)
                .arg(&claim.claimed_at)
                .invoke(c)
        })?;
        Ok(match reply.first() {
            Some(Value::Int(1)) => Claimed::Mine,
            _ => Claimed::Duplicate(
                reply
                    .get(1)
                    .and_then(text_of)
                    .and_then(|t| serde_json::from_str(&t).ok()),
            ),
        })
    }

    /// `SET NX PX`: take the job's lease if nobody holds it.
    pub fn try_lease(
        &self,
        app: &str,
        job: &str,
        record: &LeaseRecord,
    ) -> Result<Option<Lease>, LockError> {
        let keys = self.keys(app, job);
        let value = record.to_value();
        let set: Option<String> = self.run("taking the lease", |c| {
            redis::cmd("SET")
                .arg(&keys.lease)
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(core_lock::LEASE_TTL_MS)
                .query(c)
        })?;
        Ok(set.map(|_| Lease::new(self.clone(), keys, value, record.run_id.clone())))
    }

    /// The current holder of the lease, if any and readable.
    pub fn holder(&self, app: &str, job: &str) -> Result<Option<LeaseRecord>, LockError> {
        let keys = self.keys(app, job);
        let value: Option<String> = self.run("reading the lease", |c| {
            redis::cmd("GET").arg(&keys.lease).query(c)
        })?;
        Ok(value.as_deref().and_then(LeaseRecord::parse))
    }

    /// `Replace`: take the lease; while someone else holds it, ask that holder to stop (once per
    /// holder) and poll until `wait` has passed. `None`: the holder did not let go in time.
    pub fn lease_replacing(
        &self,
        app: &str,
        job: &str,
        record: &LeaseRecord,
        wait: Duration,
    ) -> Result<(Option<Lease>, Option<LeaseRecord>), LockError> {
        let deadline = Instant::now() + wait;
        let mut asked: Option<LeaseRecord> = None;
        loop {
            if let Some(lease) = self.try_lease(app, job, record)? {
                return Ok((Some(lease), asked));
            }
            let holder = self.holder(app, job)?;
            if let Some(holder) =
                holder.filter(|h| asked.as_ref().is_none_or(|a| a.token != h.token))
            {
                self.request_replace(app, job, &holder, record, wait)?;
                asked = Some(holder);
            }
            if Instant::now() >= deadline {
                return Ok((None, asked));
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
        wait: Duration,
    ) -> Result<(), LockError> {
        let keys = self.keys(app, job);
        let request = ReplaceRequest {
            target_run_id: holder.run_id.clone(),
            by_run_id: me.run_id.clone(),
            by_host_id: me.host_id.clone(),
        }
        .to_value();
        let ttl_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run("posting the replace request", |c| {
            redis::cmd("SET")
                .arg(&keys.replace)
                .arg(&request)
                .arg("PX")
                .arg(ttl_ms)
                .query::<()>(c)
        })
    }

    /// The lease holder and the newest claimed instant of `app.job`.
    pub fn status(&self, app: &str, job: &str) -> Result<JobGlobalStatus, LockError> {
        let keys = self.keys(app, job);
        let (lease, last): (Option<String>, std::collections::BTreeMap<String, String>) = self
            .run("reading the status", |c| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&keys.lease)
                    .cmd("HGETALL")
                    .arg(&keys.last)
                    .query(c)
            })?;
        let holder = lease
            .as_deref()
            .and_then(LeaseRecord::parse)
            .map(|l| Holder {
                host_id: l.host_id,
                run_id: l.run_id,
                since: l.since,
            });
        let last_claim = match (
            last.get("fire_time"),
            last.get("host_id"),
            last.get("run_id"),
        ) {
            (Some(t), Some(h), Some(r)) => t.parse().ok().map(|fire_time| Claim {
                host_id: h.clone(),
                run_id: r.clone(),
                fire_time,
                claimed_at: last.get("claimed_at").cloned().unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(JobGlobalStatus { holder, last_claim })
    }

    /// `PING`, for `doctor`: the server's answer.
    pub fn ping(&self) -> Result<String, LockError> {
        self.run("PING", |c| redis::cmd("PING").query(c))
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `doctor`'s Redis check: connect, log in and `PING` with the config's settings. `Ok` says where.
pub fn check(config: &RedisLock, env_file: Option<&Path>) -> Result<String, String> {
    let redis = connect(config, env_file).map_err(|e| e.message().to_string())?;
    let answer = redis.ping().map_err(|e| e.message().to_string())?;
    Ok(format!(
        "redis {} answers {answer} (db {}, key prefix {:?})",
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
    run_id: String,
    released: AtomicBool,
    /// Set (and signalled) to stop the refresher.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// What the refresher reports to the fire.
pub enum RefreshEvent {
    /// A `Replace` fire asks this holder to stop.
    Replaced(ReplaceRequest),
    /// The lease is gone (expired while unrefreshed, or taken over): overlap is possible now.
    Lost,
    /// A refresh failed; the lease expires unless a later one succeeds.
    Failed(String),
}

impl Lease {
    fn new(redis: Redis, keys: JobKeys, value: String, run_id: String) -> Lease {
        Lease {
            inner: Arc::new(LeaseInner {
                redis,
                keys,
                value,
                run_id,
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

    fn refresh(&self) -> Result<Refresh, LockError> {
        let inner = &self.inner;
        let script = redis::Script::new(REFRESH_SCRIPT);
        let reply: Vec<Value> = inner.redis.run("refreshing the lease", |c| {
            script
                .key(&inner.keys.lease)
                .key(&inner.keys.replace)
                .arg(&inner.value)
                .arg(core_lock::LEASE_TTL_MS)
                .invoke(c)
        })?;
        let kept = matches!(reply.first(), Some(Value::Int(1)));
        let request = reply.get(1).and_then(text_of);
        Ok(core_lock::refresh_verdict(
            kept,
            request.as_deref(),
            &inner.run_id,
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
        let script = redis::Script::new(RELEASE_SCRIPT);
        inner
            .redis
            .run("releasing the lease", |c| {
                script
                    .key(&inner.keys.lease)
                    .arg(&inner.value)
                    .invoke::<i64>(c)
            })
            .map(|_| ())
            .map_err(|e| e.message().to_string())
    }
}
