//! Spec files in a local spec dir, for the backends whose entries run on this host (crontab,
//! systemd): the [`SpecPlace`] they hand out, and the order they execute a plan in — spec files
//! written (old ones kept), then the backend's entries, then spec files removed.
//!
//! When the entries cannot be installed and the target still holds the old ones, the kept spec
//! files go back, so specs and target agree; when the target changed in part, the new specs stay
//! and the ops the target shows as made are reported made. Must not know any backend's artifacts:
//! the backend passes its install step and a fresh read in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::core::audit;
use crate::core::plan::{self, Action, InstalledEntry, Plan, SpecFile};
use crate::core::spec::JobSpec;
use crate::error::Failure;
use crate::shell::backend::{Executed, SpecPlace};
use crate::shell::{spec_store, test_pause};

/// A spec dir on this host.
#[derive(Debug, Clone)]
pub struct LocalSpecs {
    dir: PathBuf,
}

impl LocalSpecs {
    pub fn new(dir: impl Into<PathBuf>) -> LocalSpecs {
        LocalSpecs { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Remove temp spec files a crashed apply of `apps` left behind.
    pub fn recover(&self, apps: &[&str]) -> Result<(), Failure> {
        for app in apps {
            spec_store::clean_temps(&self.dir, app)?;
        }
        Ok(())
    }
}

impl SpecPlace for LocalSpecs {
    fn list(&self) -> Result<BTreeSet<(String, String)>, Failure> {
        spec_store::list(&self.dir)
    }

    fn recorded_target(&self, app: &str, job: &str) -> Option<String> {
        spec_store::recorded_target(&self.dir, app, job)
    }

    fn read_app(&self, app: &str) -> Result<BTreeMap<String, SpecFile>, Failure> {
        spec_store::read_app(&self.dir, app)
    }

    fn find(&self, app: &str, job: &str) -> Result<Option<JobSpec>, Failure> {
        spec_store::find_spec(&self.dir, app, job)
    }
}

/// The backend's part of an execution: install the plan's entry ops, and read the target back
/// (after a failed install, to tell what was made).
pub struct EntrySteps<'a> {
    /// How the target is named in messages.
    pub target: String,
    /// The entries read before the execution.
    pub before: &'a [InstalledEntry],
    pub install: &'a dyn Fn() -> Result<(), Failure>,
    pub read_now: &'a dyn Fn() -> Result<Vec<InstalledEntry>, Failure>,
}

/// Execute `plan`: spec files written, then the entries, then spec files removed.
pub fn execute(specs: &LocalSpecs, plan: &Plan, steps: EntrySteps<'_>) -> Executed {
    let mut kept = Vec::new();
    if let Err(failure) = write_specs(specs, plan, &mut kept) {
        return Executed::none(plan, put_back(specs, &kept, failure));
    }
    test_pause::at("specs_written");
    if plan.ops.iter().any(|o| o.kind != plan::Subject::Spec)
        && let Err(failure) = (steps.install)()
    {
        return after_failed_install(specs, plan, &steps, kept, failure);
    }
    // The change is made: a kept old file that cannot be removed now is a leftover temp file, which
    // the next apply's clean-up removes; it must not turn a made change into a failure.
    for old in &kept {
        let _ = old.release();
    }
    test_pause::at("crontab_installed");
    let mut executed = Executed::all(plan);
    let mut removed = false;
    for (n, op) in plan.ops.iter().enumerate() {
        if op.kind != plan::Subject::Spec || op.op != Action::Delete {
            continue;
        }
        match spec_store::remove_unsynced(&specs.dir, &op.app, &op.job) {
            Ok(gone) => removed |= gone,
            Err(failure) => {
                mark_undone_from(plan, &mut executed, n);
                executed.failure = Some(failure);
                return executed;
            }
        }
    }
    if removed && let Err(failure) = spec_store::sync(&specs.dir) {
        executed.failure = Some(failure);
        return executed;
    }
    test_pause::at("specs_removed");
    executed
}

/// A spec delete at `n` failed: it and every later spec delete were not made.
fn mark_undone_from(plan: &Plan, executed: &mut Executed, n: usize) {
    for (m, op) in plan.ops.iter().enumerate().skip(n) {
        if op.kind == plan::Subject::Spec && op.op == Action::Delete {
            executed.done[m] = false;
        }
    }
}

/// The install failed: when the target still holds the old entries (a crontab is replaced whole
/// or not at all), the old specs go back and nothing was made; else (a systemd install stopped
/// half way) the new specs stay and the entries the target shows as made are reported made.
fn after_failed_install(
    specs: &LocalSpecs,
    plan: &Plan,
    steps: &EntrySteps<'_>,
    kept: Vec<spec_store::Kept>,
    failure: Failure,
) -> Executed {
    let apps: BTreeSet<String> = plan.ops.iter().map(|o| o.app.clone()).collect();
    let now = (steps.read_now)();
    let unchanged = now
        .as_ref()
        .is_ok_and(|now| audit::entries_of(&apps, now) == audit::entries_of(&apps, steps.before));
    if unchanged {
        return Executed::none(plan, put_back(specs, &kept, failure));
    }
    for old in &kept {
        let _ = old.release();
    }
    let mut done = plan::observed_entry_outcomes(plan, now.as_deref().unwrap_or_default());
    for (n, op) in plan.ops.iter().enumerate() {
        if op.kind == plan::Subject::Spec && op.op != Action::Delete {
            done[n] = true;
        }
    }
    Executed {
        done,
        failure: Some(Failure::new(
            failure.kind,
            format!(
                "{}; {} was changed in part, so the new spec files stay: run `cronix apply` \
                 again once the cause is fixed",
                failure.message, steps.target
            ),
        )),
    }
}

/// Write the plan's new and changed spec files in one batch (one sync for all), keeping each old
/// one in `kept` first.
fn write_specs(
    specs: &LocalSpecs,
    plan: &Plan,
    kept: &mut Vec<spec_store::Kept>,
) -> Result<(), Failure> {
    let mut wanted = plan
        .spec_ops()
        .filter(|o| o.op != Action::Delete)
        .filter_map(|op| Some((op, op.spec.as_ref()?)))
        .peekable();
    if wanted.peek().is_none() {
        return Ok(());
    }
    let mut batch = spec_store::Batch::new(&specs.dir)?;
    for (op, spec) in wanted {
        kept.push(spec_store::keep(&specs.dir, &op.app, &op.job)?);
        batch.stage(&op.app, &op.job, spec)?;
    }
    batch.commit()
}

/// Put the kept spec files back after `failure`, and say so (or what could not be put back).
fn put_back(specs: &LocalSpecs, kept: &[spec_store::Kept], failure: Failure) -> Failure {
    let errors: Vec<String> = kept
        .iter()
        .rev()
        .filter_map(|old| old.put_back().err())
        .map(|e| e.to_string())
        .collect();
    let synced = spec_store::sync(&specs.dir).err().map(|e| e.to_string());
    let note = match (errors.is_empty(), synced) {
        (true, None) => "the spec files were put back as they were".to_string(),
        (_, synced) => format!(
            "putting the old spec files back failed too (run `cronix apply` again once fixed): {}",
            errors
                .into_iter()
                .chain(synced)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    Failure::new(failure.kind, format!("{}; {note}", failure.message))
}
