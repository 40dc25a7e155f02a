//! Alerts: the operator's alert targets as configured (checked), the failure-streak rule that decides
//! when a target is told, and the event every target receives.
//!
//! Pure: the caller reads and writes the streak state under its lock and sends the events. An event
//! never carries a secret, a signature or a response body (it is built from a run record's fields).

use serde::{Deserialize, Serialize};

use crate::core::history::{RunRecord, RunStatus};
use crate::core::manifest::{self, is_identifier};

/// The whole time every alert of one fire (or one `check`) may take, all targets together, in
/// milliseconds. Past it the shim stops waiting, kills alert commands, and exits.
pub const ALERT_BUDGET_MS: u64 = 3000;

/// Largest argv of an alert command.
const MAX_COMMAND_ARGS: usize = 64;

/// One alert target of the operator config. Exactly one of `webhook` and `command`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTarget {
    /// `https://…` (or `http://` to a loopback host): POST of the event, signed like a trigger.
    pub webhook: Option<String>,
    /// The secret reference that signs webhook requests (required with `webhook`).
    pub secret_ref: Option<String>,
    /// Absolute program path and its arguments; the event arrives as JSON on standard input.
    pub command: Option<Vec<String>>,
    /// Tell this target once a failure streak reaches this many fires (default 1).
    #[serde(default = "one")]
    pub after_failures: u32,
    /// Tell this target at the first success after a streak it was told about (default true).
    #[serde(default = "yes")]
    pub on_recovery: bool,
    /// Only jobs of these apps (default: every app).
    pub apps: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Where a checked target delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery<'a> {
    Webhook { url: &'a str, secret_ref: &'a str },
    Command { argv: &'a [String] },
}

impl AlertTarget {
    /// Check the target; `n` is its index in `alerts` (for the error's place).
    pub fn check(&self, n: usize) -> Result<(), String> {
        let at = format!("alerts[{n}]");
        match (&self.webhook, &self.command) {
            (Some(url), None) => check_webhook(url, self.secret_ref.as_deref())
                .map_err(|why| format!("{at}.webhook {url:?}: {why}"))?,
            (None, Some(argv)) => {
                check_command(argv).map_err(|why| format!("{at}.command: {why}"))?;
                if self.secret_ref.is_some() {
                    return Err(format!(
                        "{at}.secret_ref: only a webhook is signed; remove it from the command target"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "{at}: give exactly one of `webhook: https://…` or `command: [/abs/program, …]`"
                ));
            }
        }
        if self.after_failures == 0 || self.after_failures > 10_000 {
            return Err(format!(
                "{at}.after_failures {}: must be 1..10000",
                self.after_failures
            ));
        }
        for app in self.apps.iter().flatten() {
            if !is_identifier(app) {
                return Err(format!(
                    "{at}.apps: {app:?} is not an app name (lowercase letters, digits and dashes)"
                ));
            }
        }
        Ok(())
    }

    /// The checked delivery (`None` only for a target that did not pass `check`).
    pub fn delivery(&self) -> Option<Delivery<'_>> {
        match (&self.webhook, &self.secret_ref, &self.command) {
            (Some(url), Some(secret_ref), None) => Some(Delivery::Webhook { url, secret_ref }),
            (None, _, Some(argv)) => Some(Delivery::Command { argv }),
            _ => None,
        }
    }

    /// Whether this target watches jobs of `app`.
    pub fn covers(&self, app: &str) -> bool {
        self.apps
            .as_ref()
            .is_none_or(|apps| apps.iter().any(|a| a == app))
    }

    /// What (if anything) this target is told about a fire that moved the streak from `streak`.
    pub fn decide(&self, streak: &StreakStep) -> Option<EventKind> {
        match streak.change {
            Change::Failed if streak.after == self.after_failures => Some(EventKind::Failing),
            Change::Recovered if self.on_recovery && streak.before >= self.after_failures => {
                Some(EventKind::Recovered)
            }
            _ => None,
        }
    }
}

fn check_webhook(url: &str, secret_ref: Option<&str>) -> Result<(), String> {
    manifest::check_url(url)?;
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() == "http" && !manifest::is_loopback_host(&parsed) {
        return Err(
            "plain http:// is only for loopback hosts (a signed alert could be read and replayed); \
             use https://"
                .into(),
        );
    }
    match secret_ref {
        Some(r) if manifest::is_secret_ref_syntax(r) => Ok(()),
        Some(r) => Err(format!(
            "secret_ref {r:?} is not a secret reference; write env:NAME or file:/abs/path"
        )),
        None => Err("needs `secret_ref:` (the alert is signed like a trigger)".into()),
    }
}

/// An absolute program path of plain characters, and arguments without NUL.
fn check_command(argv: &[String]) -> Result<(), String> {
    let Some(program) = argv.first() else {
        return Err("is empty; write [/abs/path/to/program, args…]".into());
    };
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/._-+".contains(&b);
    if !program.starts_with('/') || !program.bytes().all(plain) || program.contains("/../") {
        return Err(format!(
            "program {program:?} must be an absolute path of letters, digits and /._-+ (no PATH \
             lookup is done)"
        ));
    }
    if argv.len() > MAX_COMMAND_ARGS {
        return Err(format!(
            "{} arguments; at most {MAX_COMMAND_ARGS}",
            argv.len()
        ));
    }
    if let Some(bad) = argv.iter().find(|a| a.contains('\0') || a.len() > 4096) {
        return Err(format!(
            "argument {:?} contains NUL or is over 4096 bytes",
            manifest::excerpt(bad)
        ));
    }
    Ok(())
}

/// Which alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Failing,
    Recovered,
    Missed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failing => "failing",
            EventKind::Recovered => "recovered",
            EventKind::Missed => "missed",
        }
    }
}

/// A job's failure streak as kept in the state dir.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    /// Failed fires since the last success.
    pub consecutive_failures: u32,
}

/// How one fire moved the streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Failed,
    Recovered,
    /// A success with no streak, or a status that says nothing about the job (`contended`,
    /// `replaced`, `terminated`).
    Unchanged,
}

/// The streak before and after one fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreakStep {
    pub before: u32,
    pub after: u32,
    pub change: Change,
}

/// Whether a final status counts as a failure of the job (`rejected`, `exhausted`, `internal`), a
/// success (`ok`), or neither.
pub fn failure_kind(status: RunStatus) -> Option<bool> {
    match status {
        RunStatus::Ok => Some(false),
        RunStatus::Rejected | RunStatus::Exhausted | RunStatus::Internal => Some(true),
        RunStatus::Contended
        | RunStatus::Replaced
        | RunStatus::Terminated
        | RunStatus::Duplicate => None,
    }
}

/// The streak after a fire that ended with `status`, and the step taken.
pub fn advance(streak: Streak, status: RunStatus) -> (Streak, StreakStep) {
    let before = streak.consecutive_failures;
    let (after, change) = match failure_kind(status) {
        Some(true) => (before.saturating_add(1), Change::Failed),
        Some(false) if before > 0 => (0, Change::Recovered),
        _ => (before, Change::Unchanged),
    };
    let step = StreakStep {
        before,
        after,
        change,
    };
    (
        Streak {
            consecutive_failures: after,
        },
        step,
    )
}

/// What every alert target receives (`schemas/alert.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEvent {
    pub event: EventKind,
    pub app: String,
    pub job: String,
    /// The fire's run id (`null` for `missed`: nothing ran).
    pub run_id: Option<String>,
    /// The fire's final status (`missed` for a missed fire).
    pub status: String,
    pub exit_code: Option<u8>,
    pub http_status: Option<u16>,
    pub attempts: u32,
    /// The schedule instant (RFC 3339, UTC); for `missed`, the first missed instant.
    pub intended_fire_time: String,
    /// The streak's length: after the fire for `failing`, the streak that ended for `recovered`,
    /// the missed instants of the episode for `missed`.
    pub consecutive_failures: u32,
    pub host_id: String,
    /// When the event was raised (RFC 3339, UTC).
    pub time: String,
}

impl AlertEvent {
    /// The event of a fire.
    pub fn for_run(
        kind: EventKind,
        record: &RunRecord,
        step: &StreakStep,
        host_id: &str,
        now: jiff::Timestamp,
    ) -> AlertEvent {
        let consecutive_failures = match kind {
            EventKind::Recovered => step.before,
            _ => step.after,
        };
        AlertEvent {
            event: kind,
            app: record.app.clone(),
            job: record.job.clone(),
            run_id: Some(record.run_id.clone()),
            status: record.status.as_str().to_string(),
            exit_code: Some(record.exit_code),
            http_status: record.http_status,
            attempts: record.attempts,
            intended_fire_time: record.fire_time.clone(),
            consecutive_failures,
            host_id: host_id.to_string(),
            time: format!("{now:.0}"),
        }
    }

    /// The event of an episode of missed fires of `app.job` starting at `first`.
    pub fn missed(
        app: &str,
        job: &str,
        first: jiff::Timestamp,
        count: u32,
        host_id: &str,
        now: jiff::Timestamp,
    ) -> AlertEvent {
        AlertEvent {
            event: EventKind::Missed,
            app: app.to_string(),
            job: job.to_string(),
            run_id: None,
            status: "missed".to_string(),
            exit_code: None,
            http_status: None,
            attempts: 0,
            intended_fire_time: format!("{first:.0}"),
            consecutive_failures: count,
            host_id: host_id.to_string(),
            time: format!("{now:.0}"),
        }
    }

    /// The JSON body every target receives.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(after_failures: u32, on_recovery: bool) -> AlertTarget {
        AlertTarget {
            webhook: None,
            secret_ref: None,
            command: Some(vec!["/bin/true".into()]),
            after_failures,
            on_recovery,
            apps: None,
        }
    }

    fn run(statuses: &[RunStatus], t: &AlertTarget) -> Vec<Option<EventKind>> {
        let mut streak = Streak::default();
        statuses
            .iter()
            .map(|s| {
                let (next, step) = advance(streak, *s);
                streak = next;
                t.decide(&step)
            })
            .collect()
    }

    #[test]
    fn a_streak_alerts_once_at_the_threshold_and_once_on_recovery() {
        use RunStatus::*;
        let t = target(2, true);
        let events = run(&[Exhausted, Rejected, Internal, Ok, Ok], &t);
        assert_eq!(
            events,
            [
                None,
                Some(EventKind::Failing),
                None,
                Some(EventKind::Recovered),
                None
            ]
        );
    }

    #[test]
    fn a_short_streak_never_alerts_and_neutral_statuses_do_not_break_a_streak() {
        use RunStatus::*;
        let t = target(3, true);
        assert_eq!(run(&[Exhausted, Exhausted, Ok], &t), [None, None, None]);
        let events = run(
            &[
                Exhausted, Contended, Replaced, Exhausted, Terminated, Exhausted,
            ],
            &t,
        );
        assert_eq!(events[5], Some(EventKind::Failing));
        assert!(events[..5].iter().all(Option::is_none));
    }

    #[test]
    fn recovery_can_be_silenced() {
        use RunStatus::*;
        assert_eq!(
            run(&[Exhausted, Ok], &target(1, false)),
            [Some(EventKind::Failing), None]
        );
    }

    #[test]
    fn targets_are_checked() {
        let mut t = target(1, true);
        assert!(t.check(0).is_ok());
        t.command = Some(vec!["notify".into()]);
        assert!(t.check(0).unwrap_err().contains("absolute path"));
        t.command = None;
        assert!(t.check(0).unwrap_err().contains("exactly one"));
        t.webhook = Some("http://alerts.example.com/x".into());
        t.secret_ref = Some("env:ALERT".into());
        assert!(t.check(1).unwrap_err().contains("alerts[1].webhook"));
        t.webhook = Some("http://127.0.0.1:9/x".into());
        assert!(t.check(1).is_ok());
        t.secret_ref = None;
        assert!(t.check(1).unwrap_err().contains("secret_ref"));
        t.secret_ref = Some("env:ALERT".into());
        t.after_failures = 0;
        assert!(t.check(1).unwrap_err().contains("after_failures"));
        t.after_failures = 1;
        t.apps = Some(vec!["Billing".into()]);
        assert!(t.check(1).unwrap_err().contains("apps"));
    }

    #[test]
    fn the_app_filter_applies() {
        let mut t = target(1, true);
        assert!(t.covers("billing"));
        t.apps = Some(vec!["billing".into()]);
        assert!(t.covers("billing"));
        assert!(!t.covers("search"));
    }
}
