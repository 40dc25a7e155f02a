//! Run history files `<state-dir>/history/<app>.<job>.jsonl`: read them, append one record per fire,
//! and compact them to the retention limits without losing a concurrent append.
//!
//! Appends are one `write(2)` of one line on an `O_APPEND` descriptor, under a shared flock on the side
//! file `<app>.<job>.jsonl.lock`; a compaction takes that flock exclusively, so no append can land in
//! a file that is being replaced. The side lock file is never unlinked.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::core::history::{self, HISTORY_DIR, Retention, RunRecord};

/// `<state-dir>/history/<app>.<job>.jsonl`.
pub fn history_path(state_dir: &Path, app: &str, job: &str) -> PathBuf {
    state_dir
        .join(HISTORY_DIR)
        .join(format!("{app}.{job}.jsonl"))
}

fn side_lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A history file's contents; a missing file is an empty history.
pub fn read_text(path: &Path) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("history {}: cannot read it ({e})", path.display())),
    }
}

/// Every parseable record of a job, oldest first.
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>, String> {
    read_text(path).map(|text| history::parse_lines(&text))
}

/// Append `record` as one line. `compact` asks for a retention pass afterwards (the caller decided
/// from the history it read at the start of the fire).
pub fn append(
    path: &Path,
    record: &RunRecord,
    compact: Option<(Retention, Timestamp)>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "history dir {}: cannot create it ({e}); fix state_dir given to apply",
            dir.display()
        )
    })?;
    let side = open_side_lock(path)?;
    side.lock_shared()
        .map_err(|e| format!("history lock {}: {e}", side_lock_path(path).display()))?;
    write_line(path, &record.to_line())?;
    side.unlock().ok();
    if let Some((retention, now)) = compact {
        compact_locked(path, &side, retention, now)?;
    }
    Ok(())
}

fn open_side_lock(path: &Path) -> Result<File, String> {
    let side = side_lock_path(path);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&side)
        .map_err(|e| format!("history lock {}: cannot open it ({e})", side.display()))
}

fn write_line(path: &Path, line: &str) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| {
            format!(
                "history {}: cannot open it for append ({e})",
                path.display()
            )
        })?;
    // One write: the line is small and an O_APPEND write of a regular file is not split.
    file.write_all(line.as_bytes())
        .map_err(|e| format!("history {}: cannot append ({e})", path.display()))
}

/// Rewrite the file with only the retained records, holding the side lock exclusively.
fn compact_locked(
    path: &Path,
    side: &File,
    retention: Retention,
    now: Timestamp,
) -> Result<(), String> {
    side.lock()
        .map_err(|e| format!("history lock {}: {e}", side_lock_path(path).display()))?;
    let kept = retention.apply(read_records(path)?, now);
    let result = replace_contents(path, &kept);
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
