//! Small per-job state files in the state dir (`<state-dir>/<kind>/<app>.<job>.json`): the alert
//! streak, the missed-fire episode, the metrics tally. Each is read, changed and rewritten in place
//! under an exclusive flock on the file itself, so concurrent fires of one job serialize on it.
//!
//! Files are 0600, opened `O_NOFOLLOW`, refused unless regular; lock waits are bounded. Must not
//! decide what the state means (the core does) and never holds secrets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
/// state and a result, write the new state back, all under the file's exclusive lock.
pub fn update<T, R>(path: &Path, change: impl FnOnce(T) -> (T, R)) -> Result<R, String>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut file = open(path, true)?;
    lock(&file, path, true)?;
    let current: T = read_json(&mut file).unwrap_or_default();
    let (next, result) = change(current);
    let bytes = serde_json::to_vec(&next).map_err(|e| format!("state {}: {e}", path.display()))?;
    write_in_place(&mut file, &bytes)
        .map_err(|e| format!("state {}: cannot write it ({e})", path.display()))?;
    Ok(result)
}

/// Read the state under a shared lock; `None` when the file does not exist or does not parse.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let mut file = match open(path, false) {
        Ok(file) => file,
        Err(_) if !path.exists() => return Ok(None),
        Err(e) => return Err(e),
    };
    lock(&file, path, false)?;
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

/// Take the flock, waiting at most `LOCK_WAIT`.
fn lock(file: &File, path: &Path, exclusive: bool) -> Result<(), String> {
    let attempt = || {
        if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        }
    };
    match crate::shell::lock::wait_bounded(attempt, LOCK_WAIT, Duration::from_millis(5)) {
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

fn write_in_place(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(bytes)
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

    #[test]
    fn a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "alerts", "a", "j");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &p).unwrap();
        assert!(update(&p, |n: u32| (n, ())).is_err());
    }
}
