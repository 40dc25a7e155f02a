//! `cronix apply [--dry-run]`: reconcile the manifest into the crontab and spec files.
//!
//! `--dry-run` is `plan`: the same code path that only reads. A real apply prints the plan it
//! executed, or that nothing changed.

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
