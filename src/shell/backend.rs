//! The backend layer of the shell: what every scheduler backend supplies, and the one place that
//! turns a [`BackendKind`] into a backend.
//!
//! A backend reads its own installed entries (with liveness and revision), owns where spec files
//! live ([`SpecPlace`]: a local spec dir, or objects of the target), renders desired entries,
//! checks the target before a write ([`Preflight`]), and executes a whole plan in its own safe
//! order, reporting what each op did ([`Executed`]). Every backend keeps the same guarantees: the
//! apply lock, atomic writes, zero writes and zero service calls on a plan without ops, specs in
//! place before the entries that use them, foreign objects untouched. What only some backends can
//! do is declared in [`Capabilities`], never found by downcasting. Must not format output and has
//! no dry-run switch.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::core::backend_kind::BackendKind;
use crate::core::history::RunRecord;
use crate::core::plan::{InstalledEntry, Plan, SpecFile};
use crate::core::render::Renderer;
use crate::core::spec::JobSpec;
use crate::error::Failure;
use crate::shell::config::Config;
use crate::shell::crontab_backend::CrontabBackend;
use crate::shell::k8s_backend::K8sBackend;
use crate::shell::systemd_backend::SystemdBackend;
use crate::shell::vercel_backend::VercelBackend;

/// What a backend read: its own entries (recognized by its ownership marks), and its private state
/// that `install` needs (the crontab bytes, the unit files found).
pub struct Snapshot {
    pub entries: Vec<InstalledEntry>,
    pub state: Box<dyn Any + Send + Sync>,
}

/// A held apply lock; released when dropped (or when the process dies).
pub type ApplyGuard = Box<dyn Any>;

/// The settings every backend renders from (already resolved: flags over config over defaults).
#[derive(Debug, Clone)]
pub struct Common {
    pub trigger_bin: String,
    pub spec_dir: String,
    pub lock_dir: PathBuf,
    /// Config `otel.render_in_entries`: every entry runs `trigger --otel`.
    pub otel: bool,
}

/// The owned `cronix check` job that config `check_every` asks for (already validated: safe paths,
/// an `@every` schedule cron and systemd repeat exactly).
#[derive(Debug, Clone)]
pub struct CheckJob {
    pub schedule: crate::core::schedule::Schedule,
    pub bin: String,
    pub config: String,
    pub spec_dir: String,
    pub state_dir: String,
}

/// A path of a backend's own that the trust model covers (DESIGN §11), for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnPath {
    /// A directory the backend writes into (the crontab's, the unit dir), named by its role.
    Dir(&'static str, PathBuf),
    /// The apply lock file, named by its role.
    Lock(&'static str, PathBuf),
}

/// Where a fire finds things when it does not run on this host (a pod's own filesystem): spec files
/// record these instead of the paths apply was given, and no config path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirePaths {
    pub trigger_bin: &'static str,
    pub spec_dir: &'static str,
    pub lock_dir: &'static str,
    pub state_dir: &'static str,
}

/// What a backend checks before a write, and what `doctor` prints of it.
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    /// Problems that refuse plan and apply (a missing user, an unreachable API).
    pub blocking: Vec<String>,
    /// Named checks for `doctor`: `Ok(detail)` or `Err(problem; fix)` (the scheduler runs, the
    /// API answers, the credentials may do what apply needs).
    pub checks: Vec<PreflightCheck>,
    /// The directories and lock files of this backend that the trust model covers.
    pub own_paths: Vec<OwnPath>,
}

/// Who asks for a preflight: apply and plan need only what refuses a write (cheap, no service
/// calls for local backends); `doctor` wants every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreflightFor {
    Apply,
    Doctor,
}

/// One named check of a preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightCheck {
    pub name: String,
    pub result: Result<String, String>,
}

/// Where a backend's fires record their runs, for `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistorySource {
    /// The shim's history files in the state dir of this host.
    LocalFiles,
    /// The target itself keeps them (`Backend::history`), e.g. finished pods.
    Backend,
}

/// What a backend can do beyond the interface every backend has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Takes over hand-written trigger lines (`adopt`; `Backend::adopter`).
    pub adopt: bool,
    /// The service manager reports each entry's next elapse (`Backend::reported_next`).
    pub reported_next: bool,
    pub history: HistorySource,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            adopt: false,
            reported_next: false,
            history: HistorySource::LocalFiles,
        }
    }
}

/// What an execution did: one flag per op of the plan (by index into `plan.ops`), and the failure
/// that stopped it, if any. A plan stopped part way is audited as what happened.
#[derive(Debug)]
pub struct Executed {
    pub done: Vec<bool>,
    pub failure: Option<Failure>,
}

impl Executed {
    /// Every op of `plan` made.
    pub fn all(plan: &Plan) -> Executed {
        Executed {
            done: vec![true; plan.ops.len()],
            failure: None,
        }
    }

    /// Nothing of `plan` made, because of `failure`.
    pub fn none(plan: &Plan, failure: Failure) -> Executed {
        Executed {
            done: vec![false; plan.ops.len()],
            failure: Some(failure),
        }
    }
}

/// Where a backend keeps its spec files, read side (writes happen in `Backend::execute`).
pub trait SpecPlace {
    /// Every spec held, as `(app, job)`.
    fn list(&self) -> Result<BTreeSet<(String, String)>, Failure>;
    /// The target a spec records (`None` when it records none or does not parse).
    fn recorded_target(&self, app: &str, job: &str) -> Option<String>;
    /// The app's specs (bytes, mode, group), by job name.
    fn read_app(&self, app: &str) -> Result<BTreeMap<String, SpecFile>, Failure>;
    /// One job's spec, checked as the shim checks it; `None` when there is none.
    fn find(&self, app: &str, job: &str) -> Result<Option<JobSpec>, Failure>;
}

/// A backend that takes over hand-written trigger lines (`Capabilities::adopt`).
pub trait Adopter {
    /// The crontab the snapshot read, and whether its lines carry a user column.
    fn crontab<'a>(
        &self,
        snapshot: &'a Snapshot,
    ) -> Option<(&'a crate::core::crontab::Crontab, bool)>;
}

/// One scheduler backend.
pub trait Backend: std::fmt::Debug + Send + Sync {
    /// The target's stable identity, written into spec files and the audit journal (a path, a
    /// cluster and namespace). Never changes for the same target.
    fn target_id(&self) -> String;
    /// How the target is named in output (may read better than `target_id`).
    fn describe(&self) -> String {
        self.target_id()
    }
    /// The pure renderer of this backend's entries.
    fn renderer(&self) -> Box<dyn Renderer + '_>;
    /// Checks before anything is written, and the paths the trust model covers. Reads only;
    /// `checks` are filled for `PreflightFor::Doctor`.
    fn preflight(&self, purpose: PreflightFor) -> Preflight;
    /// Take the apply lock, waiting at most `wait` for another apply to finish.
    fn lock(&self, wait: std::time::Duration) -> Result<ApplyGuard, Failure>;
    /// Undo what a crashed apply of `apps` left half done (temp files); the caller holds the lock.
    fn recover(&self, apps: &[&str]) -> Result<(), Failure>;
    /// Read what this backend installed (every app), with liveness and revisions.
    fn read(&self) -> Result<Snapshot, Failure>;
    /// Where this backend's spec files live.
    fn specs(&self) -> &dyn SpecPlace;
    /// What this backend can do beyond the common interface.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    /// The adopt capability, when the backend has it.
    fn adopter(&self) -> Option<&dyn Adopter> {
        None
    }
    /// The runs of `app.job` as the target recorded them (`HistorySource::Backend`), newest last.
    fn history(&self, app: &str, job: &str) -> Result<Vec<RunRecord>, Failure> {
        let _ = (app, job);
        Ok(Vec::new())
    }
    /// Objects of the plan's creates that exist but are not this backend's to replace (names of
    /// foreign or other-identity objects), as error lines.
    fn install_conflicts(&self, snapshot: &Snapshot, plan: &Plan) -> Vec<String>;
    /// Foreign objects next to which an apply of `app`'s `jobs` would be unsafe (crontab: unmarked
    /// trigger lines of these jobs, lines without a user column), each described for the operator.
    fn hazards(&self, snapshot: &Snapshot, app: &str, jobs: &[&str]) -> Vec<String>;
    /// Execute every op of the plan (spec files and entries) in this backend's safe order: a spec
    /// is in place before the entries that use it and outlives them. The caller holds the lock. A
    /// plan without ops changes nothing and calls nothing.
    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed;
    /// The spec dir and schedule index whose fires an entry follows, when its artifact does not show
    /// them by itself (a gated crontab line, every systemd timer).
    fn follows(&self, entry: &InstalledEntry) -> Option<(PathBuf, usize)>;
    /// The variables the scheduler hands every fire of this target (a crontab's `NAME=value`
    /// lines); empty by default.
    fn fire_env_names(&self, _snapshot: &Snapshot) -> BTreeSet<String> {
        BTreeSet::new()
    }
    /// The next elapse of installed entries as the service manager reports it, by `at`; empty when
    /// the backend has no such report (cron).
    fn reported_next(&self, snapshot: &Snapshot, ats: &[usize]) -> BTreeMap<usize, String>;
    /// The owned `cronix check` job (config `check_every`) as this backend would install it; `None`
    /// when the backend has no such job. `execute` installs it from a `Subject::Check` op.
    fn check_artifact(&self, check: &CheckJob) -> Option<String> {
        let _ = check;
        None
    }
    /// The `cronix check` job as installed (recognized by its mark), for the plan made from
    /// `snapshot`.
    fn installed_check(&self, snapshot: &Snapshot) -> Result<Option<String>, Failure> {
        let _ = snapshot;
        Ok(None)
    }
    /// Foreign objects in the way of the wanted `cronix check` job, as error lines; asked before
    /// anything is written, so a refused apply changes nothing.
    fn check_conflicts(&self, check: Option<&CheckJob>) -> Vec<String> {
        let _ = check;
        Vec::new()
    }
    /// Where the fires run when that is not this host (`FirePaths`); `None`: they run here, with the
    /// paths apply was given.
    fn fire_paths(&self) -> Option<FirePaths> {
        None
    }
    /// The zone the scheduler fires entries in when it is not this host's (Vercel: UTC); `None` for
    /// a scheduler on this host.
    fn scheduler_zone(&self) -> Option<jiff::tz::TimeZone> {
        None
    }
    /// The user the entries run as (a crontab's user column or user crontab); `None` is root. The
    /// trigger binary may belong to that user as well as to root, and the shim reads the spec files
    /// as that user.
    fn runs_as(&self) -> Option<String> {
        None
    }
}

/// The backend `kind` names, set up from flags and config. The one place backends are listed.
pub fn open(
    kind: BackendKind,
    target: &crate::settings::TargetFlags,
    config: &Config,
    common: Common,
) -> Result<Box<dyn Backend>, Failure> {
    Ok(match kind {
        BackendKind::Crontab => Box::new(CrontabBackend::new(target, config, common)?),
        BackendKind::SystemdTimer => Box::new(SystemdBackend::new(target, config, common)?),
        BackendKind::Kubernetes => Box::new(K8sBackend::new(target, config, common)?),
        BackendKind::Vercel => Box::new(VercelBackend::from_settings(target, config)?),
    })
}

/// The private state of a snapshot, as the backend that made it stored it.
pub fn state_of<T: Any>(snapshot: &Snapshot) -> Result<&T, Failure> {
    snapshot.state.downcast_ref::<T>().ok_or_else(|| {
        Failure::backend("internal: a snapshot was handed to another backend; report this bug")
    })
}
