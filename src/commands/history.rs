//! `cronix history APP.JOB` (a job's runs) and `cronix history --audit` (the apply/prune journal), with
//! `--limit`, `--since` and `--status`, as a table or JSON.
//!
//! Reads only; the state dir comes from `--state-dir`, else the config's `state_dir`, else the default.
//! A backend whose target records the runs itself (`Capabilities::history`) is asked instead.

use std::path::Path;

use jiff::Timestamp;

use crate::cli::HistoryArgs;
use crate::core::audit::{AUDIT_FILE, AuditRecord};
use crate::core::history::{self, Filter, RunRecord, StatusQuery};
use crate::error::{ExitStatus, Failure};
use crate::printer::{Grid, Mark};
use crate::settings::{Global, Output};
use crate::shell::backend::HistorySource;
use crate::shell::config::{self, StatePaths};
use crate::shell::history as history_file;
use crate::shell::reconcile::{self, Context};

pub fn run(global: &Global, args: &HistoryArgs) -> Result<ExitStatus, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let state_dir = StatePaths::resolve(&args.target.place.paths.flags(), &loaded.config).state_dir;
    let (backend, id) = args.backend_and_job().map_err(Failure::usage)?;
    let now = Timestamp::now();
    let since = parse_when("--since", args.since.as_deref(), now)?;
    let until = parse_when("--until", args.until.as_deref(), now)?;
    if args.audit {
        if let Some(id) = id {
            return Err(Failure::usage(format!(
                "--audit reads the apply journal, not a job; drop {id:?} or --audit"
            )));
        }
        if args.status.is_some() {
            return Err(Failure::usage(
                "--status filters runs; it does not apply to --audit (drop one of them)",
            ));
        }
        return show_audit(&state_dir, (since, until), args.limit, global.output);
    }
    let id = id.ok_or_else(|| Failure::usage("history needs the job as APP.JOB, or --audit"))?;
    let (app, job) = history::split_job_id(id).map_err(Failure::invalid)?;
    let status = args
        .status
        .as_deref()
        .map(StatusQuery::parse)
        .transpose()
        .map_err(|e| Failure::usage(format!("--status: {e}")))?;
    let (target, unreadable) = match recorded_by_target(global, &loaded, args, backend) {
        Ok(target) => (target, None),
        Err(failure) => (None, Some(failure.message)),
    };
    let (records, source) = match target {
        Some(ctx) => (
            ctx.backend.history(app, job)?,
            format!("runs recorded by {}", ctx.backend.describe()),
        ),
        None => {
            let path = history_file::history_path(&state_dir, app, job);
            if !path.exists() {
                let spec_dir =
                    StatePaths::resolve(&args.target.place.paths.flags(), &loaded.config).spec_dir;
                if crate::shell::spec_store::find_spec(&spec_dir, app, job)?.is_none() {
                    let why = unreadable
                        .map(|e| format!("; the {backend} target could not be read either: {e}"))
                        .unwrap_or_default();
                    return Err(Failure::invalid(format!(
                        "job {id}: no history in {} and no spec in {}{why}; check the name with \
                         `cronix list`",
                        state_dir.display(),
                        spec_dir.display()
                    )));
                }
            }
            let records = history_file::read_records(&path).map_err(Failure::invalid)?;
            (records, format!("history: {}", path.display()))
        }
    };
    let filter = Filter {
        since,
        until,
        status,
        limit: args.limit,
    };
    let records = history::filter(records, &filter);
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = RunsDoc {
                app,
                job,
                runs: &records,
            };
            crate::printer::document(global.output, &doc)
        }
        Output::Table | Output::Wide => print_runs(&records, id, &source),
    }
    Ok(ExitStatus::OK)
}

/// The target, when its backend records the runs itself (`HistorySource::Backend`: a cluster's
/// finished pods); `None` for the shim's history files on this host. A target that cannot be
/// opened is an error the caller names only when this host has no history of the job either.
fn recorded_by_target(
    global: &Global,
    loaded: &config::Loaded,
    args: &HistoryArgs,
    backend: crate::core::backend_kind::BackendKind,
) -> Result<Option<Context>, Failure> {
    let ctx = reconcile::context_from(loaded, global, &args.target.flags(), backend)?;
    Ok((ctx.backend.capabilities().history == HistorySource::Backend).then_some(ctx))
}

/// `history APP.JOB -o json`: the job and its runs, oldest first.
#[derive(serde::Serialize)]
struct RunsDoc<'a> {
    app: &'a str,
    job: &'a str,
    runs: &'a [RunRecord],
}

/// `history --audit -o json`: the apply/prune journal, oldest first.
#[derive(serde::Serialize)]
struct AuditDoc<'a> {
    audit: &'a [AuditRecord],
}

fn parse_when(
    flag: &str,
    value: Option<&str>,
    now: Timestamp,
) -> Result<Option<Timestamp>, Failure> {
    value
        .map(|v| parse_instant(flag, v, now))
        .transpose()
        .map_err(Failure::usage)
}

/// `--since`/`--until`: an RFC 3339 instant, or a duration ago (`90m`, `24h`, `7d`, `7days`).
pub fn parse_instant(flag: &str, value: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(at) = value.parse::<Timestamp>() {
        return Ok(at);
    }
    let ago = humantime::parse_duration(value).map_err(|_| {
        format!(
            "{flag} {value:?}: use an RFC 3339 time (2026-03-01T00:00:00Z) or a duration ago such \
             as 90m, 24h or 7d"
        )
    })?;
    let ago = jiff::SignedDuration::try_from(ago).map_err(|e| format!("{flag} {value:?}: {e}"))?;
    now.checked_sub(ago)
        .map_err(|e| format!("{flag} {value:?}: {e}"))
}

fn print_runs(records: &[RunRecord], id: &str, source: &str) {
    if records.is_empty() {
        outln!("no runs of {id} match ({source})");
        return;
    }
    let mut table = Grid::new([
        "STARTED",
        "FIRE TIME",
        "STATUS",
        "HTTP",
        "ATTEMPTS",
        "DURATION",
        "EXIT",
        "ERROR",
        "RUN ID",
    ]);
    table.keep(&[0, 2, 3, 5]);
    for r in records {
        table.add_marked(
            run_mark(r),
            [
                crate::printer::table_time(&r.started_at, true),
                crate::printer::table_time(&r.fire_time, false),
                r.status.to_string(),
                r.http_status.map_or("-".into(), |s| s.to_string()),
                r.attempts.to_string(),
                format!("{}ms", r.duration_ms),
                r.exit_code.to_string(),
                r.error.clone().unwrap_or_else(|| "-".into()),
                r.run_id.clone(),
            ],
        );
    }
    table.print();
}

fn show_audit(
    state_dir: &Path,
    (since, until): (Option<Timestamp>, Option<Timestamp>),
    limit: Option<usize>,
    output: Output,
) -> Result<ExitStatus, Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let text = history_file::read_text(&path).map_err(Failure::invalid)?;
    let mut records: Vec<AuditRecord> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|r: &AuditRecord| {
            let at = r.ts.parse::<Timestamp>().ok();
            since.is_none_or(|since| at.is_some_and(|t| t >= since))
                && until.is_none_or(|until| at.is_some_and(|t| t < until))
        })
        .collect();
    if let Some(limit) = limit.filter(|l| *l > 0) {
        let drop = records.len().saturating_sub(limit);
        records.drain(..drop);
    }
    match output {
        Output::Json | Output::Yaml => {
            crate::printer::document(output, &AuditDoc { audit: &records })
        }
        Output::Table | Output::Wide => print_audit(&records, &path),
    }
    Ok(ExitStatus::OK)
}

fn print_audit(records: &[AuditRecord], path: &Path) {
    if records.is_empty() {
        outln!("no applies recorded (audit: {})", path.display());
        return;
    }
    let mut table = Grid::new(["TIME", "COMMAND", "USER", "TARGET", "SOURCE", "CHANGES"]);
    for r in records {
        let user = match &r.sudo_user {
            Some(sudo) => format!("{} (sudo {sudo})", r.user),
            None => r.user.clone(),
        };
        let changes: Vec<String> = r
            .ops
            .iter()
            .map(|op| {
                let idx = op.idx.map(|i| format!("#{i}")).unwrap_or_default();
                format!("{} {} {}.{}{idx}", op.op, op.kind, op.app, op.job)
            })
            .collect();
        let command = match &r.outcome {
            Some(outcome) => format!("{} ({outcome})", r.command),
            None => r.command.clone(),
        };
        table.add([
            crate::printer::table_time(&r.ts, true),
            command,
            user,
            r.target.clone(),
            r.source.clone().unwrap_or_else(|| "-".into()),
            changes.join(", "),
        ]);
    }
    table.print();
}

/// How a run's row is shown on a colour terminal: failed runs stand out.
pub fn run_mark(run: &RunRecord) -> Mark {
    if run.status.is_failure() {
        Mark::Failed
    } else {
        Mark::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_instants_and_durations_ago() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_instant("--since", "2026-02-01T00:00:00Z", now).unwrap(),
            "2026-02-01T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_instant("--since", "2h", now).unwrap(),
            "2026-03-01T10:00:00Z".parse::<Timestamp>().unwrap()
        );
        for (ago, expected) in [
            ("90m", "2026-03-01T10:30:00Z"),
            ("24h", "2026-02-28T12:00:00Z"),
            ("7d", "2026-02-22T12:00:00Z"),
        ] {
            assert_eq!(
                parse_instant("--until", ago, now).unwrap(),
                expected.parse::<Timestamp>().unwrap(),
                "{ago}"
            );
        }
        assert!(
            parse_instant("--since", "yesterday-ish", now)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }
}
