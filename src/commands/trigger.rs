//! `cronix trigger APP.JOB`: the shim cron runs at every fire. Loads the config and the spec, resolves
//! the secrets, takes the job's lock per its concurrency policy, sends the signed attempts and
//! records the run.
//!
//! Sequencing only: the attempts and the record live in `shell::fire`, locks in `shell::lock`. Work
//! that a fire may not need (the HTTP client, the history read) happens after the lock is taken.
//!
//! With `--gate IDX` (entries of jobs in a zone other than cron's) the gate runs first: it reads only
//! the spec and decides whether this minute is a fire of schedule IDX in the job's zone. A non-fire
//! exits 0 before the config, the env file, secrets, locks, logs or history are touched.
//! Exit codes: 0 ok · 1 rejected · 2 exhausted · 3 internal · 4 contended · 143 SIGTERM.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;
use slog::{Logger, error, warn};

use crate::cli::TriggerArgs;
use crate::core::backend_kind::{self, BackendKind};
use crate::core::fire_time;
use crate::core::global_lock::{self as core_lock, SILENCED_CLASS};
use crate::core::history::{self as core_history, Retention, RunRecord, RunStatus};
use crate::core::manifest::{Concurrency, ConcurrencyScope};
use crate::core::otel::{self as trace_shape, AttemptFacts, FireFacts, LockFacts};
use crate::core::schedule::Schedule;
use crate::core::spec::{HostPaths, JobSpec};
use crate::core::{scope, spec_check};
use crate::error::{ExitStatus, Failure, FailureKind};
use crate::settings::{Global, PathFlags};
use crate::shell::config::{self, DEFAULT_SPEC_DIR, OnUnavailable, StatePaths};
use crate::shell::fire::{self, Outcome, Recorder};
use crate::shell::global_fire::{self, GlobalFire, HeldLease, LeaseSlot, Step};
use crate::shell::global_lock::LockError;
use crate::shell::lock::{self, Acquired, Holder, JobLock};
use crate::shell::secrets;
use crate::shell::{
    after_fire, clock, history, host, http, logging, otel, spec_store, test_pause, tz,
};

pub fn run(global: &Global, args: &TriggerArgs) -> Result<ExitStatus, Failure> {
    let started = Instant::now();
    let started_at = clock::now();
    let (app, job) = core_history::split_job_id(&args.job).map_err(shim_failure)?;
    let backend = backend_label(args)?;
    let gated = match args.gate {
        None => None,
        Some(idx) => match gate(global, args, app, job, idx)? {
            Some(passed) => Some(passed),
            None => return Ok(ExitStatus::OK),
        },
    };
    let (spec, fire_time) = match gated {
        Some((spec, minute)) => (spec, minute.as_second()),
        None => {
            let spec_dir = spec_dir_for(global, args)?;
            let spec = spec_store::read_spec(&spec_dir, app, job).map_err(shim_failure)?;
            let fire_time = intended_fire_time(&spec, started_at);
            (spec, fire_time)
        }
    };
    let loaded = config_for(global, &spec)?;
    let mut spec = spec;
    let paths = StatePaths::resolve(&PathFlags::default(), &loaded.config);
    spec.set_host_paths(&HostPaths {
        lock_dir: &paths.lock_dir.to_string_lossy(),
        state_dir: &paths.state_dir.to_string_lossy(),
    });
    let run_id = uuid::Uuid::now_v7().to_string();
    let level = logging::effective_level(global.log_level, loaded.config.log_level);
    let log = logging::shim_logger(level, app, job, &run_id);
    let log = match backend {
        Some(name) => log.new(slog::o!("backend" => name)),
        None => log,
    };
    let history_path = history::history_path(Path::new(&spec.state_dir), app, job);
    let host_id = host::host_id(&loaded.config);
    let recorder = Arc::new(
        Recorder::new(
            history_path.clone(),
            record_template(&spec, &run_id, started_at, fire_time, &host_id),
            started,
            log.clone(),
        )
        .with_termination_log(args.termination_log.clone()),
    );
    let lease_slot = LeaseSlot::default();
    install_panic_hook(Arc::clone(&recorder), Arc::clone(&lease_slot));
    let lock_dir = args
        .lock_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.lock_dir));
    let lock_path = lock::lock_path(&lock_dir, app, job);
    install_sigterm_handler(
        Arc::clone(&recorder),
        lock_path.clone(),
        Arc::clone(&lease_slot),
        &log,
    )?;

    let fire = Fire {
        spec: &spec,
        run_id: &run_id,
        started_at,
        fire_time,
        history_path: &history_path,
        lock_path: &lock_path,
        config: &loaded.config,
        log: &log,
        host_id: &host_id,
        lease_slot: &lease_slot,
        observed: RefCell::default(),
        otel: args.otel,
    };
    let outcome = fire.run(&recorder);
    recorder.finish(&outcome);
    let ended = SystemTime::now();
    after_recorded(&loaded.config, &spec, &recorder, &log);
    if args.otel {
        let facts = fire.facts(args, backend, outcome.status, ended);
        let client = fire.observed.borrow_mut().client.take();
        export_trace(&loaded.config, &facts, client, &log);
    }
    Ok(outcome.exit_status)
}

/// `--otel`: export the fire's trace once, after it is recorded; a failure is one warn line and
/// changes nothing else. Without an endpoint (config or `OTEL_*`) nothing is built or sent.
fn export_trace(
    config: &config::Config,
    facts: &FireFacts,
    client: Option<otel::ShimClient>,
    log: &Logger,
) {
    let destination = match otel::destination(
        config.otel.as_ref(),
        config.env_file.as_deref(),
        &config.allow_http_hosts,
    ) {
        Ok(Some(destination)) => destination,
        Ok(None) => {
            slog::debug!(log, "--otel: no OTLP endpoint is set; no trace exported");
            return;
        }
        Err(msg) => {
            warn!(log, "cannot export the fire's trace; the fire is not affected"; "error" => msg);
            return;
        }
    };
    let trace = trace_shape::build(facts);
    if let Err(msg) = otel::export(&destination, &trace, &config.transport(), client) {
        warn!(log, "cannot export the fire's trace; the fire is not affected"; "error" => msg,
              "endpoint_from" => destination.source,
              "collector" => destination.url.host_str().unwrap_or_default().to_string(),
              "timeout_ms" => u64::try_from(destination.timeout.as_millis()).unwrap_or(u64::MAX));
    }
}

/// Alerts and metrics, after the record is written (they cannot change it or the exit code;
/// `after_fire::run` returns at once when the config asks for neither).
fn after_recorded(config: &config::Config, spec: &JobSpec, recorder: &Recorder, log: &Logger) {
    if let Some(record) = recorder.written() {
        after_fire::run(config, spec, &record, log);
    }
}

/// `--backend NAME`: a name of a backend (built or not) to label the log lines with; anything else is
/// an argument error (exit 3).
fn backend_label(args: &TriggerArgs) -> Result<Option<&'static str>, Failure> {
    let Some(name) = args.backend.as_deref() else {
        return Ok(None);
    };
    match BackendKind::parse(name) {
        Ok(kind) => Ok(Some(kind.name())),
        Err(_) if backend_kind::is_backend_name(name) => Ok(backend_kind::known_name(name)),
        Err(e) => Err(shim_failure(format!("--backend: {e}"))),
    }
}

/// The spec dir: `--spec-dir` (always on a rendered line), else `$CRONIX_JOB_SPEC_DIR` (as the
/// reference reads it), else the looked-up config's, else the default.
fn spec_dir_for(global: &Global, args: &TriggerArgs) -> Result<PathBuf, Failure> {
    if let Some(dir) = &args.spec_dir {
        return Ok(dir.clone());
    }
    if let Some(dir) = crate::env::job_spec_dir() {
        return Ok(dir);
    }
    let loaded = config::load(global.config.as_deref()).map_err(internal)?;
    Ok(loaded
        .config
        .spec_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC_DIR)))
}

/// The operator config of this fire: `--config`, else the one apply loaded (recorded in the spec, so a
/// fire under cron's bare environment finds the same `env_file`), else the usual lookup.
fn config_for(global: &Global, spec: &JobSpec) -> Result<config::Loaded, Failure> {
    match (&global.config, &spec.config) {
        (None, Some(recorded)) => {
            config::load_named(Path::new(recorded), config::ConfigSource::Spec).map_err(internal)
        }
        (explicit, _) => config::load(explicit.as_deref()).map_err(internal),
    }
}

/// The fire-time gate: `Some((spec, minute))` when the current minute is a fire of schedule `idx` in
/// the job's zone (the minute is the intended fire time), `None` when it is not. Reads the spec and
/// nothing else (the config only when the line carries no `--spec-dir`).
fn gate(
    global: &Global,
    args: &TriggerArgs,
    app: &str,
    job: &str,
    idx: usize,
) -> Result<Option<(JobSpec, Timestamp)>, Failure> {
    let spec_dir = spec_dir_for(global, args)?;
    let spec = spec_store::read_spec(&spec_dir, app, job).map_err(shim_failure)?;
    let spec_file = spec_store::path(&spec_dir, app, job);
    let expression = spec.job.schedules.get(idx).ok_or_else(|| {
        shim_failure(format!(
            "spec {}: --gate {idx} names no schedule (the job has {}); re-run `cronix apply` to \
             rewrite the crontab",
            spec_file.display(),
            spec.job.schedules.len()
        ))
    })?;
    let schedule = Schedule::parse(expression)
        .map_err(|e| shim_failure(format!("spec {}: {e}", spec_file.display())))?;
    let zone = tz::zone_by_file(&spec.job.timezone).ok_or_else(|| {
        shim_failure(format!(
            "spec {}: timezone {:?} is not in this host's tz database; install the tzdata package",
            spec_file.display(),
            spec.job.timezone
        ))
    })?;
    let minute = fire_time::start_minute(clock::now());
    Ok(schedule.fires_at(minute, &zone).then_some((spec, minute)))
}

/// One fire after its recorder exists: every early return is an outcome that gets recorded.
struct Fire<'a> {
    spec: &'a JobSpec,
    run_id: &'a str,
    started_at: Timestamp,
    /// Intended fire time, unix seconds.
    fire_time: i64,
    history_path: &'a Path,
    lock_path: &'a Path,
    config: &'a config::Config,
    log: &'a Logger,
    host_id: &'a str,
    lease_slot: &'a LeaseSlot,
    /// What the fire's trace reports (kept whether or not `--otel` exports it: a few clock reads).
    observed: RefCell<Observed>,
    /// `--otel`: the fire's HTTP client is kept for the export.
    otel: bool,
}

/// Facts of the fire's steps, for its trace.
#[derive(Debug, Default)]
struct Observed {
    secrets: Option<(SystemTime, usize)>,
    host_lock: Option<(SystemTime, u64)>,
    global_lock: Option<LockFacts>,
    attempts: Vec<AttemptFacts>,
    /// The fire's HTTP client, which the trace export may reuse.
    client: Option<otel::ShimClient>,
}

impl Fire<'_> {
    /// The trace's facts once the fire is over.
    fn facts(
        &self,
        args: &TriggerArgs,
        backend: Option<&str>,
        status: RunStatus,
        ended: SystemTime,
    ) -> FireFacts {
        let spec = self.spec;
        let policy = &spec.job.policy;
        let observed = self.observed.borrow_mut();
        FireFacts {
            app: spec.app.clone(),
            job: spec.job.name.clone(),
            run_id: self.run_id.to_string(),
            schedule: fired_schedule(spec, args.gate, self.fire_time),
            intended_fire_time: self.fire_time,
            actual_fire_time: SystemTime::from(self.started_at),
            backend: backend.unwrap_or(BackendKind::Crontab.name()).to_string(),
            timeout_seconds: policy.timeout_seconds,
            concurrency_policy: match policy.concurrency {
                Concurrency::Allow => "Allow",
                Concurrency::Forbid => "Forbid",
                Concurrency::Replace => "Replace",
            },
            concurrency_scope: match policy.concurrency_scope {
                ConcurrencyScope::Host => "host",
                ConcurrencyScope::Global => "global",
            },
            max_attempts: policy.retries.max_attempts.max(1),
            method: spec.job.request.method.as_str().to_string(),
            url: spec.job.request.url.clone(),
            status,
            end: ended,
            secrets: observed.secrets,
            host_lock: observed.host_lock,
            global_lock: observed.global_lock.clone(),
            attempts: observed.attempts.clone(),
        }
    }

    fn run(&self, recorder: &Arc<Recorder>) -> Outcome {
        let (spec, log) = (self.spec, self.log);
        if let Err(msg) = self.recheck_spec() {
            return internal_outcome(
                log,
                "the spec breaks apply's rules; nothing sent",
                &msg,
                "spec",
            );
        }
        let resolved = match secrets::resolve(&spec.secret_refs, self.config.env_file.as_deref()) {
            Ok(resolved) => resolved,
            Err(msg) => {
                return internal_outcome(
                    log,
                    "cannot resolve the secret references",
                    &msg,
                    "secrets",
                );
            }
        };
        self.observed.borrow_mut().secrets = Some((SystemTime::now(), resolved.secrets.len()));
        for skipped in &resolved.skipped {
            warn!(log, "secret reference resolved to nothing; skipped";
                  "secret_ref" => skipped.reference.as_str(), "reason" => skipped.describe());
        }
        for warning in &resolved.warnings {
            warn!(log, "{warning}");
        }
        let Some(secret) = resolved.secrets.first() else {
            let msg = format!(
                "none of the {} secret references resolved; set them (config env_file for env: refs) \
                 or re-run apply with --secret-ref",
                spec.secret_refs.len()
            );
            return internal_outcome(log, "no secret to sign with; nothing sent", &msg, "secrets");
        };
        let _guard = match self.take_lock(recorder) {
            Ok(Guard::Contended { silenced: false }) => {
                return Outcome::new(RunStatus::Contended, Some("lock_held"));
            }
            Ok(Guard::Contended { silenced: true }) => {
                return Outcome::new(RunStatus::Contended, Some(SILENCED_CLASS));
            }
            Ok(Guard::Duplicate { silenced }) => {
                return Outcome::new(RunStatus::Duplicate, silenced.then_some(SILENCED_CLASS));
            }
            Ok(guard) => guard,
            Err((msg, class)) => {
                return internal_outcome(log, "cannot take the job lock", &msg, class);
            }
        };
        test_pause::panic_at("job_locked");
        let url = match url::Url::parse(&spec.job.request.url) {
            Ok(url) => url,
            Err(e) => {
                let msg = format!("request.url does not parse ({e}); re-run `cronix apply`");
                return internal_outcome(log, "invalid spec", &msg, "spec");
            }
        };
        let summary = self.history_summary();
        let retention = Retention {
            max_runs: self.config.history.max_runs,
            max_age_days: self.config.history.max_age_days,
        };
        if retention.needs_compaction(summary.lines + 1, summary.oldest_start, self.started_at) {
            recorder.compact_with(retention);
        }
        let timeout = Duration::from_secs(u64::from(spec.job.policy.timeout_seconds));
        let client = match http::shim_client(&url, timeout, &self.config.transport()) {
            Ok(client) => client,
            Err(msg) => {
                return internal_outcome(log, "cannot build the HTTP client", &msg, "http_client");
            }
        };
        let request = fire::Request {
            job: &spec.job,
            url,
            run_id: self.run_id,
            secret,
            fire_time: self.fire_time,
            fire_time_actual: self.started_at.as_second(),
            previous_success: summary.last_success_fire.map(|t| t.as_second()),
        };
        let mut attempts = Vec::new();
        let outcome = fire::send_attempts(&client, &request, recorder, log, &mut attempts);
        let mut observed = self.observed.borrow_mut();
        observed.attempts = attempts;
        if self.otel {
            observed.client = Some(otel::ShimClient {
                client: client.shared(),
                built_for: request.url.clone(),
            });
        }
        outcome
    }

    /// The spec against apply's rules as the config states them now (DESIGN §11): a spec edited by
    /// hand to aim at another host, carry a forbidden header or sign with another app's ref is refused.
    fn recheck_spec(&self) -> Result<(), String> {
        let spec = self.spec;
        let (allowed, mut problems) =
            match scope::shim_allowed_refs(&self.config.manifest_sources, &spec.app) {
                Ok(allowed) => (allowed, Vec::new()),
                Err(undeclared) => (None, vec![undeclared]),
            };
        let rules = spec_check::Rules {
            allow_http_hosts: &self.config.allow_http_hosts,
            allowed_refs: allowed,
        };
        problems.extend(spec_check::problems(spec, &rules, &|zone| {
            tz::zone_by_file(zone).is_some()
        }));
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "spec {}.{} would be refused by apply ({}); re-run `cronix apply` to rewrite it",
            spec.app,
            spec.job.name,
            problems.join("; ")
        ))
    }

    /// The lock of the job's scope: this host's flock, or for `concurrency_scope: global` the
    /// claim and lease in Redis (falling back to this host's lock when `on_unavailable: host`).
    fn take_lock(&self, recorder: &Arc<Recorder>) -> Result<Guard, (String, &'static str)> {
        let host_lock = || {
            let asked = Instant::now();
            let guard = take_host_lock(self.spec, self.lock_path, self.run_id, self.log)
                .map_err(|m| (m, "lock"))?;
            if matches!(guard, Guard::Held(_)) {
                let waited = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.observed.borrow_mut().host_lock = Some((SystemTime::now(), waited));
            }
            Ok(guard)
        };
        if self.spec.job.policy.concurrency_scope != ConcurrencyScope::Global {
            return host_lock();
        }
        let Some(redis) = &self.config.locks.redis else {
            let msg = "the job has concurrency_scope global but the config has no locks.redis; \
                       add locks.redis (see docs/fleet.md) and re-run `cronix apply`";
            return Err((msg.to_string(), "no_global_lock"));
        };
        let global = GlobalFire {
            spec: self.spec,
            redis,
            env_file: self.config.env_file.as_deref(),
            host_id: self.host_id,
            run_id: self.run_id,
            fire_time: self.fire_time,
            log: self.log,
            recorder,
            slot: self.lease_slot,
        };
        let asked = SystemTime::now();
        let taken = global.take();
        self.observe_global_lock(redis, asked, &taken);
        match taken {
            Ok(Step::Deliver(lease)) => Ok(lease.map_or(Guard::Unlocked, Guard::Global)),
            Ok(Step::Duplicate { silenced }) => Ok(Guard::Duplicate { silenced }),
            Ok(Step::Contended { silenced }) => Ok(Guard::Contended { silenced }),
            Err(LockError::Config(msg)) => Err((msg, "config")),
            Err(LockError::Unavailable(msg)) if redis.on_unavailable == OnUnavailable::Host => {
                warn!(self.log, "redis is unavailable; using this host's lock (on_unavailable: \
                      host), so another host may deliver this instant too"; "error" => msg);
                recorder.mark_fallback("host_lock");
                host_lock()
            }
            Err(LockError::Unavailable(msg)) => Err((
                format!("{msg}; nothing sent (on_unavailable: fail)"),
                "redis_unavailable",
            )),
        }
    }

    /// The `cronix.trigger.lock` span's facts: the lease key (or, for `Allow`, the instant's claim
    /// key), how the step ended and the key's time to live.
    fn observe_global_lock(
        &self,
        redis: &config::RedisLock,
        asked: SystemTime,
        taken: &Result<Step, LockError>,
    ) {
        let (spec, fire_time) = (self.spec, self.fire_time);
        let keys = core_lock::JobKeys::new(&redis.key_prefix, &spec.app, &spec.job.name);
        let (key, ttl_seconds) = match core_lock::lease_mode(spec.job.policy.concurrency) {
            core_lock::LeaseMode::None => (
                keys.fire(fire_time),
                i64::try_from(core_lock::CLAIM_TTL_SECONDS).unwrap_or(i64::MAX),
            ),
            _ => (
                keys.lease,
                i64::try_from(core_lock::LEASE_TTL_MS / 1000).unwrap_or(i64::MAX),
            ),
        };
        let outcome = match taken {
            Ok(Step::Deliver(_)) => "acquired",
            Ok(Step::Duplicate { .. }) => "duplicate",
            Ok(Step::Contended { .. }) => "contended",
            Err(LockError::Unavailable(_)) => "unavailable",
            Err(LockError::Config(_)) => "error",
        };
        self.observed.borrow_mut().global_lock = Some(LockFacts {
            key,
            outcome,
            ttl_seconds,
            start: asked,
            end: SystemTime::now(),
        });
    }

    fn history_summary(&self) -> core_history::Summary {
        match history::tail_summary(self.history_path) {
            Ok(summary) => summary,
            Err(msg) => {
                warn!(self.log, "cannot read history; sending without X-Cron-Previous-Success-Time";
                      "error" => msg);
                core_history::Summary::default()
            }
        }
    }
}

/// The lock a fire holds until it ends.
enum Guard {
    /// `Allow`: no lock.
    Unlocked,
    /// Kept for its drop: the flock is released when the fire ends.
    Held(#[allow(dead_code)] JobLock),
    /// Kept for its drop: the global lease is released when the fire ends.
    Global(#[allow(dead_code)] HeldLease),
    /// `silenced`: a global lease that looks planted (see `Step::Contended`).
    Contended { silenced: bool },
    /// `concurrency_scope: global`: another fire claimed this instant (`silenced`: the claim
    /// looks planted).
    Duplicate { silenced: bool },
}

/// Take this host's lock that `policy.concurrency` asks for.
fn take_host_lock(
    spec: &JobSpec,
    lock_path: &Path,
    run_id: &str,
    log: &Logger,
) -> Result<Guard, String> {
    let policy = &spec.job.policy;
    if policy.concurrency == Concurrency::Allow {
        return Ok(Guard::Unlocked);
    }
    let me = Holder::this_process(run_id);
    let acquired = if policy.concurrency == Concurrency::Replace {
        let wait = fire::replace_wait(policy.timeout_seconds);
        let (acquired, signalled) = lock::acquire_replacing(lock_path, &me, wait)?;
        if let Some(pid) = signalled {
            warn!(log, "stopped the earlier fire of this job (Replace)"; "pid" => pid);
        }
        acquired
    } else {
        lock::try_acquire(lock_path, &me)?
    };
    Ok(match acquired {
        Acquired::Held(lock) => Guard::Held(lock),
        Acquired::Contended => {
            warn!(log, "another fire of this job holds the lock; nothing sent";
                  "lock" => lock_path.display().to_string());
            Guard::Contended { silenced: false }
        }
    })
}

/// `cronix.schedule`: the gated schedule, else the first of the job's schedules that fires at the
/// intended minute, else the first.
fn fired_schedule(spec: &JobSpec, gate: Option<usize>, fire_time: i64) -> String {
    let schedules = &spec.job.schedules;
    if let Some(expression) = gate.and_then(|idx| schedules.get(idx)) {
        return expression.clone();
    }
    let zone = tz::zone_by_file(&spec.job.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let minute = Timestamp::from_second(fire_time).ok();
    schedules
        .iter()
        .find(|expression| {
            let schedule = Schedule::parse(expression).ok();
            matches!((schedule, minute), (Some(s), Some(m)) if s.fires_at(m, &zone))
        })
        .or(schedules.first())
        .cloned()
        .unwrap_or_default()
}

fn intended_fire_time(spec: &JobSpec, started_at: Timestamp) -> i64 {
    let zone = tz::zone_by_file(&spec.job.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let schedules = Schedule::parse_valid(&spec.job.schedules);
    fire_time::intended_fire_time(started_at, &schedules, &zone).as_second()
}

fn record_template(
    spec: &JobSpec,
    run_id: &str,
    started_at: Timestamp,
    fire_time: i64,
    host_id: &str,
) -> RunRecord {
    RunRecord {
        run_id: run_id.to_string(),
        app: spec.app.clone(),
        job: spec.job.name.clone(),
        fire_time: format!(
            "{:.0}",
            Timestamp::from_second(fire_time).unwrap_or(started_at)
        ),
        started_at: format!("{started_at:.3}"),
        duration_ms: 0,
        attempts: 0,
        status: RunStatus::Internal,
        http_status: None,
        exit_code: 3,
        error: None,
        host_id: Some(host_id.to_string()),
        fallback: None,
        attempt_log: Vec::new(),
    }
}

fn internal_outcome(log: &Logger, what: &str, message: &str, class: &str) -> Outcome {
    error!(log, "{what}"; "error" => message);
    Outcome::new(RunStatus::Internal, Some(class))
}

/// On SIGTERM: record `replaced` (when a `Replace` fire marked this holder) or `terminated`, and exit;
/// the flock goes with the process.
fn install_sigterm_handler(
    recorder: Arc<Recorder>,
    lock_path: PathBuf,
    lease_slot: LeaseSlot,
    log: &Logger,
) -> Result<(), Failure> {
    use signal_hook::consts::SIGTERM;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM]).map_err(|e| {
        Failure::new(
            FailureKind::ShimInternal,
            format!("cannot install the SIGTERM handler ({e})"),
        )
    })?;
    let log = log.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let status = if lock::was_replaced(&lock_path) {
                RunStatus::Replaced
            } else {
                RunStatus::Terminated
            };
            warn!(log, "received SIGTERM; stopping"; "status" => status.as_str());
            recorder.finish(&Outcome::new(status, Some("sigterm")));
            global_fire::release_slot(&lease_slot, true);
            crate::error::exit_now(ExitStatus::FIRE_TERMINATED);
        }
    });
    Ok(())
}

/// A panic records `internal` and exits 3 (release builds abort on panic; the hook runs first).
fn install_panic_hook(recorder: Arc<Recorder>, lease_slot: LeaseSlot) {
    std::panic::set_hook(Box::new(move |info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("cronix: error: internal error at {place}; the run is recorded as internal");
        recorder.finish_from_panic(&Outcome::new(RunStatus::Internal, Some("panic")));
        global_fire::release_slot(&lease_slot, false);
        crate::error::exit_now(ExitStatus::FIRE_INTERNAL);
    }));
}

fn shim_failure(message: impl Into<String>) -> Failure {
    Failure::new(FailureKind::ShimInternal, message)
}

fn internal(failure: Failure) -> Failure {
    Failure::new(FailureKind::ShimInternal, failure.message)
}
