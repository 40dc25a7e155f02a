//! Metrics on disk: the per-job tally kept beside the history (`<state-dir>/metrics/<app>.<job>.json`),
//! brought up to date by folding only the history lines appended since the last fold, and the
//! Prometheus textfile rendered from every tally and replaced atomically.
//!
//! A tally remembers how many bytes of which history file it has folded; a history that shrank or
//! was replaced (compaction) is folded again from the start, so the tally always equals the history.
//! Must not read whole histories at every fire, and never writes anything but counts and times.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::history;
use crate::core::metrics::{self, JobMetrics, Tally};
use crate::core::schedule::Schedule;
use crate::core::spec::JobSpec;
use crate::shell::{atomic, job_state, trusted_path, tz};

/// The state kind (directory) of tallies.
pub const KIND: &str = "metrics";

/// A job's tally and how far into its history file it reaches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Folded {
    /// Inode of the history file folded (a compaction replaces the file).
    pub inode: u64,
    /// Bytes of that file folded (complete lines only).
    pub offset: u64,
    /// The job's schedules and zone, for the next fire.
    pub schedules: Vec<String>,
    pub timezone: String,
    pub tally: Tally,
}

/// Bring the tally of the spec's job up to date with its history.
pub fn refresh(state_dir: &Path, spec: &JobSpec) -> Result<(), String> {
    let (app, job) = (spec.app.as_str(), spec.job.name.as_str());
    let history_path = crate::shell::history::history_path(state_dir, app, job);
    let path = job_state::path(state_dir, KIND, app, job);
    job_state::update(&path, |mut folded: Folded| {
        let result = fold_tail(&history_path, &mut folded, app, job);
        folded.schedules = spec.job.schedules.clone();
        folded.timezone = spec.job.timezone.clone();
        (folded, result)
    })?
}

fn fold_tail(history_path: &Path, folded: &mut Folded, app: &str, job: &str) -> Result<(), String> {
    // The history file is opened like every file root reads (no link, no FIFO, trusted owner).
    let mut file = match crate::shell::trusted_path::open_file_if_exists(history_path) {
        Ok(Some(file)) => file,
        Ok(None) => {
            *folded = Folded::default();
            folded.tally = Tally::new(app, job);
            return Ok(());
        }
        Err(e) => return Err(format!("history {} {e}", history_path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("history {}: {e}", history_path.display()))?;
    if meta.ino() != folded.inode || meta.len() < folded.offset || folded.tally.app != app {
        folded.inode = meta.ino();
        folded.offset = 0;
        folded.tally = Tally::new(app, job);
    }
    file.seek(SeekFrom::Start(folded.offset))
        .map_err(|e| format!("history {}: {e}", history_path.display()))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)
        .map_err(|e| format!("history {}: {e}", history_path.display()))?;
    let complete = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&tail[..complete]);
    for record in history::parse_lines(&text) {
        folded.tally.add(&record);
    }
    folded.offset += complete as u64;
    Ok(())
}

/// Every tally in the state dir, with its next fire after `now`.
pub fn collect(state_dir: &Path, now: Timestamp) -> Result<Vec<JobMetrics>, String> {
    let dir = state_dir.join(KIND);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("metrics dir {}: {e}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        if let Some(folded) = job_state::read::<Folded>(&path)? {
            let next_fire =
                next_fire(&folded.schedules, &folded.timezone, now).map(|t| t.as_second());
            out.push(JobMetrics {
                tally: folded.tally,
                next_fire,
            });
        }
    }
    Ok(out)
}

fn write_text(textfile: &Path, text: &str) -> Result<(), String> {
    let refused = |why: String| format!("metrics textfile {} {why}", textfile.display());
    let name = textfile
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| refused("names no file; fix metrics.textfile".to_string()))?;
    let parent = atomic::parent_of(textfile);
    let dir = trusted_path::open_dir_walked(parent, false)
        .map_err(|why| refused(format!("(directory {}) {why}", parent.display())))?
        .ok_or_else(|| {
            refused(format!(
                "(directory {}) does not exist; create it (mode 0755, owned by root) or fix \
                 metrics.textfile",
                parent.display()
            ))
        })?;
    dir.replace(name, text.as_bytes(), 0o644).map_err(refused)
}

/// The earliest next fire of the schedules after `now`, in the job's zone (`None` when the zone is
/// not in the tz database or no schedule fires again).
pub fn next_fire(schedules: &[String], timezone: &str, now: Timestamp) -> Option<Timestamp> {
    let zone = tz::zone(timezone)?;
    Schedule::parse_valid(schedules)
        .iter()
        .filter_map(|s| s.next_after(now, &zone))
        .map(|z| z.timestamp())
        .min()
}

/// Render every tally into `textfile`, replaced atomically (temp file in its directory, rename),
/// holding `<state-dir>/metrics/.textfile.lock` so concurrent fires write one after the other. The
/// directory is walked from `/` (`trusted_path::open_dir_walked`) and written relative to its
/// descriptor: a collector directory that is, or sits behind, a link or directory another user
/// controls is refused, never followed.
pub fn write_textfile(
    state_dir: &Path,
    textfile: &Path,
    host: &str,
    now: Timestamp,
) -> Result<(), String> {
    let lock = state_dir.join(KIND).join(".textfile.lock");
    job_state::update(&lock, |(): ()| {
        let result = collect(state_dir, now).and_then(|jobs| {
            let text = metrics::render(&jobs, host);
            write_text(textfile, &text)
        });
        ((), result)
    })?
}
