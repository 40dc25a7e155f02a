//! Crontab targets: a crontab file (system format with a user column, or user format) and a user's
//! crontab through `crontab(1)`. Reads the current bytes, takes the apply lock, installs new bytes
//! atomically.
//!
//! Owns lock-file and temp-file naming. Must not parse or change crontab content (that is
//! `core::crontab` and `core::plan`).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::core::target_checks::is_safe_user;
use crate::error::Failure;
use crate::shell::{apply_lock, atomic, test_pause, trusted_path};

/// The directory whose files cron reads with cron.d naming rules.
pub const CRON_D: &str = "/etc/cron.d";

/// Where entries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A crontab file; `user_column` for the system format.
    File { path: PathBuf, user_column: bool },
    /// `user`'s crontab through `crontab(1)`; the apply lock lives in `lock_dir`.
    User {
        user: String,
        lock_dir: PathBuf,
        /// The absolute path of `crontab(1)` (config `crontab_bin`).
        crontab_bin: PathBuf,
    },
}

/// The held apply lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ApplyLock {
    _file: File,
}

impl Target {
    /// Check what cron requires of the target's name before anything is written.
    pub fn check(&self) -> Result<(), Failure> {
        let path = match self {
            Target::File { path, .. } => path,
            Target::User { user, .. } if is_safe_user(user) => return Ok(()),
            Target::User { user, .. } => {
                return Err(Failure::invalid(format!(
                    "--crontab-user {user:?}: not a user name ([A-Za-z0-9._-], not starting with \
                     '-'); give the login name of the crontab's owner"
                )));
            }
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        if name.is_empty() {
            return Err(Failure::invalid(format!(
                "crontab path {}: names no file; give --crontab-path a file path",
                path.display()
            )));
        }
        if atomic::parent_of(path) == Path::new(CRON_D) && !is_cron_d_name(&name) {
            return Err(Failure::invalid(format!(
                "crontab path {}: cron ignores files in {CRON_D} whose names are not [A-Za-z0-9_-]; \
                 name it e.g. {CRON_D}/cronix",
                path.display()
            )));
        }
        Ok(())
    }

    /// How the target is named in output and the audit journal.
    pub fn describe(&self) -> String {
        match self {
            Target::File { path, .. } => path.display().to_string(),
            Target::User { user, .. } => format!("crontab of user {user}"),
        }
    }

    /// Whether entry lines carry a user column.
    pub fn has_user_column(&self) -> bool {
        matches!(
            self,
            Target::File {
                user_column: true,
                ..
            }
        )
    }

    /// The current bytes; a missing file or "no crontab for user" is empty. A crontab file and its
    /// directory pass the trust check first (a link, another user's file or a loosened directory is
    /// refused).
    pub fn read(&self) -> Result<Vec<u8>, Failure> {
        match self {
            Target::File { path, .. } => read_file(path),
            Target::User {
                user, crontab_bin, ..
            } => read_user_crontab(crontab_bin, user),
        }
    }

    /// Take the apply lock, waiting at most `wait` for another apply to finish (SIGTERM ends the
    /// wait: nothing is held then). The lock file is 0600, so no other user can hold it; lock files
    /// are never unlinked.
    pub fn lock(&self, wait: Duration) -> Result<ApplyLock, Failure> {
        let create_dir = matches!(self, Target::User { .. });
        let file = apply_lock::take(&self.lock_path(), create_dir, wait, "fix the crontab path")?;
        Ok(ApplyLock { _file: file })
    }

    /// `.<name>.lock` beside a crontab file (a dotted name cron ignores); `.crontab-<user>.lock` in the
    /// lock dir for a user crontab.
    pub fn lock_path(&self) -> PathBuf {
        match self {
            Target::File { path, .. } => {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                atomic::parent_of(path).join(format!(".{name}.lock"))
            }
            Target::User { user, lock_dir, .. } => lock_dir.join(format!(".crontab-{user}.lock")),
        }
    }

    /// Remove temp files a crashed apply left beside the crontab file, or in the lock dir for a
    /// `crontab(1)` install (caller holds the lock, so no live apply of this target owns them).
    pub fn clean_temps(&self) -> Result<usize, Failure> {
        let (dir, prefix) = match self {
            Target::File { path, .. } => {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                (atomic::parent_of(path), atomic::temp_prefix(&name))
            }
            Target::User { user, lock_dir, .. } => (lock_dir.as_path(), user_temp_prefix(user)),
        };
        atomic::clean_temps(dir, &prefix).map_err(|e| backend_io("temp dir", dir, &e))
    }

    /// Install the complete new bytes (caller holds the lock).
    pub fn install(&self, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            Target::File { path, .. } => {
                atomic::write(path, bytes, 0o644).map_err(|e| backend_io("crontab", path, &e))
            }
            Target::User {
                user,
                lock_dir,
                crontab_bin,
            } => install_user_crontab(crontab_bin, user, lock_dir, bytes),
        }
    }
}

/// Temp files of a `crontab(1)` install: `.crontab-<user>.cronix-tmp…` in the lock dir, beside the
/// target's apply lock, where the next apply finds and removes a killed install's file.
fn user_temp_prefix(user: &str) -> String {
    atomic::temp_prefix(&format!("crontab-{user}"))
}

/// A file name cron reads in `/etc/cron.d`: `^[A-Za-z0-9_-]+$`.
pub fn is_cron_d_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let refused = |why: String| Failure::backend(format!("crontab {} {why}", path.display()));
    let (dir, name) = trusted_path::parent_and_name(path, false).map_err(refused)?;
    match dir {
        Some(dir) => Ok(dir.read(&name).map_err(refused)?.unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

fn backend_io(what: &str, path: &Path, e: &io::Error) -> Failure {
    Failure::backend(format!(
        "{what} {}: {e}; check that it exists and that you may write it (run as its owner or root)",
        path.display()
    ))
}

/// `crontab [-u USER]`: `-u` only when managing another user's crontab.
fn crontab_command(crontab_bin: &Path, user: &str) -> Command {
    let mut cmd = Command::new(crontab_bin);
    cmd.env_clear().env("PATH", crate::env::CHILD_PATH);
    if crate::shell::passwd::current_user() != user {
        cmd.args(["-u", user]);
    }
    cmd
}

/// `crontab_bin` passes the binary rule (root runs it).
fn check_crontab_bin(crontab_bin: &Path, user: &str) -> Result<(), Failure> {
    crate::shell::trusted_path::check_binary(crontab_bin, None).map_err(|why| {
        crontab_failed(
            user,
            &format!("crontab_bin {} {why}", crontab_bin.display()),
        )
    })
}

fn read_user_crontab(crontab_bin: &Path, user: &str) -> Result<Vec<u8>, Failure> {
    check_crontab_bin(crontab_bin, user)?;
    let output = crontab_command(crontab_bin, user)
        .arg("-l")
        .output()
        .map_err(|e| crontab_failed(user, &format!("cannot run crontab ({e})")))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.to_ascii_lowercase().contains("no crontab for") {
        return Ok(Vec::new());
    }
    Err(crontab_failed(user, stderr.trim()))
}

/// Write the whole table to a private temp file and hand that file to `crontab` (never a pipe, so
/// a crash cannot install a truncated table).
fn install_user_crontab(
    crontab_bin: &Path,
    user: &str,
    lock_dir: &Path,
    bytes: &[u8],
) -> Result<(), Failure> {
    check_crontab_bin(crontab_bin, user)?;
    let mut temp = tempfile::Builder::new()
        .prefix(&user_temp_prefix(user))
        .tempfile_in(lock_dir)
        .map_err(|e| crontab_failed(user, &format!("cannot create a temp file ({e})")))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| crontab_failed(user, &format!("cannot write a temp file ({e})")))?;
    test_pause::at("temp_written:crontab(1)");
    let output = crontab_command(crontab_bin, user)
        .arg(temp.path())
        .output()
        .map_err(|e| crontab_failed(user, &format!("cannot run crontab ({e})")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(crontab_failed(
            user,
            String::from_utf8_lossy(&output.stderr).trim(),
        ))
    }
}

fn crontab_failed(user: &str, why: &str) -> Failure {
    Failure::backend(format!(
        "crontab of user {user}: {why}; check that cron is installed and you may manage that user's \
         crontab, or give --crontab-path"
    ))
}
