//! Doctor checks of the trigger binary, the alert commands and every path of the trust model
//! (DESIGN §11), read only: directories and files are opened as the shim opens them and binaries are
//! walked as apply walks them (`trusted_path`), but nothing is created or tightened.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Host};
use crate::shell::backend::{OwnPath, PreflightFor};
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
                .entries()
                .iter()
                .filter_map(|e| bin_of(e.line.as_deref()?).map(str::to_string)),
        );
    }
    bins.sort();
    bins.dedup();
    let runs_as = crate::shell::reconcile::runs_as_uid(ctx);
    let mut out: Vec<Check> = bins
        .iter()
        .map(|bin| trigger_bin_check(Path::new(bin), runs_as))
        .collect();
    out.extend(alert_command_checks(host));
    out
}

/// Every alert `command` of the config, by the same binary rule (the shim runs them as root).
fn alert_command_checks(host: &Host) -> Vec<Check> {
    host.config()
        .alerts
        .iter()
        .filter_map(|target| target.command.as_ref()?.first().cloned())
        .map(|program| {
            let name = format!("alert command {program}");
            match trusted_path::check_binary(Path::new(&program), None) {
                Ok(()) => Check::ok(name, "trusted (owner and mode of it and its directories)"),
                Err(why) => Check::fail(name, format!("{why} (the shim runs it after a fire)")),
            }
        })
        .collect()
}

/// The word before `trigger` in an entry's artifact (a crontab line, a unit's `ExecStart=`): the
/// binary the scheduler runs.
fn bin_of(artifact: &str) -> Option<&str> {
    let words: Vec<&str> = artifact.split_ascii_whitespace().collect();
    let at = words.iter().position(|w| *w == "trigger")?;
    let word = words[at.checked_sub(1)?];
    Some(word.rsplit_once('=').map_or(word, |(_, bin)| bin))
}

/// The binary exists, is executable, and neither it nor any directory on its path can be replaced
/// by a user other than root or the one the entries run as (`trusted_path::check_binary`).
fn trigger_bin_check(bin: &Path, runs_as: Option<u32>) -> Check {
    let name = format!("trigger_bin {}", bin.display());
    if let Err(e) = std::fs::metadata(bin) {
        return Check::fail(
            name,
            format!("cannot be found ({e}); install cronix there or give --trigger-bin"),
        );
    }
    match trusted_path::check_binary(bin, runs_as) {
        Ok(()) => Check::ok(name, "exists and is executable"),
        Err(why) => Check::fail(name, format!("{why} (cron runs it at every fire)")),
    }
}

/// The trust check of every path the shim and apply use.
pub fn path_checks(host: &Host) -> Vec<Check> {
    let mut out = Vec::new();
    let config = host.config();
    if let Some(env_file) = &config.env_file {
        out.push(env_file_check(env_file));
    }
    if let Some(metrics) = &config.metrics {
        out.push(textfile_dir_check(&metrics.textfile));
    }
    let Ok(ctx) = &host.ctx else {
        return out;
    };
    let paths = &ctx.paths;
    out.push(dir_check("spec_dir", &paths.spec_dir));
    out.extend(dir_and_files("lock_dir", &paths.lock_dir));
    if let Err(why) = trusted_path::check_lock_dir(&paths.lock_dir) {
        out.push(Check::fail(
            format!("path lock_dir {} (its place)", paths.lock_dir.display()),
            why,
        ));
    }
    out.push(dir_check("state_dir", &paths.state_dir));
    out.push(file_check(
        "audit",
        &paths.state_dir.join(crate::core::audit::AUDIT_FILE),
    ));
    out.extend(dir_and_files(
        "history_dir",
        &paths.state_dir.join(crate::core::history::HISTORY_DIR),
    ));
    for own in ctx.backend.preflight(PreflightFor::Apply).own_paths {
        out.push(match own {
            OwnPath::Dir(role, path) => dir_check(role, &path),
            OwnPath::Lock(role, path) => lock_check(role, &path),
        });
    }
    out
}

/// The metrics textfile's directory, walked as the shim opens it.
fn textfile_dir_check(textfile: &Path) -> Check {
    let dir = crate::shell::atomic::parent_of(textfile);
    let name = format!("path metrics textfile dir {}", dir.display());
    match trusted_path::open_dir_walked(dir, false) {
        Ok(Some(_)) => Check::ok(name, "trusted (owner and mode of it and its parents)"),
        Ok(None) => Check::fail(
            name,
            format!(
                "does not exist; create it (mode 0755, owned by root) or fix metrics.textfile ({})",
                dir.display()
            ),
        ),
        Err(why) => Check::fail(name, why),
    }
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
