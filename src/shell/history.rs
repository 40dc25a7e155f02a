//! Run history files `<state-dir>/history/<app>.<job>.jsonl`: read them, append one record per fire,
//! and compact them to the retention limits without losing a concurrent append.
//!
//! Appends are one `write(2)` of one line on an `O_APPEND` descriptor, under a shared flock on the side
//! file `<app>.<job>.jsonl.lock`; a compaction takes that flock exclusively, so no append can land in
//! a file that is being replaced. The side lock file is never unlinked, is 0600 (a stranger cannot
//! hold it), and is waited for at most `SIDE_LOCK_WAIT`. Every open goes through `trusted_path`.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::core::history::{self, HISTORY_DIR, Retention, RunRecord};
use crate::shell::trusted_path::{self, TrustedDir};

/// `<state-dir>/history/<app>.<job>.jsonl`.
pub fn history_path(state_dir: &Path, app: &str, job: &str) -> PathBuf {
    state_dir
        .join(HISTORY_DIR)
        .join(format!("{app}.{job}.jsonl"))
}

#[cfg(test)]
fn side_lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// How long an append waits for the side lock (a compaction holds it exclusively for milliseconds)
/// before it gives up: the shim never hangs on history.
pub const SIDE_LOCK_WAIT: Duration = Duration::from_secs(2);

/// A history file's contents; a missing file (or history dir) is an empty history. The dir and the
/// file pass the trust check; a link is refused, never followed.
pub fn read_text(path: &Path) -> Result<String, String> {
    let (dir, name) =
        trusted_path::parent_and_name(path, false).map_err(|why| format!("history dir {why}"))?;
    let Some(dir) = dir else {
        return Ok(String::new());
    };
    match dir.read(&name) {
        Ok(Some(bytes)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => Ok(String::new()),
        Err(why) => Err(format!("history {} {why}", path.display())),
    }
}

/// Every parseable record of a job, oldest first.
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>, String> {
    read_text(path).map(|text| history::parse_lines(&text))
}

/// Append `record` as one line. `compact` asks for a retention pass afterwards (the caller decided
/// from the history it read at the start of the fire). Waits at most `SIDE_LOCK_WAIT` for the side
/// lock; a compaction that cannot get it is skipped (the next fire does it).
pub fn append(
    path: &Path,
    record: &RunRecord,
    compact: Option<(Retention, Timestamp)>,
) -> Result<(), String> {
    let (dir, name) = trusted_path::parent_and_name(path, true)
        .map_err(|why| format!("history dir {why}; fix state_dir given to apply"))?;
    let dir = dir.ok_or_else(|| format!("history {}: no history dir", path.display()))?;
    let side_name = format!("{name}.lock");
    let side = dir
        .open_lock(&side_name)
        .map_err(|why| format!("history lock {} {why}", dir.join(&side_name).display()))?;
    if !wait_for(
        || side.try_lock_shared(),
        SIDE_LOCK_WAIT,
        &dir.join(&side_name),
    )? {
        return Err(format!(
            "history lock {} is held by another process for more than {} s; this run is not \
             recorded (find the holder with `fuser {}`)",
            dir.join(&side_name).display(),
            SIDE_LOCK_WAIT.as_secs(),
            dir.join(&side_name).display()
        ));
    }
    let appended = write_line(&dir, &name, &record.to_line());
    side.unlock().ok();
    appended?;
    if let Some((retention, now)) = compact {
        compact_locked(path, &dir.join(&side_name), &side, retention, now)?;
    }
    Ok(())
}

/// Poll `try_lock` until it succeeds (true) or `limit` passes (false).
fn wait_for(
    try_lock: impl Fn() -> Result<(), TryLockError>,
    limit: Duration,
    path: &Path,
) -> Result<bool, String> {
    let deadline = Instant::now() + limit;
    loop {
        match try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => {
                return Err(format!(
                    "history lock {}: flock failed ({e})",
                    path.display()
                ));
            }
        }
    }
}

fn write_line(dir: &TrustedDir, name: &str, line: &str) -> Result<(), String> {
    let path = dir.join(name);
    let mut file = dir
        .open_append(name, HISTORY_MODE)
        .map_err(|why| format!("history {} {why}", path.display()))?;
    // One write: the line is small and an O_APPEND write of a regular file is not split.
    file.write_all(line.as_bytes())
        .map_err(|e| format!("history {}: cannot append ({e})", path.display()))
}

/// Rewrite the file with only the retained records, holding the side lock exclusively (skipped when
/// another process holds it for longer than `SIDE_LOCK_WAIT`).
fn compact_locked(
    path: &Path,
    side_path: &Path,
    side: &File,
    retention: Retention,
    now: Timestamp,
) -> Result<(), String> {
    if !wait_for(|| side.try_lock(), SIDE_LOCK_WAIT, side_path)? {
        return Ok(());
    }
    let kept = read_records(path).map(|records| retention.apply(records, now));
    let result = kept.and_then(|kept| replace_contents(path, &kept));
    side.unlock().ok();
    result
}

/// Mode of a history file compaction would create (it only rewrites existing files, keeping theirs).
const HISTORY_MODE: u32 = 0o644;

fn replace_contents(path: &Path, records: &[RunRecord]) -> Result<(), String> {
    let text: String = records.iter().map(RunRecord::to_line).collect();
    crate::shell::atomic::write(path, text.as_bytes(), HISTORY_MODE)
        .map_err(|e| format!("history {}: cannot compact it ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::history::RunStatus;

    fn record(n: usize) -> RunRecord {
        RunRecord {
            run_id: format!("run-{n}"),
            app: "a".into(),
            job: "j".into(),
            fire_time: "2026-01-01T00:00:00Z".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            duration_ms: 1,
            attempts: 1,
            status: RunStatus::Ok,
            http_status: Some(200),
            exit_code: 0,
            error: None,
            host_id: None,
            fallback: None,
        }
    }

    #[test]
    fn appends_accumulate_and_compaction_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path(), "a", "j");
        for n in 0..5 {
            append(&path, &record(n), None).unwrap();
        }
        assert_eq!(read_records(&path).unwrap().len(), 5);
        let retention = Retention {
            max_runs: 2,
            max_age_days: 36500,
        };
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        append(&path, &record(5), Some((retention, now))).unwrap();
        let ids: Vec<String> = read_records(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["run-4", "run-5"]);
        assert!(side_lock_path(&path).exists());
    }

    #[test]
    fn concurrent_appends_during_compaction_are_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path(), "a", "j");
        let retention = Retention {
            max_runs: 1000,
            max_age_days: 36500,
        };
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        let compact = (n % 5 == 0).then_some((retention, now));
                        append(&path, &record(t * 100 + n), compact).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_records(&path).unwrap().len(), 200);
    }

    #[test]
    fn a_missing_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_text(&dir.path().join("none.jsonl")).unwrap(), "");
    }
}
