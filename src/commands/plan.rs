//! `cronix plan` (alias `diff`): what apply would change, entry by entry, with the next fire time of
//! each new entry. Also prints the plan for `apply` and `apply --dry-run`.
//!
//! Reads only; takes no lock and writes nothing.

use serde::Serialize;

use crate::cli::{GlobalArgs, Output, ReconcileArgs};
use crate::core::plan::{Action, Counts, Op, Plan, Subject};
use crate::error::{Failure, Status};
use crate::shell::reconcile::{self, Context};

pub fn run(global: &GlobalArgs, args: &ReconcileArgs) -> Result<Status, Failure> {
    let ctx = reconcile::context(global, &args.target)?;
    let loaded = reconcile::load_manifest(&ctx, &args.manifest)?;
    let (plan, warnings) = reconcile::plan(&ctx, &loaded.manifest)?;
    reconcile::warn(&warnings);
    print_plan(global.output, &ctx, &loaded.manifest.app, &plan, None);
    Ok(Status::OK)
}

/// The JSON shape of a plan (`applied` only after a real apply).
#[derive(Serialize)]
struct PlanDoc<'a> {
    app: &'a str,
    target: String,
    changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<bool>,
    counts: Counts,
    ops: Vec<OpView<'a>>,
}

#[derive(Serialize)]
pub struct OpView<'a> {
    #[serde(flatten)]
    op: &'a Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_fire: Option<String>,
}

/// Each op with the next fire time of new entries (UTC, RFC 3339).
pub fn op_views<'a>(ctx: &Context, plan: &'a Plan) -> Vec<OpView<'a>> {
    let now = jiff::Timestamp::now();
    plan.ops
        .iter()
        .map(|op| OpView {
            op,
            next_fire: (op.op == Action::Create && op.kind == Subject::Entry)
                .then_some(op.schedule.as_deref())
                .flatten()
                .and_then(|s| {
                    reconcile::next_fires(s, now, &ctx.host_zone, 1)
                        .first()
                        .map(|z| z.timestamp().to_string())
                }),
        })
        .collect()
}

/// Print a plan as a table or JSON. `applied`: `None` for plan/dry-run, `Some` after an apply.
pub fn print_plan(output: Output, ctx: &Context, app: &str, plan: &Plan, applied: Option<bool>) {
    let views = op_views(ctx, plan);
    match output {
        Output::Json => {
            let doc = PlanDoc {
                app,
                target: ctx.target.describe(),
                changed: !plan.is_empty(),
                applied,
                counts: plan.counts(),
                ops: views,
            };
            println!("{}", serde_json::to_string(&doc).unwrap_or_default());
        }
        Output::Table => print_table(ctx, app, plan, &views, applied),
    }
}

fn print_table(ctx: &Context, app: &str, plan: &Plan, views: &[OpView], applied: Option<bool>) {
    let target = ctx.target.describe();
    if plan.is_empty() {
        let verb = if applied.is_some() {
            "nothing changed"
        } else {
            "nothing to change"
        };
        println!("{verb}: app {app} on {target} is up to date");
        return;
    }
    println!("{}", ops_table(views));
    let c = plan.counts();
    let verb = if applied.is_some() { "applied" } else { "plan" };
    println!(
        "{verb}: app {app} on {target}: {} to create, {} to update, {} to delete",
        c.create, c.update, c.delete
    );
}

/// The ops as a borderless table.
pub fn ops_table(views: &[OpView]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(vec![
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
        table.add_row(vec![
            reconcile::action_name(op.op).to_string(),
            json_name(&op.kind),
            op.app.clone(),
            op.job.clone(),
            op.idx.map(|i| i.to_string()).unwrap_or_default(),
            json_name(&op.drift),
            op.schedule.clone().unwrap_or_default(),
            v.next_fire.clone().unwrap_or_default(),
        ]);
    }
    table.trim_fmt()
}

/// The snake_case name serde gives a unit enum value.
pub fn json_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
