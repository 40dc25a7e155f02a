//! `cronix metrics`: the Prometheus text exposition of every job with a spec file, folded from its
//! whole history (the same text the shim keeps in the configured textfile), or the tallies as JSON.
//!
//! Reads only: specs, histories and the config. Must not write tallies or the textfile.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::MetricsArgs;
use crate::core::metrics::{self, JobMetrics, Tally};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::config::{self, StatePaths};
use crate::shell::{history, host, metrics as metrics_file, spec_store};

/// `-o json`: every job's tallies.
#[derive(Debug, Serialize)]
struct MetricsDoc<'a> {
    host_id: String,
    jobs: Vec<JobJson<'a>>,
}

/// One job in `-o json`: its tallies, times as RFC 3339 UTC with their unix seconds next to them.
#[derive(Debug, Serialize)]
struct JobJson<'a> {
    app: &'a str,
    job: &'a str,
    /// Runs per final status name.
    runs: &'a std::collections::BTreeMap<String, u64>,
    last_run: Option<String>,
    last_run_unix: Option<i64>,
    last_success: Option<String>,
    last_success_unix: Option<i64>,
    last_status: Option<crate::core::history::RunStatus>,
    last_duration_ms: Option<u64>,
    consecutive_failures: u32,
    next_fire: Option<String>,
    next_fire_unix: Option<i64>,
}

impl<'a> JobJson<'a> {
    fn of(tally: &'a Tally, next_fire: Option<i64>) -> JobJson<'a> {
        JobJson {
            app: &tally.app,
            job: &tally.job,
            runs: &tally.runs,
            last_run: tally.last_run.and_then(rfc3339),
            last_run_unix: tally.last_run,
            last_success: tally.last_success.and_then(rfc3339),
            last_success_unix: tally.last_success,
            last_status: tally.last_status,
            last_duration_ms: tally.last_duration_ms,
            consecutive_failures: tally.consecutive_failures,
            next_fire: next_fire.and_then(rfc3339),
            next_fire_unix: next_fire,
        }
    }
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(secs: i64) -> Option<String> {
    Timestamp::from_second(secs).ok().map(|t| format!("{t:.0}"))
}

pub fn run(global: &Global, args: &MetricsArgs) -> Result<ExitStatus, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let spec_dir = StatePaths::resolve(&args.paths.flags(), &loaded.config).spec_dir;
    let now = Timestamp::now();
    let jobs = job_metrics(&spec_dir, now)?;
    match global.output {
        Output::Table | Output::Wide => {
            out!("{}", metrics::render(&jobs, &host::host_id(&loaded.config)))
        }
        Output::Json | Output::Yaml => {
            let doc = MetricsDoc {
                host_id: host::host_id(&loaded.config),
                jobs: jobs
                    .iter()
                    .map(|j| JobJson::of(&j.tally, j.next_fire))
                    .collect(),
            };
            crate::printer::document(global.output, &doc);
        }
    }
    Ok(ExitStatus::OK)
}

/// Every job with a spec: its whole history folded, and its next fire.
fn job_metrics(spec_dir: &Path, now: Timestamp) -> Result<Vec<JobMetrics>, Failure> {
    let mut out = Vec::new();
    for (app, job) in spec_store::list(spec_dir)? {
        let Some(spec) = spec_store::find_spec(spec_dir, &app, &job)? else {
            continue;
        };
        let path = history::history_path(Path::new(&spec.state_dir), &app, &job);
        let records = history::read_records(&path).map_err(Failure::backend)?;
        out.push(JobMetrics {
            tally: Tally::of(&app, &job, &records),
            next_fire: metrics_file::next_fire(&spec.job.schedules, &spec.job.timezone, now)
                .map(|t| t.as_second()),
        });
    }
    Ok(out)
}
