//! `cronix prune [--app APP] [--yes]`: remove cronix-owned entries and their spec files.
//!
//! Asks on a terminal unless `--yes`; without a terminal and without `--yes` it refuses (exit 2).
//! `--dry-run` prints what would be removed and changes nothing.

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use crate::cli::PruneArgs;
use crate::commands::plan::{OpView, op_views, ops_table};
use crate::core::manifest::is_identifier;
use crate::core::plan::Counts;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::reconcile;

#[derive(Serialize)]
struct PruneDoc<'a> {
    target: String,
    changed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    counts: Counts,
    ops: Vec<OpView<'a>>,
}

pub fn run(global: &Global, args: &PruneArgs) -> Result<ExitStatus, Failure> {
    if let Some(app) = &args.app
        && !is_identifier(app)
    {
        return Err(Failure::usage(format!(
            "--app {app:?}: not an app name ([a-z][a-z0-9-]*); give the manifest's app"
        )));
    }
    if args.dry_run {
        return preview(global, args);
    }
    let interactive = std::io::stdin().is_terminal();
    if !args.yes && !interactive {
        return Err(Failure::usage(
            "prune removes entries and needs confirmation: no terminal to ask on; pass --yes",
        ));
    }
    let backend = args.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    if !args.yes {
        let (_, preview) = reconcile::prune_plan(&ctx, args.app.as_deref())?;
        if preview.is_empty() {
            outln!("nothing to prune on {}", ctx.backend.describe());
            return Ok(ExitStatus::OK);
        }
        ops_table(&op_views(&ctx, &preview, None)).print();
        if !confirm(&format!("remove these {} item(s)?", preview.ops.len()))? {
            outln!("prune cancelled; nothing was changed");
            return Ok(ExitStatus::OK);
        }
    }
    let done = reconcile::prune(&ctx, args.app.as_deref())?;
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = PruneDoc {
                target: ctx.backend.describe(),
                changed: !done.is_empty(),
                dry_run: false,
                counts: done.counts(),
                ops: op_views(&ctx, &done, None),
            };
            crate::printer::document(global.output, &doc);
        }
        Output::Table | Output::Wide if done.is_empty() => {
            outln!("nothing to prune on {}", ctx.backend.describe())
        }
        Output::Table | Output::Wide => {
            if args.yes {
                ops_table(&op_views(&ctx, &done, None)).print();
            }
            outln!(
                "pruned: {} removal{} on {}",
                done.ops.len(),
                if done.ops.len() == 1 { "" } else { "s" },
                ctx.backend.describe()
            );
        }
    }
    Ok(ExitStatus::OK)
}

/// `--dry-run`: the prune plan, printed as the real prune prints its result (`applied: false`).
fn preview(global: &Global, args: &PruneArgs) -> Result<ExitStatus, Failure> {
    let backend = args.backend().map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    let (_, plan) = reconcile::prune_plan(&ctx, args.app.as_deref())?;
    match global.output {
        Output::Json | Output::Yaml => {
            let doc = PruneDoc {
                target: ctx.backend.describe(),
                changed: false,
                dry_run: true,
                counts: plan.counts(),
                ops: op_views(&ctx, &plan, None),
            };
            crate::printer::document(global.output, &doc);
        }
        Output::Table | Output::Wide if plan.is_empty() => {
            outln!("nothing to prune on {}", ctx.backend.describe())
        }
        Output::Table | Output::Wide => {
            ops_table(&op_views(&ctx, &plan, None)).print();
            outln!(
                "dry run: prune would make {} removal{} on {}; nothing was changed",
                plan.ops.len(),
                if plan.ops.len() == 1 { "" } else { "s" },
                ctx.backend.describe()
            );
        }
    }
    Ok(ExitStatus::OK)
}

/// Ask on the terminal; true for a yes.
pub fn confirm(question: &str) -> Result<bool, Failure> {
    out!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer ({e}); pass --yes")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
