//! Per-job overlap locks on this host: a flock on `<lock-dir>/<app>.<job>.lock` whose contents name
//! the holder (PID, process start time, run id), and the `Replace` hand-over that stops a verified
//! earlier holder with SIGTERM.
//!
//! Lock files are opened through `trusted_path` (0600, no links, owned by us): a stranger can neither
//! hold them (flock needs only read access) nor plant a holder record for `Replace` to signal.
//! Lock files are never unlinked (an unlinked lock file lets two holders lock different inodes). The
//! flock dies with the holding process, so a crash never leaves a job locked.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::shell::trusted_path;

/// Who holds a lock: written into the lock file by the holder right after it takes the flock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: i32,
    /// The process start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the PID,
    /// it identifies a process even after its PID is reused.
    pub start_time: u64,
    pub run_id: String,
    /// Set by a `Replace` fire right before it signals this holder: the run id that replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

impl Holder {
    /// This process, holding the lock for `run_id`.
    pub fn this_process(run_id: &str) -> Holder {
        let pid = std::process::id() as i32;
        Holder {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
            run_id: run_id.to_string(),
            replaced_by: None,
        }
    }

    /// Whether this record still describes a live process (same PID and same start time).
    fn is_alive(&self) -> bool {
        self.start_time != 0 && process_start_time(self.pid) == Some(self.start_time)
    }
}

/// A held job lock; dropping it releases the flock (the file stays).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

/// The outcome of trying to take a job's lock.
#[derive(Debug)]
pub enum Acquired {
    Held(JobLock),
    /// Another fire holds it (for `Replace`: it did not let go in time).
    Contended,
}

/// `<lock-dir>/<app>.<job>.lock`.
pub fn lock_path(lock_dir: &Path, app: &str, job: &str) -> PathBuf {
    lock_dir.join(format!("{app}.{job}.lock"))
}

/// `Forbid`: take the lock if it is free, else report contention at once.
pub fn try_acquire(path: &Path, me: &Holder) -> Result<Acquired, String> {
    let file = open_lock_file(path)?;
    match try_flock(&file, path)? {
        true => Ok(Acquired::Held(hold(file, path, me)?)),
        false => Ok(Acquired::Contended),
    }
}

/// `Replace`: take the lock; if it is held, send SIGTERM to the recorded holder (only once it is
/// verified to be the same live process) and wait up to `wait` for it to let go. Returns the PID that
/// was signalled, if any, with the outcome.
pub fn acquire_replacing(
    path: &Path,
    me: &Holder,
    wait: Duration,
) -> Result<(Acquired, Option<i32>), String> {
    let file = open_lock_file(path)?;
    let deadline = Instant::now() + wait;
    let mut signalled = None;
    loop {
        if try_flock(&file, path)? {
            return Ok((Acquired::Held(hold(file, path, me)?), signalled));
        }
        if signalled.is_none() {
            signalled = read_holder(&file)
                .filter(|holder| holder.pid != me.pid)
                .and_then(|holder| terminate(&file, &holder, &me.run_id));
        }
        if Instant::now() >= deadline {
            return Ok((Acquired::Contended, signalled));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Poll `try_lock` every `every` until it succeeds (`Ok(true)`) or `limit` has passed (`Ok(false)`);
/// the one bounded flock wait of every lock that is not a job's overlap lock (apply, history, job
/// state files). An flock error is returned at once.
pub fn wait_bounded(
    try_lock: impl Fn() -> Result<(), TryLockError>,
    limit: Duration,
    every: Duration,
) -> std::io::Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        match try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(every),
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The lock file, through the trust rule: the lock dir walked from `/` (created 0755 when missing;
/// a link on the way is followed only when root or this user owns it, so a link another user put in
/// a world-writable `/var/lock` is refused), the file created 0600, never followed through a link or
/// truncated, refused when someone else owns it.
fn open_lock_file(path: &Path) -> Result<File, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("lock file {}: names no file", path.display()))?;
    let parent = crate::shell::atomic::parent_of(path);
    let dir = trusted_path::open_dir_walked(parent, true)
        .map_err(|why| format!("lock dir {} {why}", parent.display()))?
        .ok_or_else(|| format!("lock dir {}: could not be created", parent.display()))?;
    dir.open_lock(&name)
        .map_err(|why| format!("lock file {} {why}", path.display()))
}

fn try_flock(file: &File, path: &Path) -> Result<bool, String> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => {
            Err(format!("lock file {}: flock failed ({e})", path.display()))
        }
    }
}

/// Record the holder in the lock file we now hold. A failed write only costs `Replace` its target.
fn hold(file: File, path: &Path, me: &Holder) -> Result<JobLock, String> {
    write_holder(&file, me).map_err(|e| {
        format!(
            "lock file {}: cannot record the holder ({e})",
            path.display()
        )
    })?;
    Ok(JobLock { _file: file })
}

fn write_holder(mut file: &File, holder: &Holder) -> std::io::Result<()> {
    let mut line = serde_json::to_string(holder).unwrap_or_default();
    line.push('\n');
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(line.as_bytes())
}

fn read_holder(mut file: &File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(4096).read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Send SIGTERM to `holder` through a pidfd, after checking (with the pidfd open, so the PID cannot be
/// reused underneath) that it is still the process that took the lock, and after marking it replaced
/// in the lock file so it records `replaced`, not `terminated`. Returns the PID signalled.
fn terminate(file: &File, holder: &Holder, by_run_id: &str) -> Option<i32> {
    use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
    let pid = Pid::from_raw(holder.pid)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
    if !holder.is_alive() {
        return None;
    }
    let marked = Holder {
        replaced_by: Some(by_run_id.to_string()),
        ..holder.clone()
    };
    write_holder(file, &marked).ok()?;
    pidfd_send_signal(&pidfd, Signal::TERM).ok()?;
    Some(holder.pid)
}

/// Whether the lock file at `path` says this process was replaced (read by the SIGTERM handler).
pub fn was_replaced(path: &Path) -> bool {
    let me = std::process::id() as i32;
    trusted_path::open_file_if_exists(path)
        .ok()
        .flatten()
        .and_then(|f| read_holder(&f))
        .is_some_and(|h| h.pid == me && h.replaced_by.is_some())
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// The comm field (2) is in parentheses and may contain spaces: count fields after the last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_read_past_a_comm_with_spaces_and_parens() {
        let stat =
            "4242 (we ird) name) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
        assert_eq!(parse_start_time(stat), Some(987654));
    }

    #[test]
    fn this_process_has_a_start_time() {
        let me = Holder::this_process("r");
        assert!(me.start_time > 0);
        assert!(me.is_alive());
    }

    #[test]
    fn a_second_forbid_lock_is_contended_and_the_holder_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "app", "job");
        let me = Holder::this_process("run-1");
        let held = try_acquire(&path, &me).unwrap();
        assert!(matches!(held, Acquired::Held(_)));
        let again = try_acquire(&path, &me).unwrap();
        assert!(matches!(again, Acquired::Contended));
        let recorded: Holder =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(recorded, me);
        drop(held);
        assert!(matches!(
            try_acquire(&path, &me).unwrap(),
            Acquired::Held(_)
        ));
        assert!(path.exists());
    }

    #[test]
    fn replace_never_signals_a_holder_that_is_not_the_recorded_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "app", "job");
        let held = try_acquire(&path, &Holder::this_process("run-1")).unwrap();
        // The recorded holder is a stale record (dead start time); nobody may be signalled.
        let stale = Holder {
            pid: std::process::id() as i32,
            start_time: 1,
            run_id: "old".into(),
            replaced_by: None,
        };
        std::fs::write(&path, serde_json::to_string(&stale).unwrap()).unwrap();
        let other = Holder {
            pid: -1,
            start_time: 0,
            run_id: "run-2".into(),
            replaced_by: None,
        };
        let (outcome, signalled) =
            acquire_replacing(&path, &other, Duration::from_millis(100)).unwrap();
        assert!(matches!(outcome, Acquired::Contended));
        assert_eq!(signalled, None);
        drop(held);
    }
}
