//! `cronix next`: print the next fire times of a schedule.
//!
//! Checks the flags, reads the clock when `--after` is absent, and prints. The fire times come from
//! `core::schedule`; this module must not compute any itself.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::cli::NextArgs;
use crate::core::schedule::Schedule;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::tz;

/// Most fire times one invocation prints.
pub const MAX_COUNT: usize = 1000;

/// The JSON shape of `cronix next -o json`.
#[derive(Debug, Serialize)]
struct NextReport {
    expression: String,
    crontab: String,
    timezone: String,
    /// The fire times, RFC 3339 with the zone's offset (the wall clock the job sees).
    next: Vec<String>,
    /// The same instants in unix seconds.
    next_unix: Vec<i64>,
}

pub fn run(global: &Global, args: &NextArgs) -> Result<ExitStatus, Failure> {
    let schedule = Schedule::parse(&args.expr).map_err(|e| Failure::invalid(e.message))?;
    let zone = checked_zone(&args.timezone)?;
    let count = checked_count(args.count)?;
    let after = match &args.after {
        Some(text) => parse_after(text)?,
        None => Timestamp::now(),
    };
    let fires = fire_times(&schedule, after, &zone, count);
    match global.output {
        Output::Table | Output::Wide => write_lines(&fires)?,
        Output::Json => print_json(&schedule, &args.timezone, fires)?,
        Output::Yaml => {
            crate::printer::document(Output::Yaml, &report(&schedule, &args.timezone, fires))
        }
    }
    Ok(ExitStatus::OK)
}

fn checked_zone(name: &str) -> Result<TimeZone, Failure> {
    tz::zone(name).ok_or_else(|| {
        Failure::invalid(format!(
            "--timezone {name:?} is not a time zone in the system tz database; use an exact IANA \
             name such as UTC, Europe/Paris or America/New_York"
        ))
    })
}

fn checked_count(count: usize) -> Result<usize, Failure> {
    if (1..=MAX_COUNT).contains(&count) {
        Ok(count)
    } else {
        Err(Failure::usage(format!(
            "--count {count} is out of range; use 1 to {MAX_COUNT}"
        )))
    }
}

fn parse_after(text: &str) -> Result<Timestamp, Failure> {
    text.parse::<Timestamp>().map_err(|_| {
        Failure::usage(format!(
            "--after {text:?} is not an RFC 3339 timestamp; write one with an offset, e.g. \
             2026-03-08T01:30:00Z or 2026-03-08T01:30:00-05:00"
        ))
    })
}

/// Up to `count` fire times strictly after `after`, as RFC 3339 with the zone's offset.
fn fire_times(schedule: &Schedule, after: Timestamp, zone: &TimeZone, count: usize) -> Vec<String> {
    let mut fires = Vec::with_capacity(count);
    let mut cursor = after;
    while fires.len() < count {
        let Some(next) = schedule.next_after(cursor, zone) else {
            break;
        };
        fires.push(
            next.timestamp()
                .display_with_offset(next.offset())
                .to_string(),
        );
        cursor = next.timestamp();
    }
    fires
}

/// Write lines to stdout; a reader that stops early (`| head -1`) is not an error.
fn write_lines(lines: &[String]) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(stdout, "{}", crate::core::escape::terminal(line)))
        .and_then(|()| stdout.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::invalid(format!(
            "cannot write the fire times to stdout: {e}"
        ))),
        _ => Ok(()),
    }
}

fn report(schedule: &Schedule, timezone: &str, next: Vec<String>) -> NextReport {
    NextReport {
        expression: schedule.source().to_string(),
        crontab: schedule.crontab_expression(),
        timezone: timezone.to_string(),
        next_unix: next
            .iter()
            .filter_map(|t| t.parse::<Timestamp>().ok())
            .map(|t| t.as_second())
            .collect(),
        next,
    }
}

fn print_json(schedule: &Schedule, timezone: &str, next: Vec<String>) -> Result<(), Failure> {
    let text = serde_json::to_string(&report(schedule, timezone, next))
        .map_err(|e| Failure::invalid(format!("cannot encode the fire times as JSON: {e}")))?;
    write_lines(&[text])
}
