//! `cronix global-status`: every job that has a spec file in the spec dir or an entry in the target,
//! with its schedules, the state of each of its entries in the installed crontab (`in-sync`,
//! `edited`, `missing`, `orphan`, read as `drift` reads them), its last run (from its history) and its
//! next fire.
//!
//! Reads only. A spec file that does not parse is listed with the reason instead of hiding it; a spec
//! recorded for another target is listed without entry states (its entries are not in this one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{GlobalArgs, Output, TargetArgs};
use crate::commands::history::plain_table;
use crate::core::entry_status::{self, EntryStatus};
use crate::core::history::{self, RunRecord};
use crate::core::schedule::Schedule;
use crate::core::spec::JobSpec;
use crate::error::{Failure, Status};
use crate::shell::reconcile::{self, Context};
use crate::shell::{history as history_file, spec_store, tz};

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
    /// RFC 3339 UTC of the next fire over all schedules.
    pub next_fire: Option<String>,
    /// Why the spec file could not be read, or that there is none.
    pub error: Option<String>,
    /// The target the spec was applied to, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_target: Option<String>,
}

pub fn run(global: &GlobalArgs, args: &TargetArgs) -> Result<Status, Failure> {
    let ctx = reconcile::context(global, args)?;
    let installed = reconcile::installed(&ctx, None)?;
    let now = Timestamp::now();
    let jobs = spec_store::list(&ctx.paths.spec_dir)?;
    let mut specs: BTreeMap<(String, String), Result<JobSpec, String>> = jobs
        .into_iter()
        .map(|(app, job)| {
            let spec = spec_store::read_spec(&ctx.paths.spec_dir, &app, &job);
            ((app, job), spec)
        })
        .collect();
    let target = ctx.target.describe();
    let here: BTreeMap<(String, String), JobSpec> = specs
        .iter()
        .filter_map(|(key, spec)| spec.as_ref().ok().map(|s| (key.clone(), s.clone())))
        .filter(|(_, spec)| spec.target.as_ref().is_none_or(|t| *t == target))
        .collect();
    let mut by_job: BTreeMap<(String, String), Vec<EntryStatus>> = BTreeMap::new();
    for status in entry_status::statuses(&here, &installed.crontab) {
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
    for key in orphan_only {
        specs.insert(
            key,
            Err(format!(
                "no spec file in {}; `cronix prune --app APP` or apply removes its entries",
                ctx.paths.spec_dir.display()
            )),
        );
    }
    let rows: Vec<JobStatus> = specs
        .into_iter()
        .map(|(key, spec)| {
            let entries = by_job.remove(&key).unwrap_or_default();
            job_status(&ctx, key, spec, entries, now)
        })
        .collect();
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        ),
        Output::Table => print_table(&rows, &ctx.paths.spec_dir),
    }
    Ok(Status::OK)
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
            error: Some(error),
            other_target: None,
        },
    }
}

fn from_spec(
    ctx: &Context,
    spec: &JobSpec,
    entries: Vec<EntryStatus>,
    now: Timestamp,
) -> JobStatus {
    let target = ctx.target.describe();
    JobStatus {
        app: spec.app.clone(),
        job: spec.job.name.clone(),
        schedules: spec.job.schedules.clone(),
        timezone: spec.job.timezone.clone(),
        entries,
        last_run: last_run(Path::new(&spec.state_dir), &spec.app, &spec.job.name),
        next_fire: next_fire(spec, now).map(|t| format!("{t:.0}")),
        error: None,
        other_target: spec.target.clone().filter(|t| *t != target),
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

fn next_fire(spec: &JobSpec, now: Timestamp) -> Option<Timestamp> {
    let zone = tz::zone(&spec.job.timezone)?;
    spec.job
        .schedules
        .iter()
        .filter_map(|s| Schedule::parse(s).ok())
        .filter_map(|s| s.next_after(now, &zone))
        .map(|z| z.timestamp())
        .min()
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

fn print_table(rows: &[JobStatus], spec_dir: &Path) {
    if rows.is_empty() {
        println!("no jobs (no spec files in {})", spec_dir.display());
        return;
    }
    let mut table = plain_table();
    table.set_header([
        "JOB",
        "SCHEDULES",
        "TIMEZONE",
        "ENTRIES",
        "LAST RUN",
        "LAST STATUS",
        "NEXT FIRE",
    ]);
    for row in rows {
        let dash = || "-".to_string();
        let (last_run, last_status) = match (&row.error, &row.last_run) {
            (Some(error), _) => ("-".to_string(), format!("unreadable spec: {error}")),
            (None, Some(r)) => (r.started_at.clone(), r.status.to_string()),
            (None, None) => ("never".to_string(), dash()),
        };
        table.add_row([
            format!("{}.{}", row.app, row.job),
            row.schedules.join(" | "),
            row.timezone.clone(),
            entries_cell(row),
            last_run,
            last_status,
            row.next_fire.clone().unwrap_or_else(dash),
        ]);
    }
    println!("{}", table.trim_fmt());
}
