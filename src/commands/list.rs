//! `cronix list`: the cronix-owned entries of the backend (every app): app, job, idx, schedule, hash
//! and next fire.
//!
//! An entry whose fires the backend says follow the spec (a gated crontab line, a systemd timer)
//! shows its job's schedule and zone from the spec, and its next real fire, not the next wake-up of
//! its line.
//!
//! Reads only.

use std::path::Path;

use serde::Serialize;

use crate::cli::ListArgs;
use crate::core::plan::InstalledEntry;
use crate::error::{ExitStatus, Failure};
use crate::printer::Grid;
use crate::settings::{Global, Output};
use crate::shell::reconcile::{self, Context};
use crate::shell::{spec_store, tz};

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub app: String,
    pub job: String,
    pub idx: usize,
    /// `idx` under the reference tool's name for it.
    pub index: usize,
    pub schedule: String,
    pub hash: String,
    /// RFC 3339 UTC of the next fire, and the same in unix seconds.
    pub next_fire: Option<String>,
    pub next_fire_unix: Option<i64>,
    /// The next elapse the service manager reports (systemd timers, `show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_next: Option<String>,
    /// For a gated entry: the schedule and zone its gate checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateView>,
    /// The schedule and zone its fires follow.
    #[serde(skip)]
    pub fires: (String, jiff::tz::TimeZone),
}

#[derive(Debug, Serialize)]
pub struct GateView {
    pub schedule: String,
    pub timezone: String,
}

/// The schedule and zone an entry's fires follow, from the spec the backend says it names.
fn gate_view(ctx: &Context, entry: &InstalledEntry) -> Option<(GateView, jiff::tz::TimeZone)> {
    let (spec, idx) = match ctx.backend.follows(entry) {
        Some((spec_dir, idx)) => (
            spec_store::read_spec(Path::new(&spec_dir), &entry.app, &entry.job).ok()?,
            idx,
        ),
        // Fires that run elsewhere (a pod) follow the spec the target holds.
        None if ctx.backend.fire_paths().is_some() => (
            ctx.backend.specs().find(&entry.app, &entry.job).ok()??,
            entry.idx,
        ),
        None => return None,
    };
    let schedule = spec.job.schedules.get(idx)?.clone();
    let zone = tz::zone(&spec.job.timezone)?;
    Some((
        GateView {
            schedule,
            timezone: spec.job.timezone,
        },
        zone,
    ))
}

#[derive(Serialize)]
struct ListDoc {
    /// The backend's name (a key of the reference tool's list document).
    backend: &'static str,
    target: String,
    entries: Vec<EntryView>,
}

/// One owned entry as list and show print it; the next fire is read in the zone cron fires in
/// unless the entry follows its spec.
pub fn entry_view(ctx: &Context, entry: &InstalledEntry, now: jiff::Timestamp) -> EntryView {
    let schedule = entry.schedule.clone().unwrap_or_default();
    let gate = gate_view(ctx, entry);
    let fires = match &gate {
        Some((view, zone)) => (view.schedule.clone(), zone.clone()),
        None => (schedule.clone(), ctx.host_zone.clone()),
    };
    let next = reconcile::next_fires(&fires.0, now, &fires.1, 1)
        .first()
        .map(|z| z.timestamp());
    EntryView {
        app: entry.app.clone(),
        job: entry.job.clone(),
        idx: entry.idx,
        index: entry.idx,
        schedule,
        hash: entry.hash.clone(),
        next_fire: next.map(|t| t.to_string()),
        next_fire_unix: next.map(|t| t.as_second()),
        reported_next: None,
        gate: gate.map(|(view, _)| view),
        fires,
    }
}

pub fn run(global: &Global, args: &ListArgs) -> Result<ExitStatus, Failure> {
    let backend = args.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    let installed = reconcile::installed(&ctx, None)?;
    let now = jiff::Timestamp::now();
    let mut entries: Vec<EntryView> = installed
        .entries()
        .iter()
        .filter(|e| e.line.is_some())
        .map(|e| entry_view(&ctx, e, now))
        .collect();
    entries.sort_by(|a, b| (&a.app, &a.job, a.idx).cmp(&(&b.app, &b.job, b.idx)));
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = ListDoc {
                backend: backend.name(),
                target: ctx.backend.describe(),
                entries,
            };
            crate::printer::document(global.output, &doc);
        }
        Output::Table | Output::Wide if entries.is_empty() => {
            outln!("no cronix entries in {}", ctx.backend.describe())
        }
        Output::Table | Output::Wide => entries_table(&entries).print(),
    }
    Ok(ExitStatus::OK)
}

pub fn entries_table(entries: &[EntryView]) -> Grid {
    let mut table = Grid::new(["APP", "JOB", "IDX", "SCHEDULE", "HASH", "NEXT FIRE"]);
    for e in entries {
        table.add([
            e.app.clone(),
            e.job.clone(),
            e.idx.to_string(),
            e.shown_schedule(),
            e.hash.clone(),
            e.next_fire.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table
}

impl EntryView {
    /// The schedule as people read it: a gated entry's is its job's, in its job's zone
    /// (`0 9 * * * (Europe/Paris)`), not the superset line that wakes the gate.
    pub fn shown_schedule(&self) -> String {
        match &self.gate {
            Some(gate) => format!("{} ({})", gate.schedule, gate.timezone),
            None => self.schedule.clone(),
        }
    }
}
