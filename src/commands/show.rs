//! `cronix show APP.JOB`: one job's entries with the state of each as installed (`in-sync`,
//! `edited`, `missing`, `orphan`, read as `drift` reads them), its spec file, next fire times and last
//! runs; on a backend with a service manager (systemd), each entry's next elapse as the manager
//! reports it.
//!
//! Reads only. The spec holds secret references, never secret bytes; `raw:` values are redacted.

use serde::Serialize;

use crate::cli::ShowArgs;
use crate::commands::global_status::{GlobalView, global_view};
use crate::commands::history::run_mark;
use crate::commands::list::{EntryView, entries_table, entry_view};
use crate::commands::plan::json_name;
use crate::core::entry_status::{self, EntryStatus};
use crate::core::escape;
use crate::core::history::RunRecord;
use crate::core::manifest;
use crate::core::plan::Op;
use crate::core::spec::JobSpec;
use crate::core::target_checks::shown_ref;
use crate::error::{ExitStatus, Failure};
use crate::printer::Grid;
use crate::settings::{Global, Output};
use crate::shell::reconcile::Context;
use crate::shell::{config, history, reconcile};

/// How many upcoming fires and past runs are shown.
const SHOWN: usize = 5;

#[derive(Serialize)]
struct ShowDoc {
    app: String,
    job: String,
    /// `installed` (always true here) and `status`: what a not-installed job's document says too.
    installed: bool,
    status: &'static str,
    backend: &'static str,
    target: String,
    entries: Vec<EntryView>,
    /// Each entry the spec or the crontab has for this job, and its state.
    entry_states: Vec<EntryStatus>,
    next_fires: Vec<String>,
    spec: Option<JobSpec>,
    last_runs: Vec<RunRecord>,
    /// `concurrency_scope: global`: the lease holder and newest claimed instant in Redis.
    global: Option<GlobalView>,
    /// With `--manifest`: whether the job is installed as that manifest says.
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<SyncView>,
    /// Whether the backend keeps spec files (vercel keeps none).
    #[serde(skip)]
    spec_files: bool,
}

/// The job against a manifest: in sync, or the changes an apply would make to it.
#[derive(Serialize)]
struct SyncView {
    manifest: String,
    in_sync: bool,
    changes: Vec<Op>,
}

pub fn run(global: &Global, args: &ShowArgs) -> Result<ExitStatus, Failure> {
    let (backend, id) = args.backend_and_job().map_err(Failure::usage)?;
    let id = id.ok_or_else(|| Failure::usage("show needs the job as APP.JOB"))?;
    let (app, job) = manifest::split_job_id(id).map_err(Failure::usage)?;
    let (app, job) = (app.to_string(), job.to_string());
    let ctx = reconcile::context(global, &args.target.flags(), backend)?;
    let installed = reconcile::installed(&ctx, None)?;
    let now = jiff::Timestamp::now();
    let owned: Vec<_> = installed
        .entries()
        .iter()
        .filter(|e| e.line.is_some() && e.app == app && e.job == job)
        .collect();
    let ats: Vec<usize> = owned.iter().map(|e| e.at).collect();
    let reported = ctx.backend.reported_next(&installed.snapshot, &ats);
    let entries: Vec<EntryView> = owned
        .iter()
        .map(|e| {
            let mut view = entry_view(&ctx, e, now);
            view.reported_next = reported.get(&e.at).cloned();
            view
        })
        .collect();
    let mut spec = ctx.backend.specs().find(&app, &job)?;
    let entry_states = if ctx.backend.renderer().uses_spec_files() {
        states(
            &ctx.backend.target_id(),
            spec.as_ref(),
            installed.entries(),
            &app,
            &job,
        )
    } else {
        entry_status::as_installed(installed.entries())
            .into_iter()
            .filter(|s| s.app == app && s.job == job)
            .collect()
    };
    if let Some(spec) = &mut spec {
        spec.secret_refs = spec.secret_refs.iter().map(|r| shown_ref(r)).collect();
        spec.job.auth.secret_refs = spec
            .job
            .auth
            .secret_refs
            .iter()
            .map(|r| shown_ref(r))
            .collect();
    }
    if entries.is_empty() && spec.is_none() {
        print_not_installed(global.output, &ctx, &app, &job);
        return Ok(ExitStatus::OK);
    }
    let sync = match &args.manifest {
        Some(source) => Some(sync_view(&ctx, source, &app, &job)?),
        None => None,
    };
    let global_state = match &spec {
        Some(spec) => {
            let loaded = config::load(global.config.as_deref())?;
            global_view(spec, &mut None, &loaded.config)
        }
        None => None,
    };
    let doc = ShowDoc {
        installed: true,
        status: "installed",
        backend: ctx.backend_kind.name(),
        sync,
        global: global_state,
        next_fires: next_fires(&entries, now),
        last_runs: last_runs(&ctx, &app, &job),
        target: ctx.backend.describe(),
        app,
        job,
        entries,
        entry_states,
        spec,
        spec_files: ctx.backend.renderer().uses_spec_files(),
    };
    match global.output {
        Output::Json | Output::Yaml => crate::printer::document(global.output, &doc),
        Output::Table | Output::Wide => print_table(&doc),
    }
    Ok(ExitStatus::OK)
}

/// A job with no entry in the target and no spec file: not an error (exit 0), as in the reference
/// tool, so a script can ask "is it installed?".
fn print_not_installed(output: Output, ctx: &Context, app: &str, job: &str) {
    let target = ctx.backend.describe();
    match output {
        Output::Table | Output::Wide => {
            outln!("job {app}.{job} on {target}: not installed");
            outln!(
                "(no entry in {target} and no spec in {}; `cronix list` names the installed jobs)",
                ctx.paths.spec_dir.display()
            );
        }
        structured => crate::printer::document(
            structured,
            &serde_json::json!({
                "app": app,
                "job": job,
                "installed": false,
                "status": "not installed",
                "backend": ctx.backend_kind.name(),
                "target": target,
            }),
        ),
    }
}

/// The job's entry states in this target (a spec recorded for another target expects none here).
fn states(
    target: &str,
    spec: Option<&JobSpec>,
    installed: &[crate::core::plan::InstalledEntry],
    app: &str,
    job: &str,
) -> Vec<EntryStatus> {
    let specs: std::collections::BTreeMap<(String, String), JobSpec> = spec
        .filter(|s| s.target.as_ref().is_none_or(|t| t == target))
        .map(|s| ((app.to_string(), job.to_string()), s.clone()))
        .into_iter()
        .collect();
    entry_status::statuses(&specs, installed)
        .into_iter()
        .filter(|s| s.app == app && s.job == job)
        .collect()
}

/// The job's part of the plan against `source`: in sync when an apply would change none of its
/// entries or its spec file.
fn sync_view(ctx: &Context, source: &str, app: &str, job: &str) -> Result<SyncView, Failure> {
    let loaded = reconcile::load_manifest(ctx, source, Some(app))?;
    if loaded.manifest.app != app {
        return Err(Failure::invalid(format!(
            "manifest {source}: its app is {}, not {app}; give the manifest of {app}",
            loaded.manifest.app
        )));
    }
    let (plan, _) = reconcile::plan(ctx, &loaded)?;
    let changes: Vec<Op> = plan.ops.into_iter().filter(|op| op.job == job).collect();
    Ok(SyncView {
        manifest: source.to_string(),
        in_sync: changes.is_empty(),
        changes,
    })
}

/// The next fires over all of the job's entries (a gated one's in its job's zone), merged and sorted.
fn next_fires(entries: &[EntryView], now: jiff::Timestamp) -> Vec<String> {
    let mut all: Vec<jiff::Timestamp> = entries
        .iter()
        .flat_map(|e| reconcile::next_fires(&e.fires.0, now, &e.fires.1, SHOWN))
        .map(|z| z.timestamp())
        .collect();
    all.sort();
    all.dedup();
    all.into_iter().take(SHOWN).map(|t| t.to_string()).collect()
}

/// The last runs from the job's history file (unparseable lines skipped; an unreadable file shows
/// none).
/// A target that keeps its runs (a cluster's pods) is asked instead.
fn last_runs(ctx: &Context, app: &str, job: &str) -> Vec<RunRecord> {
    let runs =
        if ctx.backend.capabilities().history == crate::shell::backend::HistorySource::Backend {
            ctx.backend.history(app, job).unwrap_or_default()
        } else {
            let path = history::history_path(&ctx.paths.state_dir, app, job);
            history::read_records(&path).unwrap_or_default()
        };
    let newest = crate::core::history::Filter {
        limit: Some(SHOWN),
        ..Default::default()
    };
    crate::core::history::filter(runs, &newest)
}

fn print_table(doc: &ShowDoc) {
    outln!("job {}.{} on {}", doc.app, doc.job, doc.target);
    if doc.entries.is_empty() {
        outln!("entries: none installed");
    } else {
        entries_table(&doc.entries).print();
    }
    for state in &doc.entry_states {
        let line = format!("entry idx {}: {}", state.idx, state.state.as_str());
        if state.state.as_str() == "in-sync" {
            outln!("{line}");
        } else {
            crate::printer::marked_line(crate::printer::Mark::Drifted, &line);
        }
    }
    match &doc.spec {
        // A spec file is read as found: its values are shown on this one line, escaped.
        Some(spec) => outln!(
            "spec: format {}, {} {}, timezone {}, secret refs {}",
            spec.format,
            spec.job.request.method.as_str(),
            escape::inline(&spec.job.request.url),
            escape::inline(&spec.job.timezone),
            escape::inline(&spec.secret_refs.join(", "))
        ),
        None if !doc.spec_files => outln!("spec: none (this backend keeps no spec files)"),
        None => outln!("spec: missing"),
    }
    if let Some(view) = &doc.global {
        // The holder's host and run ids come from Redis, as any client wrote them.
        outln!("global: {}", escape::inline(&view.describe()));
    }
    outln!("next fires: {}", doc.next_fires.join(", "));
    if doc.last_runs.is_empty() {
        outln!("last runs: none");
    } else {
        outln!("last runs:");
        runs_table(&doc.last_runs).print();
    }
    if let Some(sync) = &doc.sync {
        print_sync(sync);
    }
}

/// The last runs as rows (newest last, as history prints them), failed ones marked.
fn runs_table(runs: &[RunRecord]) -> Grid {
    let mut table = Grid::new([
        "STARTED",
        "FIRE TIME",
        "STATUS",
        "HTTP",
        "ATTEMPTS",
        "DURATION",
        "ERROR",
        "RUN ID",
    ]);
    table.keep(&[0, 2, 3, 5]);
    for r in runs {
        table.add_marked(
            run_mark(r),
            [
                crate::printer::table_time(&r.started_at, true),
                crate::printer::table_time(&r.fire_time, false),
                r.status.to_string(),
                r.http_status.map_or("-".into(), |s| s.to_string()),
                r.attempts.to_string(),
                format!("{}ms", r.duration_ms),
                r.error.clone().unwrap_or_else(|| "-".into()),
                r.run_id.clone(),
            ],
        );
    }
    table
}

fn print_sync(sync: &SyncView) {
    if sync.in_sync {
        outln!("manifest {}: in sync", sync.manifest);
        return;
    }
    outln!(
        "manifest {}: drifted ({} change{} on apply)",
        sync.manifest,
        sync.changes.len(),
        if sync.changes.len() == 1 { "" } else { "s" }
    );
    for op in &sync.changes {
        let idx = op.idx.map(|i| format!(" idx {i}")).unwrap_or_default();
        outln!(
            "  {} {}{idx}: {}",
            reconcile::action_name(op.op),
            json_name(&op.kind),
            json_name(&op.drift)
        );
    }
}
