//! `cronix global-status`: every job that has a spec file in the spec dir or an entry in the target,
//! with its schedules, the state of each of its entries in the installed crontab (`in-sync`,
//! `edited`, `missing`, `orphan`, read as `drift` reads them), its last run (from its history) and its
//! next fire.
//!
//! The table reads like `systemctl list-timers`: NEXT, LEFT, LAST, PASSED, JOB, STATUS (the last run's),
//! then the entry states. NEXT is the next fire of what is installed (each entry's line as it is in
//! the target, read in the zone cron fires in, or the gate's schedule in the job's zone for a gated
//! line), not of the spec: a hand-edited line shows its real next fire. The spec's next fire is in
//! the JSON (`spec_next_fire`).
//!
//! Reads only. A spec file that does not parse is listed with the reason instead of hiding it; a spec
//! recorded for another target is listed without entry states (its entries are not in this one).
//! Jobs with `concurrency_scope: global` also show their Redis state (lease holder, newest claimed
//! instant); Redis is contacted only when such a job exists. With a `backends:` list in the config
//! (or the reference tool's `~/.cronix/config.yaml`) it shows every listed backend instead
//! (`global_status_list`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{GlobalStatusArgs, ListArgs};
use crate::commands::global_status_list::{self, BackendsList};
use crate::core::entry_status::{self, EntryStatus};
use crate::core::global_lock::Claim;
use crate::core::history::{self, RunRecord};
use crate::core::manifest::ConcurrencyScope;
use crate::core::spec::{JobSpec, SpecOrigin};
use crate::error::{ExitStatus, Failure};
use crate::printer::{Grid, Mark};
use crate::settings::{Global, Output};
use crate::shell::config::{self, Config, ConfigSource, Loaded};
use crate::shell::reconcile::{self, Context};
use crate::shell::{global_lock, history as history_file, metrics};

/// One row of the status (the `-o json` shape).
#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub app: String,
    pub job: String,
    pub schedules: Vec<String>,
    pub timezone: String,
    /// Each entry of the job in this target and its state.
    pub entries: Vec<EntryStatus>,
    pub last_run: Option<RunRecord>,
    /// RFC 3339 UTC of the next fire of the job's installed entries (as installed; `null` when
    /// none is installed here).
    pub next_fire: Option<String>,
    /// `next_fire` in unix seconds.
    pub next_fire_unix: Option<i64>,
    /// RFC 3339 UTC of the next fire over the spec's schedules (what an in-sync target would do).
    pub spec_next_fire: Option<String>,
    /// Why the spec file could not be read, or that there is none.
    pub error: Option<String>,
    /// The target the spec was applied to, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_target: Option<String>,
    /// `concurrency_scope: global` jobs: their state in Redis; `null` for host-scope jobs.
    pub global: Option<GlobalView>,
}

/// A global-scope job's state in Redis, or why it could not be read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GlobalView {
    pub holder: Option<global_lock::Holder>,
    pub last_claim: Option<Claim>,
    pub error: Option<String>,
}

impl GlobalView {
    fn failed(message: String) -> GlobalView {
        GlobalView {
            error: Some(message),
            ..GlobalView::default()
        }
    }
}

/// The global view of `spec`'s job, when it has global scope.
pub fn global_view(
    spec: &JobSpec,
    redis: &mut Option<Result<global_lock::Redis, String>>,
    config: &Config,
) -> Option<GlobalView> {
    if spec.job.policy.concurrency_scope != ConcurrencyScope::Global {
        return None;
    }
    let Some(settings) = &config.locks.redis else {
        return Some(GlobalView::failed(
            "the config has no locks.redis; global-scope fires exit 3".into(),
        ));
    };
    let conn = redis.get_or_insert_with(|| {
        global_lock::connect(settings, config.env_file.as_deref())
            .map_err(|e| e.message().to_string())
    });
    Some(match conn {
        Ok(conn) => match conn.status(&spec.app, &spec.job.name) {
            Ok(status) => GlobalView {
                holder: status.holder,
                last_claim: status.last_claim,
                error: None,
            },
            Err(e) => GlobalView::failed(e.message().to_string()),
        },
        Err(e) => GlobalView::failed(e.clone()),
    })
}

pub fn run(global: &Global, args: &GlobalStatusArgs) -> Result<ExitStatus, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    if let Some(list) = backends_list(&loaded)? {
        return global_status_list::run(global, args, &loaded, list);
    }
    let list = args.single_target().map_err(Failure::usage)?;
    run_single(global, &list, &loaded)
}

/// The `backends:` list to query: the loaded config's, else (when no `--config` or `$CRONIX_CONFIG`
/// named one) the reference tool's `~/.cronix/config.yaml` or `/etc/cronix/config.yaml`; `None`
/// keeps the single-target view.
fn backends_list(loaded: &Loaded) -> Result<Option<BackendsList>, Failure> {
    if !loaded.config.backends.is_empty() {
        return Ok(Some(BackendsList {
            entries: loaded.config.backends.clone(),
            path: loaded.path.clone(),
        }));
    }
    if matches!(loaded.source, ConfigSource::Flag | ConfigSource::Env) {
        return Ok(None);
    }
    Ok(config::load_reference_backends()?
        .filter(|list| !list.config.backends.is_empty())
        .map(|list| BackendsList {
            entries: list.config.backends,
            path: list.path,
        }))
}

/// Today's view of one target (the flags', as `list` takes them).
fn run_single(global: &Global, args: &ListArgs, loaded: &Loaded) -> Result<ExitStatus, Failure> {
    let backend = args.backend().map_err(Failure::usage)?;
    let loaded = loaded.clone();
    let ctx = reconcile::context_from(&loaded, global, &args.target.flags(), backend)?;
    let mut redis = None;
    let installed = reconcile::installed(&ctx, None)?;
    let now = Timestamp::now();
    let place = ctx.backend.specs();
    let jobs = place.list()?;
    let mut specs: BTreeMap<(String, String), Result<JobSpec, String>> = jobs
        .into_iter()
        .map(|(app, job)| {
            let spec = match place.find(&app, &job) {
                Ok(Some(spec)) => Ok(spec),
                Ok(None) => Err(format!("{app}.{job}: the spec is gone")),
                Err(failure) => Err(failure.message),
            };
            ((app, job), spec)
        })
        .collect();
    let target = ctx.backend.target_id();
    let here: BTreeMap<(String, String), JobSpec> = specs
        .iter()
        .filter_map(|(key, spec)| spec.as_ref().ok().map(|s| (key.clone(), s.clone())))
        .filter(|(_, spec)| spec.target.as_ref().is_none_or(|t| *t == target))
        .collect();
    let spec_files = ctx.backend.renderer().uses_spec_files();
    let statuses = if spec_files {
        entry_status::statuses(&here, installed.entries())
    } else {
        entry_status::as_installed(installed.entries())
    };
    let mut by_job: BTreeMap<(String, String), Vec<EntryStatus>> = BTreeMap::new();
    for status in statuses {
        by_job
            .entry((status.app.clone(), status.job.clone()))
            .or_default()
            .push(status);
    }
    let orphan_only: BTreeSet<(String, String)> = by_job
        .keys()
        .filter(|key| !specs.contains_key(*key))
        .cloned()
        .collect();
    for key in orphan_only.into_iter().filter(|_| spec_files) {
        specs.insert(
            key,
            Err(format!(
                "no spec file in {}; `cronix prune --app APP` or apply removes its entries",
                ctx.paths.spec_dir.display()
            )),
        );
    }
    let installed_next = installed_next_fires(&ctx, installed.entries(), now);
    let mut rows: Vec<JobStatus> = specs
        .into_iter()
        .map(|(key, spec)| {
            let entries = by_job.remove(&key).unwrap_or_default();
            let next = installed_next.get(&key).copied();
            let mut row = job_status(&ctx, key, spec.clone(), entries, now);
            if row.other_target.is_none() {
                row.next_fire = next.map(|t| format!("{t:.0}"));
                row.next_fire_unix = next.map(|t| t.as_second());
            }
            if let Ok(spec) = &spec {
                row.global = global_view(spec, &mut redis, &loaded.config);
            }
            row
        })
        .collect();
    // A backend without spec files (vercel): each job as its entries show it.
    for (key, entries) in by_job.into_iter().filter(|_| !spec_files) {
        let next = installed_next.get(&key).copied();
        rows.push(installed_row(&ctx, key, entries, installed.entries(), next));
    }
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = StatusDoc {
                backend: backend.name(),
                target: ctx.backend.describe(),
                generated_at: format!("{now:.0}"),
                jobs: rows,
            };
            crate::printer::document(global.output, &doc)
        }
        Output::Table | Output::Wide => print_table(&rows, &ctx.paths.spec_dir, now),
    }
    Ok(ExitStatus::OK)
}

/// The single-target view as one JSON document.
#[derive(Serialize)]
struct StatusDoc {
    backend: &'static str,
    target: String,
    /// When the status was read (RFC 3339 UTC): `left`/`passed` are relative to it.
    generated_at: String,
    jobs: Vec<JobStatus>,
}

/// Each job's next fire over its installed entries, read as `list` reads them (the line's own
/// schedule in the host zone, or a gated line's job schedule in the job's zone).
fn installed_next_fires(
    ctx: &Context,
    entries: &[crate::core::plan::InstalledEntry],
    now: Timestamp,
) -> BTreeMap<(String, String), Timestamp> {
    let mut next: BTreeMap<(String, String), Timestamp> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.line.is_some()) {
        let view = crate::commands::list::entry_view(ctx, entry, now);
        let Some(at) = reconcile::next_fires(&view.fires.0, now, &view.fires.1, 1)
            .first()
            .map(|z| z.timestamp())
        else {
            continue;
        };
        next.entry((entry.app.clone(), entry.job.clone()))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    next
}

fn job_status(
    ctx: &Context,
    (app, job): (String, String),
    spec: Result<JobSpec, String>,
    entries: Vec<EntryStatus>,
    now: Timestamp,
) -> JobStatus {
    match spec {
        Ok(spec) => from_spec(ctx, &spec, entries, now),
        Err(error) => JobStatus {
            last_run: last_run(&ctx.paths.state_dir, &app, &job),
            app,
            job,
            schedules: Vec::new(),
            timezone: String::new(),
            entries,
            next_fire: None,
            next_fire_unix: None,
            spec_next_fire: None,
            error: Some(error),
            other_target: None,
            global: None,
        },
    }
}

/// A job of a backend without spec files, from its installed entries: their schedules in the zone
/// the scheduler fires in, no error.
fn installed_row(
    ctx: &Context,
    (app, job): (String, String),
    entries: Vec<EntryStatus>,
    installed: &[crate::core::plan::InstalledEntry],
    next: Option<Timestamp>,
) -> JobStatus {
    let mut schedules: Vec<(usize, String)> = installed
        .iter()
        .filter(|e| e.app == app && e.job == job)
        .filter_map(|e| Some((e.idx, e.schedule.clone()?)))
        .collect();
    schedules.sort();
    JobStatus {
        last_run: last_run(&ctx.paths.state_dir, &app, &job),
        app,
        job,
        schedules: schedules.into_iter().map(|(_, s)| s).collect(),
        timezone: ctx.host_zone_name.clone(),
        entries,
        next_fire: next.map(|t| format!("{t:.0}")),
        next_fire_unix: next.map(|t| t.as_second()),
        spec_next_fire: None,
        error: None,
        other_target: None,
        global: None,
    }
}

fn from_spec(
    ctx: &Context,
    spec: &JobSpec,
    entries: Vec<EntryStatus>,
    now: Timestamp,
) -> JobStatus {
    let target = ctx.backend.target_id();
    JobStatus {
        app: spec.app.clone(),
        job: spec.job.name.clone(),
        schedules: spec.job.schedules.clone(),
        timezone: spec.job.timezone.clone(),
        entries,
        last_run: last_run(state_dir_of(ctx, spec), &spec.app, &spec.job.name),
        next_fire: None,
        next_fire_unix: None,
        spec_next_fire: metrics::next_fire(&spec.job.schedules, &spec.job.timezone, now)
            .map(|t| format!("{t:.0}")),
        error: None,
        other_target: spec.target.clone().filter(|t| *t != target),
        global: None,
    }
}

/// The spec's state dir; a spec the reference tool wrote records none, so it is this target's.
fn state_dir_of<'a>(ctx: &'a Context, spec: &'a JobSpec) -> &'a Path {
    match spec.origin {
        SpecOrigin::Reference => &ctx.paths.state_dir,
        SpecOrigin::Cronix => Path::new(&spec.state_dir),
    }
}

fn last_run(state_dir: &Path, app: &str, job: &str) -> Option<RunRecord> {
    let path = history_file::history_path(state_dir, app, job);
    let runs = history_file::read_records(&path).ok()?;
    let newest = history::Filter {
        limit: Some(1),
        ..Default::default()
    };
    history::filter(runs, &newest).pop()
}

/// `0:in-sync 1:missing`, or where the entries are.
fn entries_cell(row: &JobStatus) -> String {
    if let Some(other) = &row.other_target {
        return format!("in {other}");
    }
    if row.entries.is_empty() {
        return "-".to_string();
    }
    row.entries
        .iter()
        .map(|e| format!("{}:{}", e.idx, e.state.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_table(rows: &[JobStatus], spec_dir: &Path, now: Timestamp) {
    if rows.is_empty() {
        outln!("no jobs (no spec files in {})", spec_dir.display());
        return;
    }
    let with_global = rows.iter().any(|r| r.global.is_some());
    let mut header = vec!["NEXT", "LEFT", "LAST", "PASSED", "JOB", "STATUS", "ENTRIES"];
    if with_global {
        header.push("GLOBAL");
    }
    let mut table = Grid::with_header(header);
    table.keep(&[0, 1, 3, 5]).at_least(4, 16);
    let dash = || "-".to_string();
    let mut rows: Vec<&JobStatus> = rows.iter().collect();
    // Soonest first, as list-timers sorts; jobs with nothing installed last.
    rows.sort_by_key(|r| (r.next_fire_unix.is_none(), r.next_fire_unix));
    for row in rows {
        let next = row
            .next_fire
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        let last = row
            .last_run
            .as_ref()
            .and_then(|r| r.started_at.parse::<Timestamp>().ok());
        let status = match (&row.error, &row.last_run) {
            (Some(error), _) => format!("unreadable spec: {error}"),
            (None, Some(r)) => r.status.to_string(),
            (None, None) => dash(),
        };
        let mut cells = vec![
            next.map_or_else(dash, minutes),
            next.map_or_else(dash, |t| span(now, t)),
            match (&row.last_run, last) {
                (_, Some(t)) => minutes(t),
                (Some(r), None) => r.started_at.clone(),
                (None, None) => "never".to_string(),
            },
            last.map_or_else(dash, |t| span(t, now)),
            format!("{}.{}", row.app, row.job),
            status,
            entries_cell(row),
        ];
        if with_global {
            cells.push(row.global.as_ref().map_or_else(dash, GlobalView::describe));
        }
        table.add_cells(row_mark(row), cells);
    }
    table.print();
}

/// A time as the table shows it (UTC, to the minute).
fn minutes(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

/// Failed last runs and unreadable specs in red, entries not in sync in yellow.
fn row_mark(row: &JobStatus) -> Mark {
    let failed =
        row.error.is_some() || row.last_run.as_ref().is_some_and(|r| r.status.is_failure());
    if failed {
        Mark::Failed
    } else if row.entries.iter().any(|e| e.state.as_str() != "in-sync") {
        Mark::Drifted
    } else {
        Mark::Plain
    }
}

/// The time from `from` to `to` as `systemctl list-timers` writes it: its two largest units
/// (`2d 3h`, `3h 12min`, `12min 5s`, `5s`); `0s` when `to` is not after `from`.
pub fn span(from: Timestamp, to: Timestamp) -> String {
    let secs = (to.as_second() - from.as_second()).max(0);
    let units = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            parts.push(String::new());
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

impl GlobalView {
    /// One line for tables: the holder (host, run, since) and the newest claimed instant.
    pub fn describe(&self) -> String {
        if let Some(error) = &self.error {
            return format!("unknown: {error}");
        }
        let holder = match &self.holder {
            Some(h) => format!("held by {} (run {}) since {}", h.host_id, h.run_id, h.since),
            None => "free".to_string(),
        };
        let last = match &self.last_claim {
            Some(c) => {
                let at = Timestamp::from_second(c.fire_time)
                    .map(|t| format!("{t:.0}"))
                    .unwrap_or_else(|_| c.fire_time.to_string());
                format!("last claimed {at} by {}", c.host_id)
            }
            None => "nothing claimed yet".to_string(),
        };
        format!("{holder}; {last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_list_timers() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let from = at("2026-03-01T00:00:00Z");
        assert_eq!(span(from, at("2026-03-01T00:00:05Z")), "5s");
        assert_eq!(span(from, at("2026-03-01T00:12:05Z")), "12min 5s");
        assert_eq!(span(from, at("2026-03-01T03:12:05Z")), "3h 12min");
        assert_eq!(span(from, at("2026-03-01T03:00:05Z")), "3h");
        assert_eq!(span(from, at("2026-03-03T03:00:00Z")), "2d 3h");
        assert_eq!(span(from, from), "0s");
        assert_eq!(span(at("2026-03-02T00:00:00Z"), from), "0s");
    }
}
