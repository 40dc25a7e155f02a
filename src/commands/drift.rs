//! `cronix drift [--exit-on-drift]`: installed state that differs from the manifest, with the kind of
//! each drift (missing, changed, edited, orphaned, extra). Exit 5 with the flag when anything drifted.
//!
//! Reads only.

use serde::Serialize;

use crate::cli::DriftArgs;
use crate::commands::plan::{OpView, json_name, op_views, print_changes};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::reconcile;

/// Exit status of `drift --exit-on-drift` when anything drifted.
pub const DRIFT_EXIT: ExitStatus = ExitStatus::DRIFTED;

#[derive(Serialize)]
struct DriftDoc<'a> {
    app: &'a str,
    /// The backend's name, and `noop`/`ops`: the keys of the reference tool's plan document.
    backend: &'static str,
    target: String,
    drifted: bool,
    noop: bool,
    ops: &'a [OpView<'a>],
    drift: &'a [OpView<'a>],
}

pub fn run(global: &Global, args: &DriftArgs) -> Result<ExitStatus, Failure> {
    let backend = args.reconcile.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.reconcile.target.flags(), backend)?;
    let loaded = reconcile::load_manifest(
        &ctx,
        &args.reconcile.manifest,
        args.reconcile.app.as_deref(),
    )?;
    let (plan, _) = reconcile::plan(&ctx, &loaded)?;
    let app = loaded.manifest.app.as_str();
    let views = op_views(&ctx, &plan, Some(&loaded.manifest));
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = DriftDoc {
                app,
                backend: backend.name(),
                target: ctx.backend.describe(),
                drifted: !plan.is_empty(),
                noop: plan.is_empty(),
                ops: &views,
                drift: &views,
            };
            crate::printer::document(global.output, &doc);
        }
        Output::Table | Output::Wide if plan.is_empty() => {
            outln!(
                "no drift: app {app} on {} matches the manifest",
                ctx.backend.describe()
            )
        }
        Output::Table | Output::Wide => {
            for v in &plan.ops {
                let idx = v.idx.map(|i| format!(" idx {i}")).unwrap_or_default();
                let line = format!(
                    "{} {}: {}.{}{idx}",
                    json_name(&v.kind),
                    json_name(&v.drift),
                    v.app,
                    v.job
                );
                crate::printer::marked_line(crate::printer::Mark::Drifted, &line);
            }
            print_changes(&plan);
            outln!(
                "drift: app {app} on {}: {} difference{}; `cronix apply` fixes it",
                ctx.backend.describe(),
                plan.ops.len(),
                if plan.ops.len() == 1 { "" } else { "s" }
            );
        }
    }
    if args.exit_on_drift && !plan.is_empty() {
        return Ok(DRIFT_EXIT);
    }
    Ok(ExitStatus::OK)
}
