//! Small per-job state files in the state dir (`<state-dir>/<kind>/<app>.<job>.json`): the alert
//! streak, the missed-fire episode, the metrics tally. Each is read and changed under an exclusive
//! flock on the file itself, so concurrent fires of one job serialize on it, and replaced atomically
//! (`shell::atomic`: temp file in the same dir, fsync, rename, dir fsync): a fire killed at any moment
//! leaves the old state or the new one, never an empty or half-written file.
//!
//! A rename gives the path a new inode, so a writer that locked the old one (it opened the file before
//! the rename) sees that its file is no longer the path's and opens it again. Files are 0600, opened
//! `O_NOFOLLOW`, refused unless regular; lock waits are bounded. Must not decide what the state means
//! (the core does) and never holds secrets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::shell::atomic;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The longest a fire waits for a job state file's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

const STATE_MODE: u32 = 0o600;

/// `<state-dir>/<kind>/<app>.<job>.json`.
pub fn path(state_dir: &Path, kind: &str, app: &str, job: &str) -> PathBuf {
    state_dir.join(kind).join(format!("{app}.{job}.json"))
}

/// Read the state (default when the file is new or unreadable as JSON), let `change` return the new
/// state and a result, and replace the file with the new state atomically, all under the file's
/// exclusive lock (held until the rename is durable).
pub fn update<T, R>(path: &Path, change: impl FnOnce(T) -> (T, R)) -> Result<R, String>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut file = open_current_locked(path)?;
    clean_dead_writes(path);
    let current: T = read_json(&mut file).unwrap_or_default();
    let (next, result) = change(current);
    let bytes = serde_json::to_vec(&next).map_err(|e| format!("state {}: {e}", path.display()))?;
    atomic::write(path, &bytes, STATE_MODE)
        .map_err(|e| format!("state {}: cannot write it ({e})", path.display()))?;
    drop(file);
    Ok(result)
}

/// Open (create) the file and take its exclusive lock, again as long as the path was replaced by
/// another writer meanwhile (its lock was then on an inode no longer in the dir); `LOCK_WAIT` in all.
fn open_current_locked(path: &Path) -> Result<File, String> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let file = open(path, true)?;
        lock(
            &file,
            path,
            deadline.saturating_duration_since(Instant::now()),
        )?;
        let held = file
            .metadata()
            .map_err(|e| format!("state {}: {e}", path.display()))?;
        match std::fs::symlink_metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(file),
            Ok(_) | Err(_) if Instant::now() < deadline => continue,
            _ => {
                return Err(format!(
                    "state {}: replaced while waiting for its lock for {} ms; skipped",
                    path.display(),
                    LOCK_WAIT.as_millis()
                ));
            }
        }
    }
}

/// Remove the temp files of writers killed before their rename. The caller holds the lock of the
/// file the path names, so no live writer of it has a temp file.
fn clean_dead_writes(path: &Path) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let _ = atomic::clean_temps(atomic::parent_of(path), &atomic::temp_prefix(&name));
}

/// Read the state under a shared lock; `None` when the file does not exist or does not parse.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let mut file = match open(path, false) {
        Ok(file) => file,
        Err(_) if !path.exists() => return Ok(None),
        Err(e) => return Err(e),
    };
    lock_shared(&file, path)?;
    Ok(read_json(&mut file))
}

fn open(path: &Path, create: bool) -> Result<File, String> {
    if create && let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("state dir {}: cannot create it ({e})", dir.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .mode(STATE_MODE)
        .custom_flags(
            rustix::fs::OFlags::NOFOLLOW.bits() as i32 | rustix::fs::OFlags::NONBLOCK.bits() as i32,
        )
        .open(path)
        .map_err(|e| format!("state {}: cannot open it ({e})", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("state {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "state {}: not a regular file; remove it",
            path.display()
        ));
    }
    if create && meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(STATE_MODE))
            .map_err(|e| format!("state {}: cannot chmod it ({e})", path.display()))?;
    }
    Ok(file)
}

/// Take the exclusive flock, waiting at most `wait`.
fn lock(file: &File, path: &Path, wait: Duration) -> Result<(), String> {
    bounded(|| file.try_lock(), path, wait)
}

/// Take the shared flock, waiting at most `LOCK_WAIT` (a reader of a file being replaced reads the
/// old whole file: nothing is ever written in place).
fn lock_shared(file: &File, path: &Path) -> Result<(), String> {
    bounded(|| file.try_lock_shared(), path, LOCK_WAIT)
}

fn bounded(
    attempt: impl Fn() -> Result<(), std::fs::TryLockError>,
    path: &Path,
    wait: Duration,
) -> Result<(), String> {
    match crate::shell::lock::wait_bounded(attempt, wait, Duration::from_millis(5)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "state {}: still locked after {} ms; skipped",
            path.display(),
            LOCK_WAIT.as_millis()
        )),
        Err(e) => Err(format!("state {}: cannot lock it ({e})", path.display())),
    }
}

fn read_json<T: DeserializeOwned>(file: &mut File) -> Option<T> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(1 << 20).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_serialize_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "alerts", "a", "j");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        update(&p, |n: u32| (n + 1, ())).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read::<u32>(&p).unwrap(), Some(200));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read::<u32>(&dir.path().join("none.json")).unwrap(), None);
    }

    #[test]
    fn a_held_lock_is_waited_for_a_bounded_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "alerts", "a", "j");
        update(&p, |n: u32| (n, ())).unwrap();
        let holder = File::open(&p).unwrap();
        holder.lock().unwrap();
        let started = std::time::Instant::now();
        let err = update(&p, |n: u32| (n + 1, ())).unwrap_err();
        assert!(err.contains("still locked"), "{err}");
        assert!(started.elapsed() < LOCK_WAIT + Duration::from_secs(1));
        holder.unlock().unwrap();
        assert_eq!(
            read::<u32>(&p).unwrap(),
            Some(0),
            "nothing written without the lock"
        );
    }

    /// A state big enough that writing it takes a while: the streak of the kill test.
    #[derive(Debug, Default, Serialize, serde::Deserialize)]
    struct Counted {
        n: u64,
        pad: String,
    }

    /// The file the kill test's child updates, relative to the child's working directory.
    const COUNTED: &str = "alerts/a.j.json";

    /// The child half of `a_kill_at_any_moment_leaves_the_old_or_the_new_state`: count in the state
    /// file of its working directory until killed. Does nothing unless that file's dir exists.
    #[test]
    #[ignore = "run (and killed) by a_kill_at_any_moment_leaves_the_old_or_the_new_state"]
    fn count_until_killed() {
        let p = Path::new(COUNTED);
        if !p.parent().is_some_and(Path::is_dir) {
            return;
        }
        loop {
            update(p, |c: Counted| {
                let next = Counted {
                    n: c.n + 1,
                    pad: "x".repeat(64 * 1024),
                };
                (next, ())
            })
            .unwrap();
        }
    }

    #[test]
    fn a_kill_at_any_moment_leaves_the_old_or_the_new_state() {
        let me = crate::env::current_exe().unwrap();
        let mut seed = std::process::id() as u64;
        for round in 0..60 {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join(COUNTED);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let mut child = std::process::Command::new(&me)
                .args(["--exact", "shell::job_state::tests::count_until_killed"])
                .args(["--ignored", "--test-threads=1", "-q"])
                .current_dir(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while read::<Counted>(&p).unwrap().is_none_or(|c| c.n < 3) {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "child never counted"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            std::thread::sleep(Duration::from_micros((seed >> 33) % 3000));
            child.kill().unwrap();
            child.wait().unwrap();
            let text = std::fs::read(&p).unwrap();
            let state: Result<Counted, _> = serde_json::from_slice(&text);
            assert!(
                state.is_ok_and(|c| c.n >= 3),
                "round {round}: a kill left {} bytes that are not a whole state; the streak is lost",
                text.len()
            );
            update(&p, |c: Counted| (c, ())).unwrap();
            let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                names.len(),
                1,
                "round {round}: a dead write's temp file stays: {names:?}"
            );
        }
    }

    #[test]
    fn a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "alerts", "a", "j");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &p).unwrap();
        assert!(update(&p, |n: u32| (n, ())).is_err());
    }
}
