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
use std::time::Duration;

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

/// Bytes read from the end of a history file at a time.
const TAIL_BLOCK: u64 = 64 * 1024;
/// How far back the shim looks for the last success (about 3,000 records; retention keeps 1,000 by
/// default, so after a compaction this is the whole file).
const TAIL_LOOK_BACK: u64 = 1024 * 1024;
/// Bytes read from the start for the oldest record.
const HEAD_BYTES: u64 = 8 * 1024;

/// What the shim needs from a job's history, read from the file's first bytes and its end only
/// (blocks from the end until a success is found or `TAIL_LOOK_BACK` is read), so a fire costs the
/// same with 10 records or 1,000,000. A missing file is an empty history.
pub fn tail_summary(path: &Path) -> Result<history::Summary, String> {
    use std::os::unix::fs::FileExt;
    let fail = |e: std::io::Error| format!("history {}: cannot read it ({e})", path.display());
    let (dir, name) =
        trusted_path::parent_and_name(path, false).map_err(|why| format!("history dir {why}"))?;
    let Some(dir) = dir else {
        return Ok(history::Summary::default());
    };
    let file = match dir.open_file(&name) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(history::Summary::default()),
        Err(why) => return Err(format!("history {} {why}", path.display())),
    };
    let len = file.metadata().map_err(fail)?.len();
    let mut head = vec![0; usize::try_from(len.min(HEAD_BYTES)).unwrap_or(0)];
    file.read_exact_at(&mut head, 0).map_err(fail)?;
    let mut start = len;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let from = start.saturating_sub(TAIL_BLOCK);
        let mut block = vec![0; usize::try_from(start - from).unwrap_or(0)];
        file.read_exact_at(&mut block, from).map_err(fail)?;
        block.extend_from_slice(&tail);
        tail = block;
        start = from;
        let text = String::from_utf8_lossy(complete_lines(&tail, start == 0));
        let found = history::last_success_fire_time(&text).is_some();
        if found || start == 0 || len - start >= TAIL_LOOK_BACK {
            break;
        }
    }
    let text = String::from_utf8_lossy(complete_lines(&tail, start == 0));
    Ok(history::summarize_tail(
        &String::from_utf8_lossy(&head),
        &text,
        start == 0,
        len,
    ))
}

/// `bytes` from its first line boundary on, unless it starts at the start of the file.
fn complete_lines(bytes: &[u8], at_start: bool) -> &[u8] {
    if at_start {
        return bytes;
    }
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => &bytes[i + 1..],
        None => &[],
    }
}

/// Every job that has a history file in `<state-dir>/history`, as `(app, job)`, sorted. A missing
/// dir holds none; an untrusted one is refused.
pub fn list_jobs(state_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let dir = state_dir.join(HISTORY_DIR);
    let refused = |why: String| format!("history dir {} {why}", dir.display());
    if trusted_path::open_dir_if_exists(&dir)
        .map_err(refused)?
        .is_none()
    {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("history dir {}: cannot list it ({e})", dir.display()))?;
    let mut jobs = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        if let Ok((app, job)) = history::split_job_id(stem) {
            jobs.push((app.to_string(), job.to_string()));
        }
    }
    jobs.sort();
    Ok(jobs)
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
    clean_dead_compactions(path);
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
    crate::shell::lock::wait_bounded(try_lock, limit, Duration::from_millis(10))
        .map_err(|e| format!("history lock {}: flock failed ({e})", path.display()))
}

fn write_line(dir: &TrustedDir, name: &str, line: &str) -> Result<(), String> {
    let path = dir.join(name);
    let mut file = dir
        .open_append(name, HISTORY_MODE)
        .map_err(|why| format!("history {} {why}", path.display()))?;
    let bytes = after_torn_line(&file, line.as_bytes());
    // One write: the line is small and an O_APPEND write of a regular file is not split.
    file.write_all(&bytes)
        .map_err(|e| format!("history {}: cannot append ({e})", path.display()))
}

/// `line`, with a newline in front when the file ends in a torn line (a crash mid-append), so the
/// new record starts on a line of its own instead of being glued to the fragment and lost with it.
pub fn after_torn_line(file: &File, line: &[u8]) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut last = [0u8; 1];
    let torn = len > 0 && file.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n';
    let mut out = Vec::with_capacity(line.len() + 1);
    if torn {
        out.push(b'\n');
    }
    out.extend_from_slice(line);
    out
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
    let kept = read_text(path).map(|text| history::compact_text(&text, &retention, now));
    let result = kept.and_then(|kept| {
        crate::shell::atomic::write(path, kept.as_bytes(), HISTORY_MODE)
            .map_err(|e| format!("history {}: cannot compact it ({e})", path.display()))
    });
    side.unlock().ok();
    result
}

/// Mode of a history file compaction would create (it only rewrites existing files, keeping theirs).
const HISTORY_MODE: u32 = 0o644;

/// Remove the temp files of compactions that were killed. The caller holds the side lock (shared or
/// exclusive): no compaction of this file is running, so any temp file of it is a dead one's.
fn clean_dead_compactions(path: &Path) {
    let dir = crate::shell::atomic::parent_of(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let _ = crate::shell::atomic::clean_temps(dir, &crate::shell::atomic::temp_prefix(&name));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::history::RunStatus;
    use std::fs::OpenOptions;

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
            attempt_log: Vec::new(),
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
    fn an_append_after_a_torn_line_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path(), "a", "j");
        append(&path, &record(0), None).unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"run_id\":\"torn")
            .unwrap();
        append(&path, &record(1), None).unwrap();
        let ids: Vec<String> = read_records(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["run-0", "run-1"]);
    }

    #[test]
    fn the_tail_summary_of_a_long_file_matches_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path(), "a", "j");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = String::new();
        for n in 0..20_000 {
            text.push_str(&record(n).to_line());
        }
        std::fs::write(&path, &text).unwrap();
        let whole = history::summarize(&text);
        let tail = tail_summary(&path).unwrap();
        assert_eq!(tail.last_success_fire, whole.last_success_fire);
        assert_eq!(tail.oldest_start, whole.oldest_start);
        assert!(
            tail.lines.abs_diff(whole.lines) < 200,
            "{tail:?} vs {whole:?}"
        );
        assert_eq!(
            tail_summary(&dir.path().join("none")).unwrap(),
            history::Summary::default()
        );
    }

    #[test]
    fn a_killed_compactions_temp_file_is_removed_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path(), "a", "j");
        append(&path, &record(0), None).unwrap();
        let temp = path.with_file_name(".a.j.jsonl.cronix-tmpXYZ123");
        std::fs::write(&temp, b"partial").unwrap();
        append(&path, &record(1), None).unwrap();
        assert!(!temp.exists());
    }

    #[test]
    fn a_missing_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_text(&dir.path().join("none.jsonl")).unwrap(), "");
    }
}
