//! `cronix check [--grace D]`: missed fires. For every job with a spec file, the schedule instants
//! since the spec was written (install or last change; at most 7 days back) and older than the grace
//! that left no history record (or only a `silenced` one: a global-scope fire held back by a claim
//! or lease in Redis that looked planted); printed, alerted once per job and episode, exit 1 when any.
//!
//! Sequencing only: the instants and episodes are `core::missed`, the episode state a
//! `shell::job_state` file, delivery `shell::alert`. Reads the clock through `shell::clock`, so debug
//! builds can run it at any instant (`CRONIX_TEST_NOW`).

use std::collections::BTreeSet;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use slog::{Logger, warn};

use crate::cli::CheckArgs;
use crate::core::alert::AlertEvent;
use crate::core::global_lock::SILENCED_CLASS;
use crate::core::history::RunRecord;
use crate::core::missed::{self, EpisodeState};
use crate::core::schedule::Schedule;
use crate::core::spec::JobSpec;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::config::{self, Config, StatePaths};
use crate::shell::{alert, clock, history, host, job_state, logging, spec_store, tz};

/// The state kind (directory) of missed-fire episodes.
pub const EPISODE_KIND: &str = "check";

/// Exit status when a fire was missed.
pub const MISSED_EXIT: ExitStatus = ExitStatus::FAILED;

/// One job's missed instants (the `-o json` shape).
#[derive(Debug, Serialize)]
struct JobReport {
    app: String,
    job: String,
    /// When the spec was written (RFC 3339): instants before it are not the job's.
    installed_at: String,
    /// Missed instants, oldest first (RFC 3339, UTC).
    missed: Vec<String>,
    episodes: usize,
    /// The missed instants a global-scope fire held back because the claim or lease in Redis
    /// looked planted (RFC 3339, UTC): a silenced job.
    silenced: Vec<String>,
    #[serde(skip)]
    state_dir: String,
    /// The episode to alert: its first instant and length.
    #[serde(skip)]
    alert: Option<(i64, u32)>,
}

#[derive(Debug, Serialize)]
struct Report {
    checked_at: String,
    jobs_checked: usize,
    jobs: Vec<JobReport>,
}

pub fn run(global: &Global, args: &CheckArgs) -> Result<ExitStatus, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let paths = StatePaths::resolve(&args.paths.flags(), &loaded.config);
    let grace = humantime::parse_duration(args.grace.trim()).map_err(|e| {
        Failure::usage(format!(
            "--grace {:?}: {e}; write a duration such as 2m or 1h",
            args.grace
        ))
    })?;
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX / 2);
    let now = clock::now();
    let level = logging::effective_level(global.log_level, loaded.config.log_level);
    let log = logging::command_logger(level);
    let jobs = spec_store::list(&paths.spec_dir)?;
    let mut reports = Vec::new();
    for (app, job) in &jobs {
        let Some(spec) = spec_store::find_spec(&paths.spec_dir, app, job)? else {
            continue;
        };
        let installed = installed_at(&paths.spec_dir, app, job)?;
        if let Some(report) = job_report(&spec, installed, now, grace)? {
            reports.push(report);
        }
    }
    raise_alerts(&loaded.config, &reports, now, &log);
    let missed_any = !reports.is_empty();
    let report = Report {
        checked_at: format!("{now:.0}"),
        jobs_checked: jobs.len(),
        jobs: reports,
    };
    print(global.output, &report);
    Ok(if missed_any {
        MISSED_EXIT
    } else {
        ExitStatus::OK
    })
}

/// The spec file's modification time: when apply last wrote the job (its install or last change).
fn installed_at(spec_dir: &Path, app: &str, job: &str) -> Result<Timestamp, Failure> {
    let path = spec_store::path(spec_dir, app, job);
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map_err(|e| Failure::backend(format!("spec {}: {e}", path.display())))?;
    Timestamp::try_from(modified)
        .map_err(|e| Failure::backend(format!("spec {}: {e}", path.display())))
}

/// The job's missed instants and the episode to alert, or `None` when nothing was missed.
fn job_report(
    spec: &JobSpec,
    installed: Timestamp,
    now: Timestamp,
    grace: i64,
) -> Result<Option<JobReport>, Failure> {
    let grace = grace.max(missed::worst_case_fire_seconds(&spec.job.policy));
    let ago = |seconds: i64| {
        now.checked_sub(SignedDuration::from_secs(seconds))
            .unwrap_or(Timestamp::MIN)
    };
    let since = installed.max(ago(missed::MAX_LOOKBACK_SECONDS));
    let until = ago(grace);
    if until <= since {
        return Ok(None);
    }
    let Some(zone) = tz::zone(&spec.job.timezone) else {
        return Err(Failure::backend(format!(
            "job {}.{}: timezone {:?} is not in this host's tz database; install tzdata",
            spec.app, spec.job.name, spec.job.timezone
        )));
    };
    let schedules = Schedule::parse_valid(&spec.job.schedules);
    let instants = missed::instants(&schedules, &zone, since, until);
    let path = history::history_path(Path::new(&spec.state_dir), &spec.app, &spec.job.name);
    let records = history::read_records(&path).map_err(Failure::backend)?;
    // A `duplicate` or `contended` record whose claim or lease looked planted (the shim recorded
    // `silenced`) does not count: nobody delivered that instant.
    let is_silenced = |r: &&RunRecord| r.error.as_deref() == Some(SILENCED_CLASS);
    let recorded: BTreeSet<i64> = records
        .iter()
        .filter(|r| !is_silenced(r))
        .filter_map(|r| r.fired())
        .map(|t| t.as_second())
        .collect();
    let silenced: BTreeSet<i64> = records
        .iter()
        .filter(is_silenced)
        .filter_map(|r| r.fired())
        .map(|t| t.as_second())
        .filter(|t| !recorded.contains(t))
        .collect();
    let episodes = missed::episodes(&instants, &recorded);
    if episodes.is_empty() {
        return Ok(None);
    }
    let state_path = job_state::path(
        Path::new(&spec.state_dir),
        EPISODE_KIND,
        &spec.app,
        &spec.job.name,
    );
    let last_alerted = job_state::read::<EpisodeState>(&state_path)
        .ok()
        .flatten()
        .and_then(|s| s.last_alerted);
    let alert = missed::episode_to_alert(&episodes, last_alerted).and_then(|e| {
        let first = e.first()?.as_second();
        Some((first, u32::try_from(e.instants.len()).unwrap_or(u32::MAX)))
    });
    Ok(Some(JobReport {
        app: spec.app.clone(),
        job: spec.job.name.clone(),
        installed_at: format!("{installed:.0}"),
        missed: episodes
            .iter()
            .flat_map(|e| e.instants.iter().map(|t| format!("{t:.0}")))
            .collect(),
        episodes: episodes.len(),
        silenced: episodes
            .iter()
            .flat_map(|e| e.instants.iter())
            .filter(|t| silenced.contains(&t.as_second()))
            .map(|t| format!("{t:.0}"))
            .collect(),
        state_dir: spec.state_dir.clone(),
        alert,
    }))
}

/// One `missed` event per job whose newest episode was not alerted yet, to the targets that cover its
/// app. The episode is remembered under the state file's lock before the event is sent, so two
/// concurrent checks raise it once.
fn raise_alerts(config: &Config, reports: &[JobReport], now: Timestamp, log: &Logger) {
    if config.alerts.is_empty() {
        return;
    }
    let host_id = host::host_id(config);
    let mut items = Vec::new();
    for report in reports {
        let Some((first, count)) = report.alert else {
            continue;
        };
        let targets: Vec<_> = config
            .alerts
            .iter()
            .filter(|t| t.covers(&report.app))
            .collect();
        if targets.is_empty() || !claim_episode(report, first, log) {
            continue;
        }
        let Ok(first_ts) = Timestamp::from_second(first) else {
            continue;
        };
        let event = AlertEvent::missed(&report.app, &report.job, first_ts, count, &host_id, now);
        for target in targets {
            items.push(alert::Item {
                target,
                event: event.clone(),
            });
        }
    }
    alert::dispatch(items, config.env_file.as_deref(), &config.transport(), log);
}

/// Record `first` as the newest alerted episode; false when it (or a newer one) already was.
fn claim_episode(report: &JobReport, first: i64, log: &Logger) -> bool {
    let path = job_state::path(
        Path::new(&report.state_dir),
        EPISODE_KIND,
        &report.app,
        &report.job,
    );
    let claimed = job_state::update(&path, |state: EpisodeState| {
        if state.last_alerted.is_some_and(|l| l >= first) {
            (state, false)
        } else {
            (
                EpisodeState {
                    last_alerted: Some(first),
                },
                true,
            )
        }
    });
    claimed.unwrap_or_else(|msg| {
        warn!(log, "cannot record the missed-fire episode; not alerted"; "error" => msg,
              "app" => &report.app, "job" => &report.job);
        false
    })
}

fn print(output: Output, report: &Report) {
    match output {
        Output::Json | Output::Yaml => crate::printer::document(output, report),
        Output::Table | Output::Wide => {
            for job in &report.jobs {
                for instant in &job.missed {
                    let what = if job.silenced.contains(instant) {
                        "missed (silenced: a planted claim or lease in Redis held it back)"
                    } else {
                        "missed"
                    };
                    outln!("{}.{}\t{instant}\t{what}", job.app, job.job);
                }
            }
            let missed: usize = report.jobs.iter().map(|j| j.missed.len()).sum();
            if missed == 0 {
                outln!("no missed fires in {} jobs", report.jobs_checked);
            } else {
                outln!(
                    "{missed} missed fires in {} of {} jobs",
                    report.jobs.len(),
                    report.jobs_checked
                );
            }
        }
    }
}
