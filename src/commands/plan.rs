//! `cronix plan` (alias `diff`): what apply would change, entry by entry, with the next fire time of
//! each new entry. Also prints the plan for `apply` and `apply --dry-run`.
//!
//! For entries of jobs in a zone other than the host's it shows what the gated entry costs in
//! wake-ups, and for every schedule in a zone with DST the changes of the coming year that skip,
//! shift, deduplicate or repeat its times.
//!
//! Reads only; takes no lock and writes nothing.

use serde::Serialize;

use crate::cli::ReconcileArgs;
use crate::core::manifest::Manifest;
use crate::core::plan::{Action, Counts, Op, Plan, Subject};
use crate::core::target_checks::ZoneReport;
use crate::core::tz_gate::{DstEffect, DstEvent, REPORT_DAYS};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::reconcile::{self, Context};
use crate::shell::tz;

pub fn run(global: &Global, args: &ReconcileArgs) -> Result<ExitStatus, Failure> {
    let backend = args.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    let loaded = reconcile::load_manifest(&ctx, &args.manifest, args.app.as_deref())?;
    let (plan, desired) = reconcile::plan(&ctx, &loaded)?;
    reconcile::warn(&desired.warnings);
    print_plan(
        global.output,
        &ctx,
        (&loaded.manifest, desired.entries.len()),
        &plan,
        None,
        &desired.zones,
    );
    Ok(ExitStatus::OK)
}

/// The JSON shape of a plan (`applied` only after a real apply).
#[derive(Serialize)]
struct PlanDoc<'a> {
    app: &'a str,
    /// The backend's name; `noop` (= not `changed`), and after an apply `created`, `updated`,
    /// `deleted` and `skipped` (entries left as they were): the keys of the reference tool's
    /// documents, so gates written for it work.
    backend: &'static str,
    target: String,
    changed: bool,
    noop: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    tally: Option<ApplyTally>,
    counts: Counts,
    ops: Vec<OpView<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    timezones: Vec<ZoneView<'a>>,
}

/// What an apply did to entries, under the reference tool's names.
#[derive(Serialize)]
struct ApplyTally {
    created: usize,
    updated: usize,
    deleted: usize,
    skipped: usize,
}

impl ApplyTally {
    /// The entry ops of `plan` counted; `desired` entries not touched were skipped.
    fn of(plan: &Plan, desired: usize) -> ApplyTally {
        let count = |a: Action| plan.entry_ops().filter(|o| o.op == a).count();
        let (created, updated) = (count(Action::Create), count(Action::Update));
        ApplyTally {
            created,
            updated,
            deleted: count(Action::Delete),
            skipped: desired.saturating_sub(created + updated),
        }
    }
}

/// One entry's time-zone report, as `plan -o json` prints it.
#[derive(Serialize)]
pub struct ZoneView<'a> {
    job: &'a str,
    idx: usize,
    schedule: &'a str,
    timezone: &'a str,
    host_zone: &'a str,
    /// The five fields on the crontab line.
    crontab: &'a str,
    gated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    wakeups_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fires_per_day: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_wakeups_per_day: Option<f64>,
    dst: &'a [DstEvent],
}

/// The reports with the per-day figures: wake-ups on a day without a host offset change, fires
/// averaged over the coming year, extra = wake-ups − fires (two decimals).
pub fn zone_views<'a>(ctx: &'a Context, zones: &'a [ZoneReport]) -> Vec<ZoneView<'a>> {
    zones
        .iter()
        .map(|z| {
            let fires = z
                .gate
                .map(|g| two_decimals(f64::from(g.fires_per_year) / REPORT_DAYS as f64));
            let wakeups = z.gate.map(|g| g.wakeups_per_day);
            ZoneView {
                job: &z.job,
                idx: z.idx,
                schedule: &z.schedule,
                timezone: &z.timezone,
                host_zone: &ctx.host_zone_name,
                crontab: &z.crontab,
                gated: z.gate.is_some(),
                wakeups_per_day: wakeups,
                fires_per_day: fires,
                extra_wakeups_per_day: wakeups
                    .zip(fires)
                    .map(|(w, f)| two_decimals(f64::from(w) - f)),
                dst: &z.dst,
            }
        })
        .collect()
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Serialize)]
pub struct OpView<'a> {
    /// `op` and `hash` under the reference tool's names (its `old_hash` is `Op::old_hash`).
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_hash: Option<&'a str>,
    /// The new artifact (entries: create/update), next to `before`, the installed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<&'a str>,
    #[serde(flatten)]
    op: &'a Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_fire: Option<String>,
    /// `next_fire` in unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_fire_unix: Option<i64>,
    /// The job's zone when it is not the host's (the table shows the schedule in it).
    #[serde(skip)]
    zone: Option<String>,
}

impl OpView<'_> {
    /// The schedule as the table shows it: in the job's zone when that is not the host's
    /// (`0 9 * * * (Europe/Paris)`).
    fn shown_schedule(&self) -> String {
        let schedule = self.op.schedule.clone().unwrap_or_default();
        match &self.zone {
            Some(zone) if !schedule.is_empty() => format!("{schedule} ({zone})"),
            _ => schedule,
        }
    }

    /// Deletions red, updates yellow on a colour terminal (creations plain).
    fn mark(&self) -> crate::printer::Mark {
        match self.op.op {
            Action::Delete => crate::printer::Mark::Failed,
            Action::Update => crate::printer::Mark::Drifted,
            Action::Create => crate::printer::Mark::Plain,
        }
    }
}

/// Each op with the next fire time of new entries (UTC, RFC 3339), read in the job's zone.
/// Without a manifest (prune) schedules are read in the host's zone.
pub fn op_views<'a>(ctx: &Context, plan: &'a Plan, manifest: Option<&Manifest>) -> Vec<OpView<'a>> {
    let now = jiff::Timestamp::now();
    plan.ops
        .iter()
        .map(|op| {
            let job_zone = manifest
                .and_then(|m| m.jobs.iter().find(|j| j.name == op.job))
                .map(|j| j.timezone.clone());
            let next = (op.op == Action::Create && op.kind == Subject::Entry)
                .then_some(op.schedule.as_deref())
                .flatten()
                .and_then(|s| {
                    let zone = job_zone
                        .as_deref()
                        .and_then(tz::zone)
                        .unwrap_or_else(|| ctx.host_zone.clone());
                    reconcile::next_fires(s, now, &zone, 1)
                        .first()
                        .map(|z| z.timestamp())
                });
            OpView {
                action: op.op,
                new_hash: op.hash.as_deref(),
                after: op.line.as_deref(),
                op,
                next_fire: next.map(|t| t.to_string()),
                next_fire_unix: next.map(|t| t.as_second()),
                zone: job_zone.filter(|z| *z != ctx.host_zone_name),
            }
        })
        .collect()
}

/// Print a plan as a table or JSON. `applied`: `None` for plan/dry-run, `Some` after an apply.
/// `desired`: how many entries the manifest wants (those the plan does not touch were skipped).
pub fn print_plan(
    output: Output,
    ctx: &Context,
    (manifest, desired): (&Manifest, usize),
    plan: &Plan,
    applied: Option<bool>,
    zones: &[ZoneReport],
) {
    let app = manifest.app.as_str();
    let views = op_views(ctx, plan, Some(manifest));
    let zones = zone_views(ctx, zones);
    match output {
        Output::Json | Output::Yaml => {
            let doc = PlanDoc {
                app,
                backend: ctx.backend_kind.name(),
                target: ctx.backend.describe(),
                changed: !plan.is_empty(),
                noop: plan.is_empty(),
                applied,
                tally: applied.map(|_| ApplyTally::of(plan, desired)),
                counts: plan.counts(),
                ops: views,
                timezones: zones,
            };
            crate::printer::document(output, &doc);
        }
        Output::Table | Output::Wide => {
            print_table(ctx, app, plan, &views, applied);
            print_zones(ctx, &zones);
        }
    }
}

/// The time-zone reports under the plan: one line per entry, one per DST change it meets.
fn print_zones(ctx: &Context, zones: &[ZoneView]) {
    if zones.is_empty() {
        return;
    }
    if ctx.backend.fire_paths().is_some() {
        // The cluster's controller: gated entries are rendered in Etc/UTC.
        outln!("time zones (gated entries run in Etc/UTC):");
    } else {
        outln!("time zones (cron runs in {}):", ctx.host_zone_name);
    }
    for z in zones {
        let head = format!(
            "  {} idx {} {:?} in {}",
            z.job, z.idx, z.schedule, z.timezone
        );
        match (z.wakeups_per_day, z.fires_per_day, z.extra_wakeups_per_day) {
            (Some(w), Some(f), Some(extra)) => outln!(
                "{head}: gated entry \"{}\" wakes the shim {w} times a day for {f:.2} fires a day \
                 on average ({extra:.2} extra wake-ups a day)",
                z.crontab
            ),
            _ => outln!("{head}: entry \"{}\"", z.crontab),
        }
        for event in z.dst {
            outln!("    {}", dst_sentence(event));
        }
    }
}

/// One DST change in words.
fn dst_sentence(e: &DstEvent) -> String {
    let times = e.local_times.join(", ");
    match e.effect {
        DstEffect::Skipped => format!(
            "{} {times}: skipped, the clock jumps over it at {}",
            e.date, e.transition
        ),
        DstEffect::Shifted => format!(
            "{} {times}: skipped by the clock change at {}; runs once right after the jump, at {}",
            e.date,
            e.transition,
            e.runs_at.as_deref().unwrap_or(&e.transition)
        ),
        DstEffect::Deduplicated => format!(
            "{} {times}: this wall-clock time happens twice (clock goes back at {}); runs once, \
             at the first",
            e.date, e.transition
        ),
        DstEffect::Repeated => format!(
            "{} {times}: this wall-clock time happens twice (clock goes back at {}); runs at both",
            e.date, e.transition
        ),
    }
}

fn print_table(ctx: &Context, app: &str, plan: &Plan, views: &[OpView], applied: Option<bool>) {
    let target = ctx.backend.describe();
    if plan.is_empty() {
        let verb = if applied.is_some() {
            "nothing changed"
        } else {
            "nothing to change"
        };
        outln!("{verb}: app {app} on {target} is up to date");
        return;
    }
    ops_table(views).print();
    print_changes(plan);
    let c = plan.counts();
    let verb = if applied.is_some() { "applied" } else { "plan" };
    outln!(
        "{verb}: app {app} on {target}: {} to create, {} to update, {} to delete",
        c.create,
        c.update,
        c.delete
    );
}

/// Under the table, what each update changes: the artifact's lines that go (`-`) and come (`+`),
/// the spec's fields that differ (`~`).
pub fn print_changes(plan: &Plan) {
    for op in plan.ops.iter().filter(|o| !o.changes.is_empty()) {
        let idx = op.idx.map(|i| format!(" idx {i}")).unwrap_or_default();
        outln!(
            "{}.{}{idx} {} ({}):",
            op.app,
            op.job,
            json_name(&op.kind),
            json_name(&op.drift)
        );
        for change in &op.changes {
            let marked = if change.starts_with("- ") || change.starts_with("+ ") {
                change.clone()
            } else {
                format!("~ {change}")
            };
            outln!("    {marked}");
        }
    }
}

/// The ops as a borderless table.
pub fn ops_table(views: &[OpView]) -> crate::printer::Grid {
    let mut table = crate::printer::Grid::new([
        "OP",
        "KIND",
        "APP",
        "JOB",
        "IDX",
        "DRIFT",
        "SCHEDULE",
        "NEXT FIRE",
    ]);
    for v in views {
        let op = v.op;
        table.add_marked(
            v.mark(),
            [
                reconcile::action_name(op.op).to_string(),
                json_name(&op.kind),
                op.app.clone(),
                op.job.clone(),
                op.idx.map(|i| i.to_string()).unwrap_or_default(),
                json_name(&op.drift),
                v.shown_schedule(),
                v.next_fire.clone().unwrap_or_default(),
            ],
        );
    }
    table
}

/// The snake_case name serde gives a unit enum value.
pub fn json_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
