//! `cronix adopt APP.JOB --manifest SOURCE [--dry-run]`: take over the hand-written `cronix trigger`
//! lines of one job, as the reference tool's migration command does.
//!
//! Exit 0 adopted (or would be, with `--dry-run`) or already managed, 6 diverged (one reason per
//! item, nothing written), 7 nothing found. Prints; the pairing is in `core::adopt`, the writing in
//! `shell::adopt`.

use serde::Serialize;

use crate::cli::AdoptArgs;
use crate::core::adopt::{Outcome, Pairing};
use crate::core::manifest;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::adopt::{self, Adoption};
use crate::shell::reconcile::{self, Context};

#[derive(Serialize)]
struct AdoptDoc<'a> {
    app: &'a str,
    job: &'a str,
    target: String,
    /// `adopted`, `would_adopt`, `already_managed`, `not_found` or `diverged`.
    result: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lines: Vec<LineView<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

/// One hand-written line and the owned entry it becomes.
#[derive(Serialize)]
struct LineView<'a> {
    line: usize,
    idx: usize,
    schedule: &'a str,
    old: &'a str,
    new: &'a str,
}

pub fn run(global: &Global, args: &AdoptArgs) -> Result<ExitStatus, Failure> {
    let (backend, id) = args.backend_and_job().map_err(Failure::usage)?;
    let id = id.ok_or_else(|| Failure::usage("adopt needs the job as APP.JOB"))?;
    let (app, job) = manifest::split_job_id(id).map_err(Failure::usage)?;
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    let loaded = reconcile::load_manifest(&ctx, &args.manifest, Some(app))?;
    if loaded.manifest.app != app {
        return Err(Failure::invalid(format!(
            "manifest {}: its app is {}, not {app}; adopt {}.{job} or give the manifest of {app}",
            args.manifest, loaded.manifest.app, loaded.manifest.app
        )));
    }
    let adoption = if args.dry_run {
        adopt::preview(&ctx, &loaded, job)?
    } else {
        adopt::adopt(&ctx, &loaded, job)?
    };
    print(global.output, &ctx, app, job, &adoption, args.dry_run);
    Ok(match adoption.outcome {
        Outcome::Adopt(_) | Outcome::AlreadyManaged => ExitStatus::OK,
        Outcome::Diverged(_) => ExitStatus::ADOPT_DIVERGED,
        Outcome::NothingFound => ExitStatus::ADOPT_NOTHING_FOUND,
    })
}

fn result_name(outcome: &Outcome, dry_run: bool) -> &'static str {
    match outcome {
        Outcome::Adopt(_) if dry_run => "would_adopt",
        Outcome::Adopt(_) => "adopted",
        Outcome::AlreadyManaged => "already_managed",
        Outcome::NothingFound => "not_found",
        Outcome::Diverged(_) => "diverged",
    }
}

fn line_views(pairings: &[Pairing]) -> Vec<LineView<'_>> {
    pairings
        .iter()
        .map(|p| LineView {
            line: p.line.line_no,
            idx: p.entry.idx,
            schedule: &p.entry.schedule,
            old: &p.line.text,
            new: &p.entry.line,
        })
        .collect()
}

fn print(output: Output, ctx: &Context, app: &str, job: &str, adoption: &Adoption, dry_run: bool) {
    let (lines, reasons) = match &adoption.outcome {
        Outcome::Adopt(pairings) => (line_views(pairings), Vec::new()),
        Outcome::Diverged(reasons) => (Vec::new(), reasons.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    let doc = AdoptDoc {
        app,
        job,
        target: ctx.backend.describe(),
        result: result_name(&adoption.outcome, dry_run),
        lines,
        reasons,
    };
    match output {
        Output::Json | Output::Yaml => crate::printer::document(output, &doc),
        Output::Table | Output::Wide => print_table(&doc, adoption),
    }
}

fn print_table(doc: &AdoptDoc, adoption: &Adoption) {
    let id = format!("{}.{}", doc.app, doc.job);
    match doc.result {
        "adopted" | "would_adopt" => {
            let verb = if doc.result == "adopted" {
                "adopted"
            } else {
                "would adopt (dry run, nothing changed)"
            };
            outln!("{verb}: {id} on {}", doc.target);
            for l in &doc.lines {
                outln!("  line {} -> idx {} ({:?})", l.line, l.idx, l.schedule);
                outln!("    was: {}", l.old);
                outln!("    now: {}", l.new);
            }
            let specs = adoption.plan.spec_ops().count();
            if specs > 0 {
                outln!("  spec file of {id}: written");
            }
        }
        "already_managed" => outln!(
            "already managed: {id} on {} has owned entries and no unmarked trigger line; nothing changed",
            doc.target
        ),
        "not_found" => outln!(
            "not found: no unmarked line in {} runs `cronix trigger {id}`; `cronix apply` creates its entries",
            doc.target
        ),
        _ => {
            outln!("diverged: {id} on {}, nothing was changed:", doc.target);
            for reason in &doc.reasons {
                outln!("  ! {reason}");
            }
        }
    }
}
