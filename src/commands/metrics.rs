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

/// One job in `-o json`.
#[derive(Debug, Serialize)]
struct JobJson<'a> {
    #[serde(flatten)]
    tally: &'a Tally,
    next_fire: Option<i64>,
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
            let rows: Vec<JobJson<'_>> = jobs
                .iter()
                .map(|j| JobJson {
                    tally: &j.tally,
                    next_fire: j.next_fire,
                })
                .collect();
            crate::printer::document_pretty(global.output, &rows);
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
