//! An in-memory backend for the unit tests of the reconcile orchestration (plan → refusals →
//! execute → audit): entries and specs held in memory with a revision per entry, and switches that
//! make it fail the way real targets fail — an op that errors part way, a target changed by someone
//! else between the read and the write, a foreign object in the way, a preflight problem.
//!
//! Test-only (`#[cfg(test)]`): never in a build of the binary. It renders every entry as one line
//! naming the schedule and the job, and counts the write requests it receives, as an API server's
//! audit log would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::core::plan::{Action, InstalledEntry, Plan, SpecFile, Subject};
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::spec::JobSpec;
use crate::error::Failure;
use crate::shell::backend::{
    ApplyGuard, Backend, CheckJob, Executed, Preflight, PreflightFor, Snapshot, SpecPlace,
};

/// One entry the fake target holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEntry {
    pub app: String,
    pub job: String,
    pub idx: usize,
    pub hash: String,
    pub line: String,
    pub suspended: bool,
    pub revision: u64,
}

/// How the fake target misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The write request with this number (0-based, over the whole execution) fails.
    pub fail_write: Option<usize>,
    /// Before the first write, someone else changes every entry (their revisions move on).
    pub changed_under_us: bool,
    /// Names of foreign objects standing where entries of these `(app, job, idx)` go.
    pub foreign: BTreeSet<(String, String, usize)>,
    /// Problems the preflight reports (refuse plan and apply).
    pub blocking: Vec<String>,
}

#[derive(Debug, Default)]
struct Held {
    entries: Vec<FakeEntry>,
    /// The owned `cronix check` job as installed.
    check: Option<String>,
    specs: BTreeMap<(String, String), SpecFile>,
    next_revision: u64,
    writes: usize,
    faults: Faults,
}

/// The in-memory target; clones share it.
#[derive(Debug, Clone)]
pub struct FakeBackend {
    held: Arc<Mutex<Held>>,
    specs: FakeSpecs,
}

impl Default for FakeBackend {
    fn default() -> Self {
        FakeBackend::new()
    }
}

impl FakeBackend {
    pub fn new() -> FakeBackend {
        let held = Arc::new(Mutex::new(Held::default()));
        FakeBackend {
            specs: FakeSpecs(held.clone()),
            held,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock_held().faults = faults;
    }

    /// Write requests received so far (creates, updates, deletes of entries and specs).
    pub fn writes(&self) -> usize {
        self.lock_held().writes
    }

    pub fn entries(&self) -> Vec<FakeEntry> {
        self.lock_held().entries.clone()
    }

    /// The `cronix check` job as installed.
    pub fn check(&self) -> Option<String> {
        self.lock_held().check.clone()
    }

    pub fn spec_names(&self) -> Vec<(String, String)> {
        self.lock_held().specs.keys().cloned().collect()
    }

    /// Suspend an entry by hand, as `kubectl patch … suspend: true` or `systemctl disable` would.
    pub fn suspend(&self, app: &str, job: &str, idx: usize) {
        let mut held = self.lock_held();
        let revision = held.bump();
        if let Some(e) = held
            .entries
            .iter_mut()
            .find(|e| e.app == app && e.job == job && e.idx == idx)
        {
            e.suspended = true;
            e.revision = revision;
        }
    }

    /// Edit an entry's line by hand, keeping its hash.
    pub fn edit(&self, app: &str, job: &str, idx: usize, line: &str) {
        let mut held = self.lock_held();
        let revision = held.bump();
        if let Some(e) = held
            .entries
            .iter_mut()
            .find(|e| e.app == app && e.job == job && e.idx == idx)
        {
            e.line = line.to_string();
            e.revision = revision;
        }
    }

    fn lock_held(&self) -> MutexGuard<'_, Held> {
        lock(&self.held)
    }
}

fn lock(held: &Mutex<Held>) -> MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(|p| p.into_inner())
}

impl Held {
    fn bump(&mut self) -> u64 {
        self.next_revision += 1;
        self.next_revision
    }

    /// Count a write request; `Err` when the faults say this one fails.
    fn write(&mut self) -> Result<(), Failure> {
        let n = self.writes;
        self.writes += 1;
        if self.faults.fail_write == Some(n) {
            return Err(Failure::backend(format!(
                "fake target: write request {n} refused"
            )));
        }
        Ok(())
    }

    /// Apply one op of the plan; `snapshot` is what the plan was made from.
    fn apply_op(&mut self, op: &crate::core::plan::Op, snapshot: &Snapshot) -> Result<(), Failure> {
        let key = (op.app.clone(), op.job.clone());
        match (op.kind, op.op) {
            (Subject::Check, _) => {
                self.write()?;
                self.check = op.line.clone();
            }
            (Subject::Spec, Action::Delete) => {
                self.write()?;
                self.specs.remove(&key);
            }
            (Subject::Spec, _) => {
                self.write()?;
                if let Some(spec) = &op.spec {
                    self.specs.insert(key, spec.clone());
                }
            }
            (Subject::Entry, action) => {
                let read = op.at.and_then(|at| snapshot.entries.get(at));
                let at = self
                    .entries
                    .iter()
                    .position(|e| e.app == op.app && e.job == op.job && Some(e.idx) == op.idx);
                if let (Some(read), Some(at)) = (read, at)
                    && read.revision.as_deref() != Some(&self.entries[at].revision.to_string())
                {
                    return Err(Failure::conflict(format!(
                        "entry {}.{} {}",
                        op.app,
                        op.job,
                        op.idx.unwrap_or_default()
                    )));
                }
                self.write()?;
                let revision = self.bump();
                match (action, at) {
                    (Action::Delete, Some(at)) => {
                        self.entries.remove(at);
                    }
                    (Action::Delete, None) => {}
                    (_, at) => {
                        let entry = FakeEntry {
                            app: op.app.clone(),
                            job: op.job.clone(),
                            idx: op.idx.unwrap_or_default(),
                            hash: op.hash.clone().unwrap_or_default(),
                            line: op.line.clone().unwrap_or_default(),
                            suspended: false,
                            revision,
                        };
                        match at {
                            Some(at) => self.entries[at] = entry,
                            None => self.entries.push(entry),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Specs as a read of the fake target.
#[derive(Debug, Clone)]
struct FakeSpecs(Arc<Mutex<Held>>);

impl FakeSpecs {
    fn lock_held(&self) -> MutexGuard<'_, Held> {
        lock(&self.0)
    }
}

impl SpecPlace for FakeSpecs {
    fn list(&self) -> Result<BTreeSet<(String, String)>, Failure> {
        Ok(self.lock_held().specs.keys().cloned().collect())
    }

    fn recorded_target(&self, app: &str, job: &str) -> Option<String> {
        let held = self.lock_held();
        let spec = held.specs.get(&(app.to_string(), job.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(&spec.bytes).ok()?;
        value.get("target")?.as_str().map(str::to_string)
    }

    fn read_app(&self, app: &str) -> Result<BTreeMap<String, SpecFile>, Failure> {
        Ok(self
            .lock_held()
            .specs
            .iter()
            .filter(|((a, _), _)| a == app)
            .map(|((_, j), spec)| (j.clone(), spec.clone()))
            .collect())
    }

    fn find(&self, app: &str, job: &str) -> Result<Option<JobSpec>, Failure> {
        let held = self.lock_held();
        let Some(spec) = held.specs.get(&(app.to_string(), job.to_string())) else {
            return Ok(None);
        };
        let paths = crate::core::spec::HostPaths {
            lock_dir: "/nonexistent",
            state_dir: "/nonexistent",
        };
        crate::core::spec::parse(&spec.bytes, &paths)
            .map(Some)
            .map_err(Failure::backend)
    }
}

/// Renders `fake <cron expression> <app>.<job>#<idx>`.
struct FakeRenderer;

impl Renderer for FakeRenderer {
    fn check_target(&self) -> Vec<String> {
        Vec::new()
    }

    fn check_job(&self, _input: &JobInput) -> Vec<String> {
        Vec::new()
    }

    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        input
            .schedules
            .iter()
            .enumerate()
            .map(|(idx, schedule)| {
                let shown = schedule.crontab_expression();
                Rendered {
                    line: format!("fake {shown} {}.{}#{idx}", input.app, input.job.name),
                    shown,
                    gate_wakeups_per_day: None,
                }
            })
            .collect()
    }
}

impl Backend for FakeBackend {
    fn target_id(&self) -> String {
        "fake:memory".to_string()
    }

    fn renderer(&self) -> Box<dyn Renderer + '_> {
        Box::new(FakeRenderer)
    }

    fn preflight(&self, _purpose: PreflightFor) -> Preflight {
        Preflight {
            blocking: self.lock_held().faults.blocking.clone(),
            ..Preflight::default()
        }
    }

    fn lock(&self, _wait: std::time::Duration) -> Result<ApplyGuard, Failure> {
        Ok(Box::new(()))
    }

    fn recover(&self, _apps: &[&str]) -> Result<(), Failure> {
        Ok(())
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let held = self.lock_held();
        let entries = held
            .entries
            .iter()
            .enumerate()
            .map(|(at, e)| InstalledEntry {
                app: e.app.clone(),
                job: e.job.clone(),
                idx: e.idx,
                hash: e.hash.clone(),
                line: Some(e.line.clone()),
                schedule: None,
                at,
                inactive: e.suspended.then(|| "suspended".to_string()),
                revision: Some(e.revision.to_string()),
            })
            .collect();
        Ok(Snapshot {
            entries,
            state: Box::new(()),
        })
    }

    fn specs(&self) -> &dyn SpecPlace {
        &self.specs
    }

    fn install_conflicts(&self, _snapshot: &Snapshot, plan: &Plan) -> Vec<String> {
        let held = self.lock_held();
        plan.entry_ops()
            .filter(|o| o.op == Action::Create)
            .filter(|o| {
                held.faults.foreign.contains(&(
                    o.app.clone(),
                    o.job.clone(),
                    o.idx.unwrap_or_default(),
                ))
            })
            .map(|o| format!("a foreign object stands where {}.{} goes", o.app, o.job))
            .collect()
    }

    fn hazards(&self, _snapshot: &Snapshot, _app: &str, _jobs: &[&str]) -> Vec<String> {
        Vec::new()
    }

    /// Specs first, then entries, then spec deletes — stopping at the first failure, each op
    /// reported as made or not.
    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed {
        let mut held = self.lock_held();
        if std::mem::take(&mut held.faults.changed_under_us) {
            for n in 0..held.entries.len() {
                let revision = held.bump();
                held.entries[n].revision = revision;
            }
        }
        let order = |op: &crate::core::plan::Op| match (op.kind, op.op) {
            (Subject::Spec, Action::Delete) => 2,
            (Subject::Spec, _) => 0,
            (Subject::Entry, _) | (Subject::Check, _) => 1,
        };
        let mut indices: Vec<usize> = (0..plan.ops.len()).collect();
        indices.sort_by_key(|n| order(&plan.ops[*n]));
        let mut executed = Executed {
            done: vec![false; plan.ops.len()],
            failure: None,
        };
        for n in indices {
            if let Err(failure) = held.apply_op(&plan.ops[n], snapshot) {
                executed.failure = Some(failure);
                break;
            }
            executed.done[n] = true;
        }
        executed
    }

    fn check_artifact(&self, check: &CheckJob) -> Option<String> {
        Some(format!(
            "fake check {} {}",
            check.schedule.crontab_expression(),
            check.state_dir
        ))
    }

    fn installed_check(&self, _snapshot: &Snapshot) -> Result<Option<String>, Failure> {
        Ok(self.lock_held().check.clone())
    }

    fn follows(&self, _entry: &InstalledEntry) -> Option<(std::path::PathBuf, usize)> {
        None
    }

    fn reported_next(&self, _snapshot: &Snapshot, _ats: &[usize]) -> BTreeMap<usize, String> {
        BTreeMap::new()
    }
}
