//! Checks a manifest against the target before anything is written, and derives the desired state:
//! rendered entries with their hashes, and spec files.
//!
//! Pure: the shell passes in what it looked up (the jobs' zones, the time, operator refs) and the
//! backend's renderer (`core::render`), which decides what an entry looks like. Only validated parts
//! reach a renderer: parsed schedules, absolute paths of `[A-Za-z0-9/._-]` and names. Errors never
//! print a `raw:` reference's value.

use std::collections::BTreeMap;

use crate::core::backoff;
use crate::core::manifest::{self, Concurrency, ConcurrencyScope, Job, Manifest};
use crate::core::plan::{DesiredEntry, SpecFile};
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::schedule::Schedule;
use crate::core::scope::Scope;
use crate::core::secret::SecretRef;
use crate::core::spec::{JobSpec, SPEC_FORMAT, SpecOrigin};
use crate::core::tz_gate::{self, DstEvent};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Everything about the target and the operator that the desired state depends on.
#[derive(Clone)]
pub struct TargetFacts<'a> {
    /// The backend's renderer.
    pub renderer: &'a dyn Renderer,
    pub trigger_bin: &'a str,
    pub spec_dir: &'a str,
    pub lock_dir: &'a str,
    pub state_dir: &'a str,
    /// The zone of every job timezone name in the manifest (looked up in the system tz database).
    pub job_zones: &'a BTreeMap<String, TimeZone>,
    /// The time of the apply: gated entries are right for a window around it; DST reports cover the
    /// year after it.
    pub now: Timestamp,
    /// The refs the app may use (its `manifest_sources` entry, or the operator's on a single-app
    /// host), where they come from, and whether its jobs' own `env:` refs are honoured.
    pub refs: &'a Scope,
    pub allow_http_hosts: &'a [String],
    /// The operator config file apply loaded, if any (recorded in spec files for the shim).
    pub config_path: Option<&'a str>,
    /// The target as `Target::describe` names it (recorded in spec files for prune).
    pub target: String,
    /// Whether `concurrency_scope: global` can work: the config has a `locks.redis` that global
    /// scope accepts (see `global_lock_facts`), or why not.
    pub global_lock: Result<(), String>,
    /// Permission bits of spec files (config `spec_mode`).
    pub spec_mode: u32,
    /// The group of the user the entries run as, when that is not the user applying: spec files
    /// get it and group read, so the shim can read them and other users cannot.
    pub spec_group: Option<u32>,
}

/// The desired state of one app on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub entries: Vec<DesiredEntry>,
    /// Spec files by job name.
    pub specs: BTreeMap<String, SpecFile>,
    /// Things the operator should know that do not stop the apply (e.g. `raw:` references).
    pub warnings: Vec<String>,
    /// Entries that are gated or meet a DST change in the coming year, in job and idx order.
    pub zones: Vec<ZoneReport>,
}

/// What the job's time zone means for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneReport {
    pub job: String,
    pub idx: usize,
    /// The schedule as the manifest gives it.
    pub schedule: String,
    pub timezone: String,
    /// What the backend schedules (the five fields on the crontab line, or the `OnCalendar=` values).
    pub crontab: String,
    /// For a gated entry: what its wake-ups cost.
    pub gate: Option<GateCost>,
    /// The offset changes of the job's zone in the coming year that meet the schedule.
    pub dst: Vec<DstEvent>,
}

/// Wake-ups of a gated entry against the real fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateCost {
    /// Shim starts on a day without an offset change in the host zone.
    pub wakeups_per_day: u32,
    /// Real fires in the `tz_gate::REPORT_DAYS` days from the apply.
    pub fires_per_year: u32,
}

/// Check paths and the user, then every job; collect every problem rather than stopping at the first.
pub fn desired_state(manifest: &Manifest, facts: &TargetFacts) -> Result<Desired, Vec<String>> {
    let mut errors = check_target(facts);
    let mut desired = Desired {
        entries: Vec::new(),
        specs: BTreeMap::new(),
        warnings: Vec::new(),
        zones: Vec::new(),
    };
    for job in &manifest.jobs {
        match desired_job(&manifest.app, job, facts) {
            Ok(state) => {
                desired.entries.extend(state.entries);
                if facts.renderer.uses_spec_files() {
                    desired.specs.insert(job.name.clone(), state.spec);
                }
                desired.warnings.extend(state.warnings);
                desired.zones.extend(state.zones);
            }
            Err(job_errors) => errors.extend(job_errors),
        }
    }
    if errors.is_empty() {
        Ok(desired)
    } else {
        Err(errors)
    }
}

/// The parts of every entry that come from the operator, not the manifest.
pub fn check_target(facts: &TargetFacts) -> Vec<String> {
    let mut errors = Vec::new();
    for (what, flag, path) in [
        ("trigger binary", "--trigger-bin", facts.trigger_bin),
        ("spec dir", "--spec-dir", facts.spec_dir),
    ] {
        if !is_safe_path(path) {
            errors.push(format!(
                "{what} {path:?}: a crontab line may only hold absolute paths of [A-Za-z0-9/._-]; \
                 give {flag} such a path"
            ));
        }
    }
    errors.extend(facts.renderer.check_target());
    errors
}

/// Absolute, no `..` segment, only `[A-Za-z0-9/._-]`.
pub fn is_safe_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && !path.split('/').any(|seg| seg == "..")
}

/// A plain user name cron accepts in the user column.
pub fn is_safe_user(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && user.len() <= 32
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// One job's share of the desired state.
struct JobState {
    entries: Vec<DesiredEntry>,
    spec: SpecFile,
    warnings: Vec<String>,
    zones: Vec<ZoneReport>,
}

/// The operator's rules a manifest must meet whatever the target: what `validate` refuses with the
/// same config, and `plan`/`apply` before they look at the target.
#[derive(Clone, Copy)]
pub struct GateRules<'a> {
    pub allow_http_hosts: &'a [String],
    /// Whether `concurrency_scope: global` can work here (`global_lock_facts`).
    pub global_lock: &'a Result<(), String>,
    pub refs: &'a Scope,
}

/// One job against the gate: plain http only to loopback or listed hosts, global scope only with a
/// usable `locks.redis`, a fire's worst case within the bound, refs the app may use. Returns the
/// refs the job signs with, or every problem.
pub fn job_gate(job: &Job, gate: &GateRules) -> Result<Vec<String>, Vec<String>> {
    let name = &job.name;
    let mut errors = Vec::new();
    if let Err(e) = check_plain_http(name, &job.request.url, gate.allow_http_hosts) {
        errors.push(e);
    }
    errors.extend(global_scope_error(job, gate.global_lock));
    if let Err(e) = check_fire_bound(job) {
        errors.push(e);
    }
    match effective_refs(name, &job.auth.secret_refs, gate.refs) {
        Ok(refs) if errors.is_empty() => Ok(refs),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// Every job of `manifest` against the gate, problems in job order.
pub fn manifest_gate(manifest: &Manifest, gate: &GateRules) -> Vec<String> {
    manifest
        .jobs
        .iter()
        .filter_map(|job| job_gate(job, gate).err())
        .flatten()
        .collect()
}

fn desired_job(app: &str, job: &Job, facts: &TargetFacts) -> Result<JobState, Vec<String>> {
    let mut errors = Vec::new();
    let name = &job.name;
    let zone = facts.job_zones.get(&job.timezone);
    if zone.is_none() {
        errors.push(format!(
            "job {name}: timezone {:?} is not in this host's tz database; install the tzdata \
             package or give an IANA zone name it holds",
            job.timezone
        ));
    }
    let gate = GateRules {
        allow_http_hosts: facts.allow_http_hosts,
        global_lock: &facts.global_lock,
        refs: facts.refs,
    };
    // The gate is about the shim's fire (its URL, refs, locks and time bound); a scheduler that calls
    // the app itself (vercel) fires no shim, signs nothing and resolves no ref.
    let gated = if facts.renderer.uses_spec_files() {
        job_gate(job, &gate)
    } else {
        Ok(Vec::new())
    };
    let refs = match gated {
        Ok(refs) => refs,
        Err(e) => {
            errors.extend(e);
            Vec::new()
        }
    };
    let mut schedules = Vec::new();
    for (i, expr) in job.schedules.iter().enumerate() {
        match Schedule::parse(expr) {
            Ok(s) => schedules.push(s),
            Err(e) => errors.push(format!("job {name}: schedules/{i}: {e}")),
        }
    }
    let Some(zone) = zone.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let input = JobInput {
        app,
        job,
        schedules: &schedules,
        zone,
        secret_refs: &refs,
        now: facts.now,
    };
    let refused = facts.renderer.check_job(&input);
    if !refused.is_empty() {
        return Err(refused);
    }
    let rendered = facts.renderer.render_job(&input);
    let canonical = manifest::canonical_single_job(app, job);
    let entries = job
        .schedules
        .iter()
        .zip(&rendered)
        .enumerate()
        .map(|(idx, (schedule, rendered))| DesiredEntry {
            app: app.to_string(),
            job: name.clone(),
            idx,
            schedule: schedule.clone(),
            hash: facts.renderer.entry_hash(&canonical, idx, &rendered.line),
            line: rendered.line.clone(),
        })
        .collect();
    let mut warnings: Vec<String> = refs
        .iter()
        .filter(|r| is_raw_ref(r))
        .map(|_| {
            format!(
                "job {name}: uses a raw: secret reference, which is for development only; its spec \
                 file is never readable by other users"
            )
        })
        .collect();
    warnings.extend(pile_up_warning(
        job,
        &schedules,
        zone,
        facts.now,
        facts.renderer.starts_overlapping_fires(),
    ));
    warnings.extend(crate::core::manifest_lint::job_warnings(job));
    let spec = spec_file(app, job, refs, facts);
    let zones = schedules
        .iter()
        .zip(&rendered)
        .enumerate()
        .filter_map(|(idx, (schedule, rendered))| {
            zone_report(job, idx, schedule, zone, rendered, facts)
        })
        .collect();
    Ok(JobState {
        entries,
        spec,
        warnings,
        zones,
    })
}

/// The report of one entry: what a gate costs, and the DST changes it meets in the coming year;
/// `None` when there is neither.
fn zone_report(
    job: &Job,
    idx: usize,
    schedule: &Schedule,
    zone: &TimeZone,
    rendered: &Rendered,
    facts: &TargetFacts,
) -> Option<ZoneReport> {
    let cost = rendered.gate_wakeups_per_day.map(|wakeups| GateCost {
        wakeups_per_day: wakeups,
        fires_per_year: tz_gate::fires_per_report_year(schedule, zone, facts.now),
    });
    let year_later = facts
        .now
        .checked_add(jiff::SignedDuration::from_hours(24 * tz_gate::REPORT_DAYS))
        .unwrap_or(facts.now);
    let dst = tz_gate::dst_events(schedule, zone, facts.now, year_later);
    (cost.is_some() || !dst.is_empty()).then(|| ZoneReport {
        job: job.name.clone(),
        idx,
        schedule: schedule.source().to_string(),
        timezone: job.timezone.clone(),
        crontab: rendered.shown.clone(),
        gate: cost,
        dst,
    })
}

/// `concurrency_scope: global` claims instants and takes leases in Redis: without `locks.redis`
/// in the config, or with one global scope refuses, the job could not run as declared.
fn global_scope_error(job: &Job, global_lock: &Result<(), String>) -> Option<String> {
    let why = global_lock.as_ref().err()?;
    (job.policy.concurrency_scope == ConcurrencyScope::Global).then(|| {
        format!(
            "job {}: policy.concurrency_scope is global, but {why}; or use concurrency_scope host",
            job.name
        )
    })
}

/// What `TargetFacts::global_lock` says for the config's `locks.redis` (absent, or without a
/// password and without `allow_unauthenticated: true`).
pub fn global_lock_facts(
    has_redis: bool,
    has_password: bool,
    allow_unauthenticated: bool,
) -> Result<(), String> {
    if !has_redis {
        return Err(
            "the operator config has no locks.redis; add locks.redis (addr, on_unavailable; \
                    see docs/fleet.md) to the config"
                .into(),
        );
    }
    crate::core::global_lock::auth_rule(has_password, allow_unauthenticated)
}

/// A fire may last at most `MAX_FIRE_SECONDS` (attempts × timeout + the capped waits between them).
pub fn check_fire_bound(job: &Job) -> Result<(), String> {
    let policy = &job.policy;
    let worst = backoff::worst_case_fire(policy).as_secs();
    if worst <= backoff::MAX_FIRE_SECONDS {
        return Ok(());
    }
    let attempts = policy.retries.max_attempts;
    Err(format!(
        "job {}: one fire can last up to {worst} s ({attempts} attempts × {} s timeout + {} waits of \
         up to {} s), more than the {} s a fire may take; lower policy.retries.max_attempts, \
         policy.timeout_seconds or policy.retries.max_seconds",
        job.name,
        policy.timeout_seconds,
        attempts.saturating_sub(1),
        policy.retries.max_seconds,
        backoff::MAX_FIRE_SECONDS
    ))
}

/// A job whose worst-case fire outlasts the shortest interval between its fires, where that
/// matters: on cron an `Allow` job's fires run on top of each other; systemd starts no second run of
/// an active service, so an `Allow` or `Replace` job's overlapping fire is dropped instead.
fn pile_up_warning(
    job: &Job,
    schedules: &[Schedule],
    zone: &TimeZone,
    now: Timestamp,
    overlapping_started: bool,
) -> Option<String> {
    let concurrency = job.policy.concurrency;
    let outcome = match (overlapping_started, concurrency) {
        (true, Concurrency::Allow) => {
            "with concurrency Allow they run on top of each other: use Forbid or Replace"
                .to_string()
        }
        (false, Concurrency::Allow | Concurrency::Replace) => format!(
            "systemd starts no second run of a timer's service while one runs, so a fire due then \
             is dropped without a history record and concurrency {concurrency:?} cannot take \
             effect: use Forbid"
        ),
        _ => return None,
    };
    let worst = backoff::worst_case_fire(&job.policy).as_secs();
    let gap = shortest_interval(schedules, zone, now)?;
    (worst > gap).then(|| {
        format!(
            "job {}: one fire can last up to {worst} s (attempts × timeout + backoff), longer than \
             the {gap} s between two of its fires; {outcome}, or lower the retries or the timeout",
            job.name
        )
    })
}

/// The shortest time between two consecutive fires over all schedules, in the 8 days from `now`
/// (gaps longer than `MAX_FIRE_SECONDS` never matter, so a week and a day is enough to look at). A
/// schedule that fires more than `FIRES_LOOKED_AT` times in that window narrows it to its first ones.
pub fn shortest_interval(schedules: &[Schedule], zone: &TimeZone, now: Timestamp) -> Option<u64> {
    const FIRES_LOOKED_AT: usize = 2000;
    let mut end = now.as_second() + 8 * 86_400;
    let mut fires = Vec::new();
    for schedule in schedules {
        let mut after = now;
        let mut seen = 0;
        while let Some(next) = schedule.next_after(after, zone) {
            let at = next.timestamp();
            if at.as_second() > end {
                break;
            }
            fires.push(at.as_second());
            after = at;
            seen += 1;
            if seen == FIRES_LOOKED_AT {
                end = at.as_second();
                break;
            }
        }
    }
    fires.retain(|&at| at <= end);
    fires.sort_unstable();
    fires.dedup();
    fires
        .windows(2)
        .map(|w| u64::try_from(w[1] - w[0]).unwrap_or(u64::MAX))
        .min()
}

/// The spec file bytes: pretty JSON with a final newline. Mode `spec_mode` (never other-readable when a
/// `raw:` reference is inside), plus group read for `spec_group`.
pub fn spec_file(app: &str, job: &Job, secret_refs: Vec<String>, facts: &TargetFacts) -> SpecFile {
    let private = secret_refs.iter().any(|r| is_raw_ref(r));
    let spec = JobSpec {
        format: SPEC_FORMAT,
        app: app.to_string(),
        job: job.clone(),
        secret_refs,
        lock_dir: facts.lock_dir.to_string(),
        state_dir: facts.state_dir.to_string(),
        config: facts.config_path.map(str::to_string),
        target: Some(facts.target.clone()),
        origin: SpecOrigin::Cronix,
    };
    let mut bytes = serde_json::to_vec_pretty(&spec).unwrap_or_default();
    bytes.push(b'\n');
    // The writer doubles its buffer as it grows: give back the slack (up to a body's 1 MiB per job).
    bytes.shrink_to_fit();
    let mut mode = facts.spec_mode;
    if private {
        mode &= 0o640;
    }
    if facts.spec_group.is_some() {
        mode |= 0o040;
    }
    SpecFile {
        bytes,
        mode,
        group: facts.spec_group,
    }
}

/// The job's own references when it has any (each allowed for its app), else the app's. References
/// compare as parsed (`NAME` is `env:NAME`); messages never show a `raw:` value. On a single-app host
/// (`scope.job_env_refs`) an `env:` ref the job names needs no allowing.
pub fn effective_refs(
    job: &str,
    own: &[String],
    scope: &Scope,
) -> Result<Vec<String>, Vec<String>> {
    let refs_from = &scope.refs_from;
    let bad_allowed: Vec<String> = scope
        .allowed_refs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| SecretRef::parse(r).err().map(|e| (i, e)))
        .map(|(i, e)| format!("allowed secret reference #{}: {e}; fix {refs_from}", i + 1))
        .collect();
    if !bad_allowed.is_empty() {
        return Err(bad_allowed);
    }
    if own.is_empty() {
        if scope.allowed_refs.is_empty() {
            return Err(vec![format!(
                "job {job}: has no secret reference and its app is allowed none, so it could never \
                 fire; give the job an env: ref in the manifest, or the app refs ({refs_from})"
            )]);
        }
        return Ok(scope.allowed_refs.clone());
    }
    let needs_word: Vec<String> = own
        .iter()
        .filter(|r| !(scope.job_env_refs && matches!(SecretRef::parse(r), Ok(SecretRef::Env(_)))))
        .cloned()
        .collect();
    let refused: Vec<String> =
        crate::core::scope::refs_not_allowed(&needs_word, &scope.allowed_refs)
            .into_iter()
            .map(|shown| refused_ref(job, &shown, scope))
            .collect();
    if refused.is_empty() {
        Ok(own.to_vec())
    } else {
        Err(refused)
    }
}

/// The error for a ref the operator did not allow, naming the exact flag or config line that would.
fn refused_ref(job: &str, shown: &str, scope: &Scope) -> String {
    let how = if scope.refs_from == crate::core::scope::OPERATOR_REFS_FROM {
        format!(
            "pass --secret-ref {shown} to apply, or add \"{shown}\" to secret_refs in cronix.yaml"
        )
    } else {
        format!("add \"{shown}\" to secret_refs of {}", scope.refs_from)
    };
    let why = match (shown.starts_with("env:"), scope.other_apps.is_empty()) {
        (false, _) => "file:, raw: and cred: refs need the operator's word".to_string(),
        (true, true) => {
            "an env: ref needs the operator's word on a host that serves several apps".to_string()
        }
        (true, false) => format!(
            "an env: ref needs the operator's word on a host that serves several apps (this \
             target also holds app(s) {})",
            scope.other_apps.join(", ")
        ),
    };
    format!(
        "job {job}: secret reference {shown} is not allowed for this app ({why}); {how}, or remove \
         it from the manifest"
    )
}

/// Whether a reference is a development-only `raw:` literal.
pub fn is_raw_ref(reference: &str) -> bool {
    SecretRef::parse(reference).is_ok_and(|r| r.is_raw()) || reference.starts_with("raw:")
}

/// A reference as it may appear in messages: a `raw:` value is never shown.
pub fn shown_ref(reference: &str) -> String {
    match SecretRef::parse(reference) {
        Ok(parsed) => parsed.to_string(),
        Err(_) if reference.starts_with("raw:") => "raw:[redacted]".to_string(),
        Err(_) => "(an invalid reference)".to_string(),
    }
}

/// Plain `http://` only to loopback hosts or hosts the operator listed.
pub fn check_plain_http(job: &str, url: &str, allow_http_hosts: &[String]) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!("job {job}: request url is not a valid URL ({e}); give an https:// URL")
    })?;
    if parsed.scheme() != "http" {
        return Ok(());
    }
    let host = parsed.host_str().unwrap_or_default();
    if manifest::is_loopback_host(&parsed)
        || allow_http_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    {
        return Ok(());
    }
    Err(format!(
        "job {job}: request url uses plain http:// to {host}, where a signed request can be read and \
         replayed; use https://, or list {host} in allow_http_hosts in cronix.yaml"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths_are_absolute_and_plain() {
        assert!(is_safe_path("/usr/local/bin/cronix"));
        assert!(is_safe_path("/tmp/x_y-z.1/jobs"));
        for bad in [
            "relative/x",
            "/a b",
            "/a;rm",
            "/a/../etc",
            "/a\n",
            "/a%b",
            "",
        ] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_shortest_interval_spans_every_schedule() {
        let parse = |s: &str| Schedule::parse(s).unwrap();
        let now: Timestamp = "2026-01-05T00:00:30Z".parse().unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(
            shortest_interval(&[parse("*/5 * * * *")], &utc, now),
            Some(300)
        );
        assert_eq!(
            shortest_interval(&[parse("0 * * * *"), parse("10 * * * *")], &utc, now),
            Some(600)
        );
        assert_eq!(shortest_interval(&[parse("0 0 1 1 *")], &utc, now), None);
    }

    fn rule(allowed: &[String], from: &str) -> Scope {
        Scope {
            expected_app: None,
            allowed_refs: allowed.to_vec(),
            refs_from: from.to_string(),
            job_env_refs: false,
            other_apps: Vec::new(),
        }
    }

    #[test]
    fn a_single_app_host_honours_the_env_refs_its_jobs_name_and_nothing_else() {
        let single = Scope {
            job_env_refs: true,
            ..rule(&[], crate::core::scope::OPERATOR_REFS_FROM)
        };
        let own = vec!["env:CRON_SECRET".to_string(), "OTHER".to_string()];
        assert_eq!(effective_refs("j", &own, &single).unwrap(), own);
        let err = effective_refs("j", &["file:/etc/shadow".into()], &single).unwrap_err();
        assert!(
            err[0].contains("--secret-ref file:/etc/shadow")
                && err[0].contains("secret_refs in cronix.yaml"),
            "{err:?}"
        );
        let several = Scope {
            job_env_refs: false,
            ..single
        };
        let err = effective_refs("j", &["env:CRON_SECRET".into()], &several).unwrap_err();
        assert!(err[0].contains("--secret-ref env:CRON_SECRET"), "{err:?}");
    }

    #[test]
    fn a_job_without_refs_gets_the_operators() {
        let op = vec!["env:A".to_string()];
        assert_eq!(effective_refs("j", &[], &rule(&op, "F")).unwrap(), op);
    }

    #[test]
    fn no_refs_at_all_is_refused_with_the_fix() {
        let err = effective_refs("j", &[], &rule(&[], "--secret-ref")).unwrap_err();
        assert!(
            err[0].contains("job j") && err[0].contains("--secret-ref"),
            "{err:?}"
        );
    }

    #[test]
    fn a_ref_the_operator_did_not_allow_is_named() {
        let err = effective_refs(
            "j",
            &["file:/etc/shadow".into()],
            &rule(&["env:A".into()], "F"),
        )
        .unwrap_err();
        assert!(
            err[0].contains("file:/etc/shadow") && err[0].contains("job j"),
            "{err:?}"
        );
    }

    #[test]
    fn a_refused_raw_ref_never_shows_its_value() {
        let err = effective_refs("j", &["raw:hunter2".into()], &rule(&[], "F")).unwrap_err();
        assert!(!err[0].contains("hunter2") && err[0].contains("raw:[redacted]"));
    }

    #[test]
    fn a_bare_name_is_the_same_ref_as_its_env_form() {
        let op = vec!["env:BILLING_CRON".to_string()];
        assert!(effective_refs("j", &["BILLING_CRON".into()], &rule(&op, "F")).is_ok());
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_listed() {
        assert!(check_plain_http("j", "http://127.0.0.1:8080/x", &[]).is_ok());
        assert!(check_plain_http("j", "http://localhost/x", &[]).is_ok());
        assert!(check_plain_http("j", "http://[::1]/x", &[]).is_ok());
        assert!(check_plain_http("j", "https://example.com/x", &[]).is_ok());
        let err = check_plain_http("j", "http://example.com/x", &[]).unwrap_err();
        assert!(err.contains("allow_http_hosts"), "{err}");
        assert!(check_plain_http("j", "http://example.com/x", &["example.com".into()]).is_ok());
    }
}
