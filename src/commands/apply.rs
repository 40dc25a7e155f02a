//! `cronix apply [--dry-run]`: reconcile the manifest into the crontab and spec files.
//!
//! `--dry-run` is `plan`: the same code path that only reads. A real apply prints the plan it
//! executed, or that nothing changed.
//!
//! An apply that would delete entries asks first on a terminal (as `terraform apply` does), unless
//! `--yes`; without a terminal (CI, cron) it never asks and goes on, as the plan it prints shows.

use std::io::IsTerminal;

use crate::cli::ApplyArgs;
use crate::commands::plan;
use crate::error::{ExitStatus, Failure};
use crate::settings::Global;
use crate::shell::reconcile;

pub fn run(global: &Global, args: &ApplyArgs) -> Result<ExitStatus, Failure> {
    if args.dry_run {
        return plan::run(global, &args.reconcile);
    }
    let backend = args.reconcile.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.reconcile.target.flags(), backend)?;
    let loaded = reconcile::load_manifest(
        &ctx,
        &args.reconcile.manifest,
        args.reconcile.app.as_deref(),
    )?;
    if !args.yes && std::io::stdin().is_terminal() && !confirmed_deletes(global, &ctx, &loaded)? {
        outln!("apply cancelled; nothing was changed");
        return Ok(ExitStatus::OK);
    }
    let (done, desired) = reconcile::apply(&ctx, &loaded)?;
    reconcile::warn(&desired.warnings);
    let zones = if done.is_empty() {
        &[][..]
    } else {
        &desired.zones[..]
    };
    plan::print_plan(
        global.output,
        &ctx,
        (&loaded.manifest, desired.entries.len()),
        &done,
        Some(!done.is_empty()),
        zones,
    );
    Ok(ExitStatus::OK)
}

/// When the plan deletes entries, show it and ask; true to go on (also when nothing is deleted).
fn confirmed_deletes(
    global: &Global,
    ctx: &reconcile::Context,
    loaded: &reconcile::LoadedManifest,
) -> Result<bool, Failure> {
    let (preview, desired) = reconcile::plan(ctx, loaded)?;
    let deletes = preview
        .entry_ops()
        .filter(|o| o.op == crate::core::plan::Action::Delete)
        .count();
    if deletes == 0 {
        return Ok(true);
    }
    plan::print_plan(
        global.output,
        ctx,
        (&loaded.manifest, desired.entries.len()),
        &preview,
        None,
        &[],
    );
    crate::commands::prune::confirm(&format!(
        "apply deletes {deletes} entr{}; go on?",
        if deletes == 1 { "y" } else { "ies" }
    ))
}
