//! The glue of `cronix adopt`: read the crontab and the job's spec file, let the core pair the job's
//! schedules with its hand-written trigger lines, and on a full match execute the plan through the
//! reconciler's write path (apply lock, specs before entries, atomic crontab write, audit).
//!
//! Must not format output or pick exit codes (`commands::adopt` does). A preview and an adoption are
//! two functions; the one that writes computes its plan under the lock.

use crate::core::adopt::{self, Outcome};
use crate::core::manifest::digest;
use crate::core::plan::{self, Plan};
use crate::error::Failure;
use crate::shell::reconcile::{self, Context, Installed, LoadedManifest};

/// What adopting the job does (or would do) and the plan it executes (or would).
#[derive(Debug, Clone)]
pub struct Adoption {
    pub outcome: Outcome,
    pub plan: Plan,
}

/// What `adopt` would do now, without a lock and without writing.
pub fn preview(ctx: &Context, loaded: &LoadedManifest, job: &str) -> Result<Adoption, Failure> {
    let installed = reconcile::installed(ctx, Some(&loaded.manifest.app))?;
    compute(ctx, loaded, job, &installed)
}

/// Adopt the job: under the apply lock, read, pair, and on a full match write the spec file and the
/// rewritten entries, and record the change in the audit journal.
pub fn adopt(ctx: &Context, loaded: &LoadedManifest, job: &str) -> Result<Adoption, Failure> {
    let app = loaded.manifest.app.as_str();
    let _lock = ctx.backend.lock(ctx.apply_lock_wait)?;
    reconcile::clean_leftovers(ctx, &[app])?;
    let installed = reconcile::installed(ctx, Some(app))?;
    reconcile::settle_interrupted(ctx, &installed)?;
    let adoption = compute(ctx, loaded, job, &installed)?;
    if matches!(adoption.outcome, Outcome::Adopt(_)) && !adoption.plan.is_empty() {
        let record = reconcile::audit_record(
            ctx,
            "adopt",
            Some(loaded.source.as_str()),
            Some(digest(&loaded.manifest)),
            &adoption.plan,
        );
        reconcile::execute_recorded(ctx, &installed, &adoption.plan, record)?;
    }
    Ok(adoption)
}

/// Pair the job's schedules with what is installed and build the plan of a full match.
fn compute(
    ctx: &Context,
    loaded: &LoadedManifest,
    job: &str,
    installed: &Installed,
) -> Result<Adoption, Failure> {
    let manifest = &loaded.manifest;
    let app = manifest.app.as_str();
    if !manifest.jobs.iter().any(|j| j.name == job) {
        return Err(Failure::invalid(format!(
            "manifest {}: app {app} has no job {job:?}; check the name with `cronix validate {}`",
            loaded.source, loaded.source
        )));
    }
    let Some((crontab, user_column)) = ctx
        .backend
        .adopter()
        .and_then(|adopter| adopter.crontab(&installed.snapshot))
    else {
        return Err(Failure::usage(format!(
            "adopt takes over hand-written crontab lines, so it works on the crontab backend only, \
             not on {}; drop the backend word or flag",
            ctx.backend.describe()
        )));
    };
    if user_column {
        let id = format!("{app}.{job}");
        let missing: Vec<String> = adopt::missing_user_columns(crontab)
            .into_iter()
            .filter(|f| f.text.split_ascii_whitespace().any(|w| w == id))
            .map(|f| f.describe())
            .collect();
        reconcile::refuse_on(ctx, &missing)?;
    }
    let desired = reconcile::desired(ctx, loaded)?;
    let outcome = adopt::pair(crontab, app, job, &desired.entries);
    let plan = match &outcome {
        Outcome::Adopt(pairings) => {
            let spec_ops = desired
                .specs
                .get(job)
                .map(|want| plan::job_spec_ops(app, job, want, installed.specs.get(job)))
                .unwrap_or_default();
            adopt::plan(pairings, spec_ops)
        }
        _ => Plan::default(),
    };
    Ok(Adoption { outcome, plan })
}
