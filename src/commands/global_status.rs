//! `cronix global-status`: every job that has a spec file in the spec dir, with its schedules, its last
//! run (from its history) and its next fire.
//!
//! Reads only. A spec file that does not parse is listed with the reason instead of hiding it.
//! Jobs with `concurrency_scope: global` also show their Redis state (lease holder, newest claimed
//! instant); Redis is contacted only when such a job exists.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{GlobalArgs, ListArgs, Output};
use crate::commands::history::plain_table;
use crate::core::global_lock::Claim;
use crate::core::history::{self, RunRecord};
use crate::core::manifest::ConcurrencyScope;
use crate::core::schedule::Schedule;
use crate::core::spec::JobSpec;
use crate::error::{Failure, Status};
use crate::shell::config::{self, Config, StatePaths};
use crate::shell::{global_lock, history as history_file, spec_store, tz};

/// One row of the status (the `-o json` shape).
#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub app: String,
    pub job: String,
    pub schedules: Vec<String>,
    pub timezone: String,
    pub last_run: Option<RunRecord>,
    /// RFC 3339 UTC of the next fire over all schedules.
    pub next_fire: Option<String>,
    /// Why the spec file could not be read, if it could not.
    pub error: Option<String>,
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

pub fn run(global: &GlobalArgs, args: &ListArgs) -> Result<Status, Failure> {
    let _backend = args.backend().map_err(Failure::usage)?;
    let loaded = config::load(global.config.as_deref())?;
    let spec_dir = StatePaths::resolve(&args.target.paths, &loaded.config).spec_dir;
    let now = Timestamp::now();
    let mut redis = None;
    let rows: Vec<JobStatus> = spec_files(&spec_dir)?
        .into_iter()
        .map(|path| job_status(&path, now, &mut redis, &loaded.config))
        .collect();
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
        ),
        Output::Table => print_table(&rows, &spec_dir),
    }
    Ok(Status::OK)
}

/// `<spec-dir>/*.json`, sorted by name; a missing spec dir has no jobs.
fn spec_files(spec_dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = match std::fs::read_dir(spec_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Failure::invalid(format!(
                "spec dir {}: cannot list it ({e}); pass --spec-dir or fix spec_dir in the config",
                spec_dir.display()
            )));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_spec_file_name(p))
        .collect();
    files.sort();
    Ok(files)
}

fn is_spec_file_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(".json")
        .is_some_and(|stem| history::split_job_id(stem).is_ok())
}

fn job_status(
    path: &Path,
    now: Timestamp,
    redis: &mut Option<Result<global_lock::Redis, String>>,
    config: &Config,
) -> JobStatus {
    let stem = path
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let (app, job) = history::split_job_id(stem).unwrap_or((stem, ""));
    let dir = path.parent().unwrap_or(Path::new("."));
    match spec_store::read_spec(dir, app, job) {
        Ok(spec) => JobStatus {
            global: global_view(&spec, redis, config),
            ..from_spec(&spec, now)
        },
        Err(error) => JobStatus {
            app: app.to_string(),
            job: job.to_string(),
            schedules: Vec::new(),
            timezone: String::new(),
            last_run: None,
            next_fire: None,
            error: Some(error),
            global: None,
        },
    }
}

fn from_spec(spec: &JobSpec, now: Timestamp) -> JobStatus {
    let path = history_file::history_path(Path::new(&spec.state_dir), &spec.app, &spec.job.name);
    let last_run = history_file::read_text(&path)
        .ok()
        .and_then(|text| history::last_record(&text));
    JobStatus {
        app: spec.app.clone(),
        job: spec.job.name.clone(),
        schedules: spec.job.schedules.clone(),
        timezone: spec.job.timezone.clone(),
        last_run,
        next_fire: next_fire(spec, now).map(|t| format!("{t:.0}")),
        error: None,
        global: None,
    }
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
        "LAST RUN",
        "LAST STATUS",
        "NEXT FIRE",
        "GLOBAL",
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
            last_run,
            last_status,
            row.next_fire.clone().unwrap_or_else(dash),
            row.global.as_ref().map_or_else(dash, GlobalView::describe),
        ]);
    }
    println!("{}", table.trim_fmt());
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
