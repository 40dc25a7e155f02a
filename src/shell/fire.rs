//! One fire of one job: the signed attempts with backoff, and the single history record of the fire,
//! written exactly once whether the fire ends normally, by SIGTERM or by a panic.
//!
//! Owns the attempt loop and the run's recorder. Must not decide locking or read specs (the trigger
//! command does), and must never put the secret, the signature or a response body into a log line,
//! an error or a record.

use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;
use slog::{Logger, debug, error, info, warn};

use crate::core::backoff::{self, Verdict};
use crate::core::exit_status::ExitStatus;
use crate::core::history::{self as run_history, Attempt, Retention, RunRecord, RunStatus};
use crate::core::manifest::Job;
use crate::core::otel::AttemptFacts;
use crate::core::secret::Secret;
use crate::core::signature;
use crate::core::trace;
use crate::shell::history;
use crate::shell::http::{self, HttpClient, Outgoing};

/// How a fire ended, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: RunStatus,
    pub exit_status: ExitStatus,
    pub error: Option<String>,
}

impl Outcome {
    pub fn new(status: RunStatus, error: Option<&str>) -> Outcome {
        Outcome {
            status,
            exit_status: exit_status(status),
            error: error.map(str::to_string),
        }
    }
}

/// The shim's exit status for a final run status.
pub fn exit_status(status: RunStatus) -> ExitStatus {
    match status {
        RunStatus::Ok | RunStatus::Duplicate => ExitStatus::FIRE_OK,
        RunStatus::Rejected => ExitStatus::FIRE_REJECTED,
        RunStatus::Exhausted => ExitStatus::FIRE_EXHAUSTED,
        RunStatus::Internal => ExitStatus::FIRE_INTERNAL,
        RunStatus::Contended => ExitStatus::FIRE_CONTENDED,
        RunStatus::Replaced | RunStatus::Terminated => ExitStatus::FIRE_TERMINATED,
    }
}

/// Attempts made so far (what a record written mid-fire reports).
#[derive(Debug, Default)]
struct Progress {
    attempts: u32,
    http_status: Option<u16>,
    recorded: bool,
    compact: Option<Retention>,
    /// The record written, once it is.
    written: Option<RunRecord>,
    fallback: Option<String>,
    /// The attempts that ended, oldest first.
    log: Vec<Attempt>,
    /// The attempt in flight: its number, when it was sent (wall clock and monotonic).
    in_flight: Option<(u32, Timestamp, Instant)>,
}

/// Writes the fire's one history record. Shared by the main flow, the SIGTERM thread and the panic
/// hook; whichever finishes first records, the others see it done.
pub struct Recorder {
    path: PathBuf,
    template: RunRecord,
    started: Instant,
    progress: Mutex<Progress>,
    log: Logger,
    /// `trigger --termination-log PATH` (a fire in a Kubernetes pod): the record is also written
    /// there, where the kubelet keeps it as the container's termination message.
    termination_log: Option<PathBuf>,
}

/// The kubelet keeps at most this much of a termination message.
pub const TERMINATION_MESSAGE_MAX: usize = 4096;

/// The record as a termination message: its JSON line, without the attempt log (then without the
/// error class) when it would not fit in [`TERMINATION_MESSAGE_MAX`] bytes.
pub fn termination_message(record: &RunRecord) -> String {
    let mut record = record.clone();
    let mut line = record.to_line();
    if line.len() > TERMINATION_MESSAGE_MAX {
        record.attempt_log.clear();
        line = record.to_line();
    }
    if line.len() > TERMINATION_MESSAGE_MAX {
        record.error = None;
        record.host_id = None;
        line = record.to_line();
    }
    line
}

/// Write the record into the file the kubelet mounted (never created, never through a link).
fn write_termination_log(path: &std::path::Path, record: &RunRecord) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| format!("termination log {}: {e}", path.display()))?;
    file.write_all(termination_message(record).as_bytes())
        .map_err(|e| format!("termination log {}: {e}", path.display()))
}

impl Recorder {
    /// Also write the record to `path` (see [`Recorder::termination_log`]).
    pub fn with_termination_log(mut self, path: Option<PathBuf>) -> Recorder {
        self.termination_log = path;
        self
    }

    pub fn new(path: PathBuf, template: RunRecord, started: Instant, log: Logger) -> Recorder {
        Recorder {
            path,
            template,
            started,
            progress: Mutex::new(Progress::default()),
            log,
            termination_log: None,
        }
    }

    /// Ask for a retention pass after the record is appended.
    pub fn compact_with(&self, retention: Retention) {
        self.with_progress(|p| p.compact = Some(retention));
    }

    /// Note in the record that the fire used a fallback (`host_lock`: Redis was unavailable).
    pub fn mark_fallback(&self, what: &str) {
        self.with_progress(|p| p.fallback = Some(what.to_string()));
    }

    /// An attempt is counted when it starts, so a fire stopped mid-request reports it.
    fn attempt_started(&self) {
        self.with_progress(|p| {
            p.attempts += 1;
            p.in_flight = Some((p.attempts, Timestamp::now(), Instant::now()));
        });
    }

    fn response_received(&self, status: u16) {
        self.with_progress(|p| p.http_status = Some(status));
    }

    /// The attempt in flight ended with `result` (and `http_status`, when a response came back).
    fn attempt_ended(&self, http_status: Option<u16>, result: &str) {
        self.with_progress(|p| {
            if let Some(attempt) = p.in_flight.take() {
                p.log.push(ended(attempt, http_status, result));
            }
        });
    }

    /// The last attempt that ended is followed by a wait of `wait` before the next one.
    fn waiting(&self, wait: Duration) {
        self.with_progress(|p| {
            if let Some(last) = p.log.last_mut() {
                last.wait_ms = Some(millis(wait));
            }
        });
    }

    /// The record this fire wrote, once `finish` ran.
    pub fn written(&self) -> Option<RunRecord> {
        let guard = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        guard.written.clone()
    }

    fn with_progress(&self, f: impl FnOnce(&mut Progress)) {
        let mut guard = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }

    /// Record the fire's outcome unless it is already recorded; returns whether this call wrote it.
    pub fn finish(&self, outcome: &Outcome) -> bool {
        let guard = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        self.finish_locked(guard, outcome)
    }

    /// `finish` for the panic hook: never blocks on a lock the panicking thread may hold.
    pub fn finish_from_panic(&self, outcome: &Outcome) -> bool {
        match self.progress.try_lock() {
            Ok(guard) => self.finish_locked(guard, outcome),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.finish_locked(p.into_inner(), outcome)
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    fn finish_locked(
        &self,
        mut progress: std::sync::MutexGuard<'_, Progress>,
        outcome: &Outcome,
    ) -> bool {
        if progress.recorded {
            return false;
        }
        progress.recorded = true;
        let duration_ms = millis(self.started.elapsed());
        let mut attempt_log = std::mem::take(&mut progress.log);
        if let Some(attempt) = progress.in_flight.take() {
            attempt_log.push(ended(attempt, None, "interrupted"));
        }
        run_history::cap_attempt_log(&mut attempt_log);
        let record = RunRecord {
            duration_ms,
            attempts: progress.attempts,
            status: outcome.status,
            http_status: progress.http_status,
            exit_code: outcome.exit_status.0,
            error: outcome.error.clone(),
            fallback: progress.fallback.clone(),
            attempt_log,
            ..self.template.clone()
        };
        let compact = progress.compact.map(|r| (r, Timestamp::now()));
        self.log_outcome(&record);
        if let Err(msg) = history::append(&self.path, &record, compact) {
            warn!(self.log, "cannot record the run in history"; "error" => msg);
        }
        if let Some(path) = &self.termination_log
            && let Err(msg) = write_termination_log(path, &record)
        {
            warn!(self.log, "cannot write the termination message"; "error" => msg);
        }
        progress.written = Some(record);
        true
    }

    fn log_outcome(&self, r: &RunRecord) {
        let status = r.status.as_str();
        let http_status = r.http_status;
        let error = r.error.as_deref().unwrap_or("");
        match r.status {
            RunStatus::Ok => info!(self.log, "fire succeeded";
                "status" => status, "attempts" => r.attempts, "http_status" => http_status,
                "duration_ms" => r.duration_ms),
            RunStatus::Duplicate => {
                info!(self.log, "another host claimed this instant; nothing sent";
                "status" => status, "fire_time" => &r.fire_time)
            }
            RunStatus::Contended | RunStatus::Replaced | RunStatus::Terminated => {
                warn!(self.log, "fire did not complete";
                    "status" => status, "attempts" => r.attempts, "http_status" => http_status,
                    "duration_ms" => r.duration_ms, "error" => error)
            }
            _ => error!(self.log, "fire failed";
                "status" => status, "attempts" => r.attempts, "http_status" => http_status,
                "duration_ms" => r.duration_ms, "error" => error, "exit_code" => r.exit_code),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The log entry of an attempt that started at `(number, at, since)` and ended now.
fn ended(
    (attempt, at, since): (u32, Timestamp, Instant),
    http_status: Option<u16>,
    result: &str,
) -> Attempt {
    Attempt {
        attempt,
        started_at: format!("{at:.3}"),
        duration_ms: millis(since.elapsed()),
        http_status,
        result: result.to_string(),
        wait_ms: None,
    }
}

/// Everything the attempts need, fixed for the whole fire.
pub struct Request<'a> {
    pub job: &'a Job,
    pub url: url::Url,
    pub run_id: &'a str,
    pub secret: &'a Secret,
    /// Intended and actual fire time, unix seconds.
    pub fire_time: i64,
    pub fire_time_actual: i64,
    pub previous_success: Option<i64>,
}

/// Send attempts 1..=max_attempts with fresh timestamps and signatures, backing off between them.
/// Each attempt's facts (times, status, retry) are appended to `seen` for the fire's trace.
pub fn send_attempts(
    client: &HttpClient,
    request: &Request<'_>,
    recorder: &Recorder,
    log: &Logger,
    seen: &mut Vec<AttemptFacts>,
) -> Outcome {
    let retries = &request.job.policy.retries;
    let max_attempts = retries.max_attempts.max(1);
    let path = http::path_and_query(&request.url);
    let mut last_failure = String::new();
    let mut backoff_seconds = 0.0;
    for attempt in 1..=max_attempts {
        let started = SystemTime::now();
        let traceparent = trace::traceparent(request.run_id, attempt);
        let outgoing = outgoing(request, &path, attempt, &traceparent);
        let signed_at = SystemTime::now();
        let sent_at = Instant::now();
        debug!(log, "sending"; "attempt" => attempt, "method" => request.job.request.method.as_str(),
               "traceparent" => &traceparent);
        recorder.attempt_started();
        let result = client.send(&outgoing);
        let duration_ms = u64::try_from(sent_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        seen.push(AttemptFacts {
            attempt,
            start: started,
            end: SystemTime::now(),
            signed_at,
            status_code: result.as_ref().ok().map(|r| r.status),
            error_class: result.as_ref().err().map(|e| e.class()),
            retried: false,
            backoff_seconds,
        });
        let (verdict, retry_after) = match &result {
            Ok(reply) => {
                recorder.response_received(reply.status);
                recorder.attempt_ended(Some(reply.status), &Attempt::status_class(reply.status));
                info!(log, "response"; "attempt" => attempt, "status" => reply.status,
                      "duration_ms" => duration_ms, "traceparent" => &traceparent);
                last_failure = format!("http_{}", reply.status);
                let now = Timestamp::now();
                let asked = reply
                    .retry_after
                    .as_deref()
                    .and_then(|v| backoff::retry_after(v, now, retries.max_seconds));
                (backoff::classify_status(reply.status), asked)
            }
            Err(e) => {
                recorder.attempt_ended(None, e.class());
                last_failure = e.class().to_string();
                (Verdict::Retry, None)
            }
        };
        match verdict {
            Verdict::Success => return Outcome::new(RunStatus::Ok, None),
            Verdict::Reject => return Outcome::new(RunStatus::Rejected, Some(&last_failure)),
            Verdict::Retry if attempt < max_attempts => {
                let wait = backoff::next_wait(retries, attempt, jitter(attempt), retry_after);
                warn!(log, "attempt failed; retrying"; "attempt" => attempt, "error" => &last_failure,
                      "duration_ms" => duration_ms, "traceparent" => &traceparent,
                      "wait_ms" => millis(wait));
                recorder.waiting(wait);
                if let Some(last) = seen.last_mut() {
                    last.retried = true;
                }
                backoff_seconds = wait.as_secs_f64();
                std::thread::sleep(wait);
            }
            Verdict::Retry => {}
        }
    }
    Outcome::new(RunStatus::Exhausted, Some(&last_failure))
}

fn outgoing<'a>(
    request: &'a Request<'a>,
    path: &str,
    attempt: u32,
    traceparent: &str,
) -> Outgoing<'a> {
    let job = request.job;
    let method = job.request.method.as_str();
    let now = Timestamp::now().as_second();
    let signed = signature::sign(
        request.secret,
        now,
        method,
        path,
        job.request.body.as_bytes(),
    );
    let mut headers: Vec<(String, String)> = job
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.extend([
        ("X-Cron-Run-Id".to_string(), request.run_id.to_string()),
        ("X-Cron-Schedule-Name".to_string(), job.name.clone()),
        (
            "X-Cron-Fire-Time".to_string(),
            request.fire_time.to_string(),
        ),
        (
            "X-Cron-Fire-Time-Actual".to_string(),
            request.fire_time_actual.to_string(),
        ),
        ("X-Cron-Attempt".to_string(), attempt.to_string()),
        (trace::HEADER.to_string(), traceparent.to_string()),
    ]);
    if let Some(previous) = request.previous_success {
        headers.push((
            "X-Cron-Previous-Success-Time".to_string(),
            previous.to_string(),
        ));
    }
    Outgoing {
        method: job.request.method,
        url: &request.url,
        headers,
        sensitive: vec![("X-Cron-Signature".to_string(), signed.expose().to_string())],
        body: job.request.body.as_bytes(),
    }
}

/// A fraction in [0, 1) from the process's randomly seeded hasher (no RNG dependency needed for jitter).
fn jitter(attempt: u32) -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(attempt);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait `Replace` gives a holder to let go: max(timeout/2, 5 s).
pub fn replace_wait(timeout_seconds: u32) -> Duration {
    Duration::from_secs(u64::from(timeout_seconds / 2).max(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_termination_message_is_one_record_of_at_most_4_kib() {
        let attempt = Attempt {
            attempt: 1,
            started_at: "2026-06-01T02:00:00.000Z".into(),
            duration_ms: 5,
            http_status: Some(503),
            result: "5xx".into(),
            wait_ms: Some(1000),
        };
        let record = RunRecord {
            run_id: "r".into(),
            app: "a".into(),
            job: "j".into(),
            fire_time: "2026-06-01T02:00:00Z".into(),
            started_at: "2026-06-01T02:00:00.000Z".into(),
            duration_ms: 1,
            attempts: 10,
            status: RunStatus::Exhausted,
            http_status: Some(503),
            exit_code: 2,
            error: Some("x".repeat(5000)),
            host_id: Some("h".into()),
            fallback: None,
            attempt_log: vec![attempt; 10],
        };
        let message = termination_message(&record);
        assert!(
            message.len() <= TERMINATION_MESSAGE_MAX,
            "{}",
            message.len()
        );
        let back: RunRecord = serde_json::from_str(&message).unwrap();
        assert_eq!((back.run_id.as_str(), back.exit_code), ("r", 2));
        let small = RunRecord {
            error: None,
            ..record
        };
        assert_eq!(termination_message(&small), small.to_line());
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(exit_status(RunStatus::Ok).0, 0);
        assert_eq!(exit_status(RunStatus::Rejected).0, 1);
        assert_eq!(exit_status(RunStatus::Exhausted).0, 2);
        assert_eq!(exit_status(RunStatus::Internal).0, 3);
        assert_eq!(exit_status(RunStatus::Contended).0, 4);
    }

    #[test]
    fn jitter_is_a_fraction() {
        for n in 0..100 {
            let j = jitter(n);
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn replace_waits_half_the_timeout_but_at_least_five_seconds() {
        assert_eq!(replace_wait(60), Duration::from_secs(30));
        assert_eq!(replace_wait(4), Duration::from_secs(5));
    }
}
