//! Spec files on disk: `<spec-dir>/<app>.<job>.json`, read per app or per job (checked, for the
//! shim, the gate and the status commands), written atomically, removed. A file the reference tool
//! wrote is read too, through the same trust checks; its lock and state dirs are the defaults until
//! the shim sets its config's (`JobSpec::set_host_paths`).
//!
//! The files of one apply are written in one batch (`Batch`: one sync for all of them) and removed
//! with one fsync of the dir.
//!
//! Owns file naming in the spec dir. Must not decide content (that is `core::target_checks`), never
//! holds secret bytes (specs hold references only) and never resolves the references it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::core::manifest::is_identifier;
use crate::core::plan::SpecFile;
use crate::core::spec::{self, HostPaths, JobSpec, SPEC_FORMAT, SpecOrigin};
use crate::error::Failure;
use crate::shell::atomic;
use crate::shell::config::{DEFAULT_LOCK_DIR, DEFAULT_STATE_DIR};
use crate::shell::trusted_path::{self, TrustedDir};

/// Largest spec file read (a job's body is at most 1 MiB, its headers 512 KiB).
pub const MAX_SPEC_LEN: u64 = 4 * 1024 * 1024;

/// `<spec-dir>/<app>.<job>.json`.
pub fn path(dir: &Path, app: &str, job: &str) -> PathBuf {
    dir.join(format!("{app}.{job}.json"))
}

/// `(app, job)` of a spec file name, when it is one.
fn parse_name(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".json")?;
    let (app, job) = stem.split_once('.')?;
    (is_identifier(app) && is_identifier(job)).then(|| (app.to_string(), job.to_string()))
}

/// The spec dir after the trust check (`None` when it does not exist).
pub fn open_dir(dir: &Path) -> Result<Option<TrustedDir>, String> {
    trusted_path::open_dir_if_exists(dir).map_err(|why| format!("spec dir {} {why}", dir.display()))
}

/// Every spec file in the dir, as `(app, job)`. A missing dir holds none; an untrusted one is refused.
pub fn list(dir: &Path) -> Result<BTreeSet<(String, String)>, Failure> {
    open_dir(dir).map_err(Failure::backend)?;
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(io_failure("spec dir", dir, &e)),
    };
    let mut out = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_failure("spec dir", dir, &e))?;
        if let Some(pair) = parse_name(&entry.file_name().to_string_lossy()) {
            out.insert(pair);
        }
    }
    Ok(out)
}

/// The target a spec file records (`None` for a format-1 spec, or one that does not parse: the caller
/// decides from the crontab then).
pub fn recorded_target(dir: &Path, app: &str, job: &str) -> Option<String> {
    let bytes = trusted_path::read(&path(dir, app, job), MAX_SPEC_LEN).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("target")?.as_str().map(str::to_string)
}

/// The app's installed spec files (bytes and mode), by job name.
pub fn read_app(dir: &Path, app: &str) -> Result<BTreeMap<String, SpecFile>, Failure> {
    let mut out = BTreeMap::new();
    let Some(trusted) = open_dir(dir).map_err(Failure::backend)? else {
        return Ok(out);
    };
    for (_, job) in list(dir)?.into_iter().filter(|(a, _)| a == app) {
        let name = file_name(app, &job);
        let unusable = |why: String| {
            Failure::backend(format!(
                "spec file {} {}",
                trusted.join(&name).display(),
                with_mode_hint(why)
            ))
        };
        let Some(file) = trusted.open_file(&name).map_err(unusable)? else {
            continue;
        };
        let meta = file.metadata().map_err(|e| unusable(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let mut bytes = Vec::new();
        file.take(MAX_SPEC_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unusable(format!("cannot be read ({e})")))?;
        out.insert(
            job,
            SpecFile {
                bytes,
                mode,
                group: Some(meta.gid()),
            },
        );
    }
    Ok(out)
}

/// A spec another user cannot open says why: spec files are private unless the operator opens them.
fn with_mode_hint(why: String) -> String {
    if !why.contains("permission denied") {
        return why;
    }
    format!(
        "{why}. Spec files are readable by their owner (and the group of the user the entries run as) \
         only, config spec_mode (default \"0600\"): run this command as root, or set spec_mode: \
         \"0640\" and give the spec files a group you are in, or spec_mode: \"0644\""
    )
}

fn file_name(app: &str, job: &str) -> String {
    format!("{app}.{job}.json")
}

/// Why one job's spec could not be read; each message names the file and says how to fix it.
enum SpecError {
    Missing(String),
    Unusable(String),
}

impl SpecError {
    fn into_message(self) -> String {
        match self {
            SpecError::Missing(message) | SpecError::Unusable(message) => message,
        }
    }
}

/// Read the spec of `app.job`, checking that it is a format this release reads and that it describes
/// the job its name says. A missing spec is an error too (the shim cannot fire without one).
pub fn read_spec(dir: &Path, app: &str, job: &str) -> Result<JobSpec, String> {
    read_checked(dir, app, job).map_err(SpecError::into_message)
}

/// `read_spec` for the reconciler's commands (`show`): `None` when the job has no spec file.
pub fn find_spec(dir: &Path, app: &str, job: &str) -> Result<Option<JobSpec>, Failure> {
    match read_checked(dir, app, job) {
        Ok(spec) => Ok(Some(spec)),
        Err(SpecError::Missing(_)) => Ok(None),
        Err(SpecError::Unusable(message)) => Err(Failure::backend(message)),
    }
}

fn read_checked(dir: &Path, app: &str, job: &str) -> Result<JobSpec, SpecError> {
    let file = path(dir, app, job);
    let missing = || {
        SpecError::Missing(format!(
            "spec {}: does not exist; run `cronix apply` for app {app}, or pass the --spec-dir \
             apply used",
            file.display()
        ))
    };
    let trusted = open_dir(dir)
        .map_err(SpecError::Unusable)?
        .ok_or_else(missing)?;
    let bytes = trusted
        .read_capped(&file_name(app, job), MAX_SPEC_LEN)
        .map_err(|why| {
            SpecError::Unusable(format!("spec {} {}", file.display(), with_mode_hint(why)))
        })?
        .ok_or_else(missing)?;
    let defaults = HostPaths {
        lock_dir: DEFAULT_LOCK_DIR,
        state_dir: DEFAULT_STATE_DIR,
    };
    let spec: JobSpec = spec::parse(&bytes, &defaults).map_err(|e| {
        SpecError::Unusable(format!(
            "spec {}: not a valid spec file ({e}); re-run `cronix apply` to rewrite it",
            file.display()
        ))
    })?;
    check(&spec, app, job)
        .map_err(|msg| SpecError::Unusable(format!("spec {}: {msg}", file.display())))?;
    Ok(spec)
}

/// The spec is one this release reads and names the job its file name says.
fn check(spec: &JobSpec, app: &str, job: &str) -> Result<(), String> {
    let ours = spec.origin == SpecOrigin::Cronix;
    if ours && (spec.format == 0 || spec.format > SPEC_FORMAT) {
        return Err(format!(
            "format {} is not readable by this cronix (reads 1..={SPEC_FORMAT}); upgrade cronix or \
             re-run `cronix apply` with this version",
            spec.format
        ));
    }
    if spec.app != app || spec.job.name != job {
        return Err(format!(
            "describes {}.{}, not {app}.{job}; re-run `cronix apply` to rewrite it",
            spec.app, spec.job.name
        ));
    }
    Ok(())
}

/// New and changed spec files written in one batch (`atomic::Batch`): each atomically with its mode
/// and group, both set on the temp file before the rename, so the new bytes are never readable by
/// more users than the spec's mode says; one sync for all of them, the renames, one fsync of the dir
/// (created 0755 when missing).
pub struct Batch {
    dir: PathBuf,
    files: atomic::Batch,
}

impl Batch {
    pub fn new(dir: &Path) -> Result<Batch, Failure> {
        trusted_path::ensure_dir(dir)
            .map_err(|why| Failure::backend(format!("spec dir {} {why}", dir.display())))?;
        let files =
            atomic::Batch::new(dir, "specs").map_err(|e| io_failure("spec dir", dir, &e))?;
        Ok(Batch {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// Write the temp file of `app.job`'s spec (renamed into place by `commit`).
    pub fn stage(&mut self, app: &str, job: &str, spec: &SpecFile) -> Result<(), Failure> {
        let file = path(&self.dir, app, job);
        self.files
            .stage_exact(&file, &spec.bytes, spec.mode, spec.group)
            .map_err(|e| io_failure("spec file", &file, &e))
    }

    /// Sync every staged spec file, rename them into place, fsync the dir.
    pub fn commit(self) -> Result<(), Failure> {
        self.files
            .commit()
            .map_err(|e| io_failure("spec dir", &self.dir, &e))
    }
}

/// A spec file an apply is about to replace or create, so a failed apply can put the old one back.
pub struct Kept {
    path: PathBuf,
    /// A hard link to the old file (no data written, so it works on a full disk); `None` when
    /// there was no old file.
    backup: Option<PathBuf>,
}

/// Keep the current spec file of `app.job` (if any) under a temp name before it is replaced.
pub fn keep(dir: &Path, app: &str, job: &str) -> Result<Kept, Failure> {
    let file = path(dir, app, job);
    let backup = dir.join(format!(
        "{}-kept",
        atomic::temp_prefix(&file_name(app, job))
    ));
    match fs::remove_file(&backup) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_failure("spec file", &backup, &e)),
    }
    match fs::hard_link(&file, &backup) {
        Ok(()) => Ok(Kept {
            path: file,
            backup: Some(backup),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kept {
            path: file,
            backup: None,
        }),
        Err(e) => Err(io_failure("spec file", &file, &e)),
    }
}

impl Kept {
    /// Put the old file back (or remove the new one when there was none).
    pub fn put_back(&self) -> Result<(), Failure> {
        match &self.backup {
            Some(backup) => {
                fs::rename(backup, &self.path).map_err(|e| io_failure("spec file", &self.path, &e))
            }
            None => match fs::remove_file(&self.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_failure("spec file", &self.path, &e)),
            },
        }
    }

    /// The change stays: drop the kept old file. Not fsynced: a kept file that a crash brings back
    /// is a temp file, which the next apply's `clean_temps` removes.
    pub fn release(&self) -> Result<(), Failure> {
        match &self.backup {
            Some(backup) => atomic::remove_unsynced_dir(backup)
                .map(|_| ())
                .map_err(|e| io_failure("spec file", backup, &e)),
            None => Ok(()),
        }
    }
}

/// Make renames and removals in the spec dir durable (one fsync of the dir).
pub fn sync(dir: &Path) -> Result<(), Failure> {
    atomic::sync_dir(dir).map_err(|e| io_failure("spec dir", dir, &e))
}

/// Remove one spec file without syncing the dir (the caller syncs once after a batch); whether a
/// file was there.
pub fn remove_unsynced(dir: &Path, app: &str, job: &str) -> Result<bool, Failure> {
    let file = path(dir, app, job);
    atomic::remove_unsynced_dir(&file).map_err(|e| io_failure("spec file", &file, &e))
}

/// Remove temp spec files a crashed apply of `app` left behind.
pub fn clean_temps(dir: &Path, app: &str) -> Result<usize, Failure> {
    atomic::clean_temps(dir, &format!(".{app}.")).map_err(|e| io_failure("spec dir", dir, &e))
}

fn io_failure(what: &str, path: &Path, e: &io::Error) -> Failure {
    Failure::backend(format!(
        "{what} {}: {e}; check that it exists and that you may write it (fix --spec-dir or run as root)",
        path.display()
    ))
}
