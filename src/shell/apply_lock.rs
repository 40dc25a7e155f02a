//! The apply lock every backend takes before it reads and writes: a private (0600) lock file in a
//! trusted directory (`shell::trusted_path`), flocked with a bounded wait. Lock files are never
//! unlinked; the lock is released when the file is dropped or the process dies (SIGTERM ends a
//! wait: nothing is held then).
//!
//! Owns the wait only; where the lock file lives is the backend's business.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use crate::error::Failure;
use crate::shell::{atomic, test_pause, trusted_path};

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
    match crate::shell::lock::wait_bounded(|| file.try_lock(), wait, POLL) {
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
    test_pause::at("locked");
    Ok(file)
}
