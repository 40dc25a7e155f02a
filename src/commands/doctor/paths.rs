//! Doctor checks of the trigger binary and of every path of the trust model (DESIGN §11), read only:
//! directories and files are opened as the shim opens them, but nothing is created or tightened.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Host};
use crate::shell::crontab_target::Target;
use crate::shell::env_file::MAX_ENV_FILE_LEN;
use crate::shell::trusted_path;

/// The binary on the entries (and the one new entries would get) exists, is executable, and is
/// trusted: root runs it every minute.
pub fn trigger_bin_checks(host: &Host) -> Vec<Check> {
    let Ok(ctx) = &host.ctx else {
        return Vec::new();
    };
    let mut bins = vec![ctx.trigger_bin.clone()];
    if let Ok(installed) = crate::shell::reconcile::installed(ctx, None) {
        bins.extend(
            installed
                .crontab
                .owned()
                .filter_map(|e| bin_of(&e.line).map(str::to_string)),
        );
    }
    bins.sort();
    bins.dedup();
    bins.iter()
        .map(|bin| trigger_bin_check(Path::new(bin)))
        .collect()
}

/// The word before `trigger` on an entry line: the binary cron runs.
fn bin_of(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let at = words.iter().position(|w| *w == "trigger")?;
    at.checked_sub(1).map(|i| words[i])
}

fn trigger_bin_check(bin: &Path) -> Check {
    let name = format!("trigger_bin {}", bin.display());
    let meta = match std::fs::metadata(bin) {
        Ok(meta) => meta,
        Err(e) => {
            return Check::fail(
                name,
                format!("cannot be found ({e}); install cronix there or give --trigger-bin"),
            );
        }
    };
    if !meta.is_file() || meta.mode() & 0o111 == 0 {
        return Check::fail(
            name,
            format!(
                "is not an executable file; run `chmod 0755 {}` or give --trigger-bin",
                bin.display()
            ),
        );
    }
    match trusted_path::check_trusted(&meta, bin) {
        Ok(()) => Check::ok(name, "exists and is executable"),
        Err(why) => Check::fail(name, format!("{why} (root runs it at every fire)")),
    }
}

/// The trust check of every path the shim and apply use.
pub fn path_checks(host: &Host) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(env_file) = host.config().env_file {
        out.push(env_file_check(&env_file));
    }
    let Ok(ctx) = &host.ctx else {
        return out;
    };
    let paths = &ctx.paths;
    out.push(dir_check("spec_dir", &paths.spec_dir));
    out.extend(dir_and_files("lock_dir", &paths.lock_dir));
    out.push(dir_check("state_dir", &paths.state_dir));
    out.push(file_check(
        "audit",
        &paths.state_dir.join(crate::core::audit::AUDIT_FILE),
    ));
    out.extend(dir_and_files(
        "history_dir",
        &paths.state_dir.join(crate::core::history::HISTORY_DIR),
    ));
    if let Target::File { path, .. } = &ctx.target {
        out.push(dir_check(
            "crontab_dir",
            crate::shell::atomic::parent_of(path),
        ));
    }
    out.push(lock_check("apply_lock", &ctx.target.lock_path()));
    out
}

fn env_file_check(path: &Path) -> Check {
    let name = format!("path env_file {}", path.display());
    match trusted_path::read(path, MAX_ENV_FILE_LEN) {
        Ok(_) => Check::ok(name, "trusted (owner and mode)"),
        Err(why) => Check::fail(name, why),
    }
}

/// A directory: trusted, or missing (created by the first apply or fire).
pub fn dir_check(role: &str, dir: &Path) -> Check {
    let name = format!("path {role} {}", dir.display());
    match trusted_path::open_dir_if_exists(dir) {
        Ok(Some(_)) => Check::ok(name, "trusted (owner and mode)"),
        Ok(None) => Check::ok(name, "does not exist yet (created 0755 when first needed)"),
        Err(why) => Check::fail(name, why),
    }
}

/// A file read or appended to: trusted, or missing.
fn file_check(role: &str, path: &Path) -> Check {
    let name = format!("path {role} {}", path.display());
    match trusted_path::open_file_if_exists(path) {
        Ok(Some(_)) => Check::ok(name, "trusted (owner and mode)"),
        Ok(None) => Check::ok(name, "does not exist yet"),
        Err(why) => Check::fail(name, why),
    }
}

/// A lock file: trusted and not readable by others (anyone who can read it can hold it).
fn lock_check(role: &str, path: &Path) -> Check {
    let name = format!("path {role} {}", path.display());
    match trusted_path::open_file_if_exists(path) {
        Ok(Some(file)) => match file.metadata().map(|m| m.mode() & 0o077) {
            Ok(0) => Check::ok(name, "private (0600)"),
            _ => Check::warn(
                name,
                format!(
                    "is readable by other users, who can hold the lock; the next fire or apply \
                     makes it 0600, or run `chmod 0600 {}`",
                    path.display()
                ),
            ),
        },
        Ok(None) => Check::ok(name, "does not exist yet (created 0600)"),
        Err(why) => Check::fail(name, why),
    }
}

/// A directory and every file in it (`*.lock` as lock files): one check for the directory, and one
/// per file only when that file is not fine.
fn dir_and_files(role: &str, dir: &Path) -> Vec<Check> {
    let first = dir_check(role, dir);
    let mut out = vec![first];
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    let mut sorted = files;
    sorted.sort();
    for path in sorted {
        let is_lock = path.extension().is_some_and(|e| e == "lock");
        let check = if is_lock {
            lock_check("lock", &path)
        } else {
            file_check("file", &path)
        };
        if check.status != super::Verdict::Ok {
            out.push(check);
        }
    }
    out
}
