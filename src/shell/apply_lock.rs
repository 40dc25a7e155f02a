//! The apply lock every backend takes before it reads and writes: a private (0600) lock file in a
//! trusted directory (`shell::trusted_path`), flocked with a bounded wait. Lock files are never
//! unlinked; the lock is released when the file is dropped or the process dies (SIGTERM ends a
//! wait: nothing is held then).
//!
//! The holder writes who it is into the lock file (`pid 123 host web-1 since 2026-…Z`), so a waiting
//! apply on a terminal can say who holds it (`shell::progress`). The file holds nothing else.
//!
//! Owns the wait only; where the lock file lives is the backend's business.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use crate::error::Failure;
use crate::shell::{atomic, progress, test_pause, trusted_path};

/// The most of the lock file a waiter reads for the holder's line.
const HOLDER_MAX: usize = 256;

/// How often a waiting apply tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// Lock `path`, waiting at most `wait` for another apply or prune to finish. Its directory passes the
/// trust check first (created when `create_dir`; when it is missing otherwise, the error ends with
/// `missing_dir_fix`).
pub fn take(
    path: &Path,
    create_dir: bool,
    wait: Duration,
    missing_dir_fix: &str,
) -> Result<File, Failure> {
    let refused = |why: String| Failure::backend(format!("apply lock {} {why}", path.display()));
    let (dir, name) = trusted_path::parent_and_name(path, create_dir).map_err(refused)?;
    let dir = dir.ok_or_else(|| {
        refused(format!(
            "has no directory; create {} (mode 0755) or {missing_dir_fix}",
            atomic::parent_of(path).display()
        ))
    })?;
    let file = dir.open_lock(&name).map_err(refused)?;
    let watch = match file.try_lock() {
        Ok(()) => None,
        Err(_) => Some(watch_wait(&file, path, wait)),
    };
    let waited = crate::shell::lock::wait_bounded(|| file.try_lock(), wait, POLL);
    drop(watch);
    match waited {
        Ok(true) => {}
        Ok(false) => {
            return Err(refused(format!(
                "is held by another apply or prune for more than {} s; wait for it to finish \
                 (find it with `fuser {}`), or raise apply_lock_wait_seconds",
                wait.as_secs(),
                path.display()
            )));
        }
        Err(e) => return Err(refused(format!("flock failed ({e})"))),
    }
    record_holder(&file);
    test_pause::at("locked");
    Ok(file)
}

/// Say on a terminal, after a second, who holds the lock and how long this apply will still wait.
fn watch_wait(file: &File, path: &Path, wait: Duration) -> progress::Watch {
    let holder = holder(file);
    let shown = path.display().to_string();
    progress::watch(wait, move |_, left| {
        let who = holder
            .as_deref()
            .map_or("another apply or prune".to_string(), str::to_string);
        format!(
            "waiting for the apply lock {shown}, held by {who}; giving up in {}",
            progress::seconds(left)
        )
    })
}

/// The holder's line (`pid 123 host web-1 since …`), when the file holds one.
fn holder(file: &File) -> Option<String> {
    let mut buf = [0u8; HOLDER_MAX];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.lines().next()?.trim();
    line.starts_with("pid ").then(|| line.to_string())
}

/// Write who holds the lock into it (best effort: a failure only makes a waiter's line vaguer).
fn record_holder(file: &File) {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let line = format!(
        "pid {} host {host} since {:.0}\n",
        std::process::id(),
        jiff::Timestamp::now()
    );
    if file.set_len(0).is_ok() {
        let _ = file.write_all_at(line.as_bytes(), 0);
    }
}
