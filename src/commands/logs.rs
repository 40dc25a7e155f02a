//! `cronix logs [APP.JOB]`: the fires of one job, or of every job merged by time (the `journalctl`
//! view), each with its attempts as readable lines (`-o json`: one JSON object per run and line);
//! `--follow` keeps polling the history files and prints runs as they are recorded, until SIGINT or
//! SIGTERM.
//!
//! Reads only: it never writes or compacts a history file, and prints only what a record holds
//! (times, statuses, error classes; never a header value, a body or a signature).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;

use crate::cli::LogsArgs;
use crate::commands::history::parse_instant;
use crate::core::history::{self, Attempt, RunRecord};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::config::{self, StatePaths};
use crate::shell::history as history_file;

/// How often `--follow` reads the history files again.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Which history files a `logs` reads.
enum Scope {
    /// One job's file.
    Job(PathBuf),
    /// Every file in the state dir's history dir (listed again at every poll).
    All(PathBuf),
}

impl Scope {
    fn files(&self) -> Result<Vec<PathBuf>, Failure> {
        match self {
            Scope::Job(path) => Ok(vec![path.clone()]),
            Scope::All(state_dir) => Ok(history_file::list_jobs(state_dir)
                .map_err(Failure::invalid)?
                .iter()
                .map(|(app, job)| history_file::history_path(state_dir, app, job))
                .collect()),
        }
    }

    /// Every record of the scope, oldest first (merged by start time across jobs).
    fn records(&self) -> Result<Vec<RunRecord>, Failure> {
        let mut all = Vec::new();
        for path in self.files()? {
            all.extend(history_file::read_records(&path).map_err(Failure::invalid)?);
        }
        all.sort_by(|a, b| {
            (a.started(), &a.started_at, &a.run_id).cmp(&(b.started(), &b.started_at, &b.run_id))
        });
        Ok(all)
    }
}

pub fn run(global: &Global, args: &LogsArgs) -> Result<ExitStatus, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let paths = StatePaths::resolve(&args.paths.flags(), &loaded.config);
    let since = args
        .since
        .as_deref()
        .map(|v| parse_instant("--since", v, Timestamp::now()))
        .transpose()
        .map_err(Failure::usage)?;
    let scope = match args.job.as_deref() {
        Some(id) => {
            let (app, job) = history::split_job_id(id).map_err(Failure::invalid)?;
            let path = history_file::history_path(&paths.state_dir, app, job);
            if !path.exists()
                && crate::shell::spec_store::find_spec(&paths.spec_dir, app, job)?.is_none()
            {
                return Err(Failure::invalid(format!(
                    "job {id}: no history in {} and no spec in {}; check the name with `cronix \
                     list`, or run `cronix logs` for every job",
                    paths.state_dir.display(),
                    paths.spec_dir.display()
                )));
            }
            Scope::Job(path)
        }
        None => Scope::All(paths.state_dir.clone()),
    };
    let matches = |r: &RunRecord| {
        since.is_none_or(|since| r.started().is_some_and(|t| t >= since))
            && args.run.as_deref().is_none_or(|id| r.run_id == id)
    };
    let mut records: Vec<RunRecord> = scope.records()?.into_iter().filter(matches).collect();
    if args.limit > 0 {
        let drop = records.len().saturating_sub(args.limit);
        records.drain(..drop);
    }
    if let Some(id) = args.run.as_deref().filter(|_| records.is_empty()) {
        return Err(Failure::invalid(format!(
            "run {id:?}: no such run in {}; list the recent runs with `cronix logs{}`",
            scope_place(&scope).display(),
            args.job
                .as_deref()
                .map(|j| format!(" {j}"))
                .unwrap_or_default()
        )));
    }
    if records.is_empty() && global.output == Output::Table && !args.follow {
        outln!(
            "no runs recorded (history: {})",
            scope_place(&scope).display()
        );
    }
    for record in &records {
        print_run(global.output, record, args.job.is_none());
    }
    if args.follow {
        follow(global.output, &scope, &matches, args.job.is_none())?;
    }
    Ok(ExitStatus::OK)
}

fn scope_place(scope: &Scope) -> PathBuf {
    match scope {
        Scope::Job(path) => path.clone(),
        Scope::All(state_dir) => state_dir.join(history::HISTORY_DIR),
    }
}

/// Print every run recorded from now on, until SIGINT or SIGTERM (or until stdout's reader goes away). Runs are told apart by run id (a
/// compaction rewrites a file; the runs it keeps are not printed twice).
fn follow(
    output: Output,
    scope: &Scope,
    matches: &dyn Fn(&RunRecord) -> bool,
    show_job: bool,
) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| {
            Failure::invalid(format!(
                "logs --follow: cannot handle signal {signal} ({e})"
            ))
        })?;
    }
    let mut seen: HashSet<String> = scope.records()?.into_iter().map(|r| r.run_id).collect();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(FOLLOW_POLL);
        // A file being replaced by a compaction may read short for an instant; the next poll sees it.
        let Ok(records) = scope.records() else {
            continue;
        };
        for record in records {
            if seen.insert(record.run_id.clone())
                && matches(&record)
                && !crate::printer::out_reached(&run_text(output, &record, show_job))
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn print_run(output: Output, record: &RunRecord, show_job: bool) {
    crate::printer::out(&run_text(output, record, show_job));
}

/// A run as printed: JSON on one line, a YAML document, or readable lines.
fn run_text(output: Output, record: &RunRecord, show_job: bool) -> String {
    match output {
        Output::Json => serde_json::to_string(record).unwrap_or_default() + "\n",
        Output::Yaml => format!("---\n{}", serde_yaml::to_string(record).unwrap_or_default()),
        Output::Table | Output::Wide => run_lines(record, show_job),
    }
}

/// A run as readable lines: a heading, then one indented line per attempt.
pub fn run_lines(r: &RunRecord, show_job: bool) -> String {
    let job = if show_job {
        format!("{}.{} ", r.app, r.job)
    } else {
        String::new()
    };
    let attempts = match r.attempts {
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    let mut detail = vec![attempts, human_ms(r.duration_ms)];
    if let Some(code) = r.http_status {
        detail.push(format!("http {code}"));
    }
    if let Some(error) = &r.error {
        detail.push(error.clone());
    }
    detail.push(format!("exit {}", r.exit_code));
    if let Some(host) = &r.host_id {
        detail.push(format!("host {host}"));
    }
    if let Some(fallback) = &r.fallback {
        detail.push(format!("fallback {fallback}"));
    }
    let mut text = format!(
        "{} {job}{} (fire {}, run {}): {}\n",
        r.started_at,
        r.status,
        r.fire_time,
        r.run_id,
        detail.join(", ")
    );
    for a in &r.attempt_log {
        text.push_str(&attempt_line(a));
        text.push('\n');
    }
    if r.attempt_log.len() < usize::try_from(r.attempts).unwrap_or(usize::MAX)
        && !r.attempt_log.is_empty()
    {
        text.push_str(&format!(
            "  ({} of {} attempts kept)\n",
            r.attempt_log.len(),
            r.attempts
        ));
    }
    text
}

fn attempt_line(a: &Attempt) -> String {
    let outcome = match a.http_status {
        Some(code) => format!("http {code} ({})", a.result),
        None => a.result.clone(),
    };
    let wait = a
        .wait_ms
        .map(|w| format!(", then waited {}", human_ms(w)))
        .unwrap_or_default();
    format!(
        "  attempt {} at {}: {outcome} in {}{wait}",
        a.attempt,
        a.started_at,
        human_ms(a.duration_ms)
    )
}

/// `850ms`, `1.2s`, `2m5s`.
fn human_ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::history::RunStatus;

    #[test]
    fn a_run_reads_as_a_heading_and_one_line_per_attempt() {
        let record = RunRecord {
            run_id: "r1".into(),
            app: "billing".into(),
            job: "settle".into(),
            fire_time: "2026-03-01T10:00:00Z".into(),
            started_at: "2026-03-01T10:00:00.120Z".into(),
            duration_ms: 3_400,
            attempts: 2,
            status: RunStatus::Ok,
            http_status: Some(200),
            exit_code: 0,
            error: None,
            host_id: None,
            fallback: None,
            attempt_log: vec![
                Attempt {
                    attempt: 1,
                    started_at: "2026-03-01T10:00:00.121Z".into(),
                    duration_ms: 12,
                    http_status: Some(503),
                    result: "5xx".into(),
                    wait_ms: Some(2_000),
                },
                Attempt {
                    attempt: 2,
                    started_at: "2026-03-01T10:00:02.140Z".into(),
                    duration_ms: 1_300,
                    http_status: Some(200),
                    result: "ok".into(),
                    wait_ms: None,
                },
            ],
        };
        assert_eq!(
            run_lines(&record, true),
            "2026-03-01T10:00:00.120Z billing.settle ok (fire 2026-03-01T10:00:00Z, run r1): \
             2 attempts, 3.4s, http 200, exit 0\n"
                .to_string()
                + "  attempt 1 at 2026-03-01T10:00:00.121Z: http 503 (5xx) in 12ms, then waited 2.0s\n"
                + "  attempt 2 at 2026-03-01T10:00:02.140Z: http 200 (ok) in 1.3s\n"
        );
    }
}
