//! The backend layer of the shell: what every scheduler backend supplies (read its own installed
//! entries, render desired ones, execute the entry ops of a plan under its apply lock), and the one
//! place that turns a [`BackendKind`] into a backend.
//!
//! Each backend keeps the same guarantees: the apply lock, atomic writes, zero writes and zero
//! service calls on a plan without entry ops, foreign objects untouched. Spec files are not a
//! backend's business: `shell::reconcile` writes them before and removes them after `install`.
//! Must not format output and has no dry-run switch.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::core::backend_kind::BackendKind;
use crate::core::plan::{InstalledEntry, Plan};
use crate::core::render::Renderer;
use crate::error::Failure;
use crate::shell::config::Config;
use crate::shell::crontab_backend::CrontabBackend;
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

/// One scheduler backend.
pub trait Backend: std::fmt::Debug + Send + Sync {
    /// How the target is named in output and the audit journal.
    fn describe(&self) -> String;
    /// The pure renderer of this backend's entries.
    fn renderer(&self) -> Box<dyn Renderer + '_>;
    /// Problems found on the host before anything is written (users, directories, foreign objects
    /// in the way of desired ones are checked in `install_conflicts`).
    fn check_host(&self) -> Vec<String>;
    /// Take the apply lock, waiting at most `wait` for another apply to finish.
    fn lock(&self, wait: std::time::Duration) -> Result<ApplyGuard, Failure>;
    /// Remove temp files a crashed apply left (caller holds the lock).
    fn clean_temps(&self) -> Result<(), Failure>;
    /// Read what this backend installed (every app).
    fn read(&self) -> Result<Snapshot, Failure>;
    /// Objects of the plan's creates that exist but are not this backend's to replace (names of
    /// foreign or other-identity objects), as error lines.
    fn install_conflicts(&self, snapshot: &Snapshot, plan: &Plan) -> Vec<String>;
    /// Foreign objects next to which an apply of `app`'s `jobs` would be unsafe (crontab: unmarked
    /// trigger lines of these jobs, lines without a user column), each described for the operator.
    fn hazards(&self, snapshot: &Snapshot, app: &str, jobs: &[&str]) -> Vec<String>;
    /// The backend as `Any`, for the commands that only one backend supports (adopt).
    fn as_any(&self) -> &dyn Any;
    /// Execute the plan's entry ops (caller holds the lock; spec files already written). A plan
    /// without entry ops changes nothing and calls nothing.
    fn install(&self, snapshot: &Snapshot, plan: &Plan) -> Result<(), Failure>;
    /// The spec dir and schedule index whose fires an entry follows, when its artifact does not show
    /// them by itself (a gated crontab line, every systemd timer).
    fn follows(&self, entry: &InstalledEntry) -> Option<(PathBuf, usize)>;
    /// The variables the scheduler hands every fire of this target (a crontab's `NAME=value`
    /// lines); empty by default.
    fn fire_env_names(&self, _snapshot: &Snapshot) -> std::collections::BTreeSet<String> {
        std::collections::BTreeSet::new()
    }
    /// The next elapse of installed entries as the service manager reports it, by `at`; empty when
    /// the backend has no such report (cron).
    fn reported_next(&self, snapshot: &Snapshot, ats: &[usize]) -> BTreeMap<usize, String>;
    /// Put the owned `cronix check` job in place, replace it, or remove it when `check` is `None`
    /// (caller holds the lock). Nothing is written or called when it is already as wanted.
    fn sync_check(&self, check: Option<&CheckJob>) -> Result<(), Failure>;
    /// Foreign objects in the way of the wanted `cronix check` job, as error lines; asked before
    /// anything is written, so a refused apply changes nothing.
    fn check_conflicts(&self, check: Option<&CheckJob>) -> Vec<String> {
        let _ = check;
        Vec::new()
    }
    /// The user the entries run as (a crontab's user column or user crontab); `None` is root. The
    /// trigger binary may belong to that user as well as to root, and the shim reads the spec files
    /// as that user.
    fn runs_as(&self) -> Option<String> {
        None
    }
    /// The directories and the lock file of this backend that the trust model covers.
    fn own_paths(&self) -> Vec<OwnPath>;
    /// The service that fires the entries (cron, systemd): the name of its check, and whether it
    /// runs (`Ok(detail)`) or not (`Err(problem; fix)`). Reads only.
    fn scheduler(&self) -> (&'static str, Result<String, String>);
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
        BackendKind::Vercel => Box::new(VercelBackend::new(None, None)?),
    })
}

/// The private state of a snapshot, as the backend that made it stored it.
pub fn state_of<T: Any>(snapshot: &Snapshot) -> Result<&T, Failure> {
    snapshot.state.downcast_ref::<T>().ok_or_else(|| {
        Failure::backend("internal: a snapshot was handed to another backend; report this bug")
    })
}
