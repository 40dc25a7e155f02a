//! The truth about installed entries without a manifest: each entry of a job, as its spec file
//! describes the job, checked against what the backend has installed the way `drift` checks it —
//! `in-sync`, `edited`, `missing`, `orphan` or `inactive`. Used by `show` and `global-status`.
//!
//! An entry is in sync when its marks' hash is the hash of the spec's job, its index and the artifact
//! as installed (a crontab line, a timer and service pair; the hash apply wrote covers exactly these),
//! so no flag of the command that asks can change the verdict. Pure: the backend's entries and the
//! specs come in as values.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::core::hash::entry_hash;
use crate::core::manifest;
use crate::core::plan::InstalledEntry;
use crate::core::spec::JobSpec;

/// The state of one entry (the drift kinds, as a status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum EntryState {
    /// Installed exactly as apply wrote it for the job the spec describes.
    #[serde(rename = "in-sync")]
    InSync,
    /// Installed, but the line (or the spec) is not what the marker's hash was made from.
    #[serde(rename = "edited")]
    Edited,
    /// The spec has this schedule, the backend has no entry for it.
    #[serde(rename = "missing")]
    Missing,
    /// An entry or marker with no spec, a schedule index the spec does not have, or a repeat.
    #[serde(rename = "orphan")]
    Orphan,
    /// Installed as apply wrote it, but it does not fire (a disabled timer, a suspended CronJob).
    #[serde(rename = "inactive")]
    Inactive,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::InSync => "in-sync",
            EntryState::Edited => "edited",
            EntryState::Missing => "missing",
            EntryState::Orphan => "orphan",
            EntryState::Inactive => "inactive",
        }
    }
}

/// One entry of one job and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryStatus {
    pub app: String,
    pub job: String,
    pub idx: usize,
    pub state: EntryState,
    /// The installed line, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

/// The entries of every job in `specs` (keyed by `(app, job)`) and every entry the backend read
/// (orphaned marks included), each with its state, sorted by app, job, idx and state.
pub fn statuses(
    specs: &BTreeMap<(String, String), JobSpec>,
    installed: &[InstalledEntry],
) -> Vec<EntryStatus> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<(String, String, usize)> = BTreeSet::new();
    for entry in installed {
        let key = (entry.app.clone(), entry.job.clone(), entry.idx);
        let spec = specs.get(&(entry.app.clone(), entry.job.clone()));
        let state = match (spec, entry.line.as_deref()) {
            (Some(spec), Some(line)) if !seen.contains(&key) => installed_state(spec, entry, line),
            _ => EntryState::Orphan,
        };
        if entry.line.is_some() {
            seen.insert(key);
        }
        out.push(EntryStatus {
            app: entry.app.clone(),
            job: entry.job.clone(),
            idx: entry.idx,
            state,
            line: entry.line.clone(),
        });
    }
    for ((app, job), spec) in specs {
        for idx in 0..spec.job.schedules.len() {
            if !seen.contains(&(app.clone(), job.clone(), idx)) {
                out.push(EntryStatus {
                    app: app.clone(),
                    job: job.clone(),
                    idx,
                    state: EntryState::Missing,
                    line: None,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.app, &a.job, a.idx, a.state).cmp(&(&b.app, &b.job, b.idx, b.state)));
    out
}

/// The entries of a backend that keeps no spec files (vercel), each as installed. Such an entry
/// records nothing but what it shows (its hash is computed from it), so without the manifest it
/// can be neither edited, missing nor orphaned: each reads `in-sync` (or `inactive`), and only
/// `drift --manifest` compares it with what is wanted.
pub fn as_installed(installed: &[InstalledEntry]) -> Vec<EntryStatus> {
    let mut out: Vec<EntryStatus> = installed
        .iter()
        .filter(|e| e.line.is_some())
        .map(|entry| EntryStatus {
            app: entry.app.clone(),
            job: entry.job.clone(),
            idx: entry.idx,
            state: match entry.inactive {
                Some(_) => EntryState::Inactive,
                None => EntryState::InSync,
            },
            line: entry.line.clone(),
        })
        .collect();
    out.sort_by(|a, b| (&a.app, &a.job, a.idx).cmp(&(&b.app, &b.job, b.idx)));
    out
}

/// In sync when the spec has this schedule index and the marks' hash is over the spec's job and
/// the installed artifact.
fn installed_state(spec: &JobSpec, entry: &InstalledEntry, line: &str) -> EntryState {
    if entry.idx >= spec.job.schedules.len() {
        return EntryState::Orphan;
    }
    let canonical = manifest::canonical_single_job(&spec.app, &spec.job);
    if entry_hash(&canonical, entry.idx, line) != entry.hash {
        EntryState::Edited
    } else if entry.inactive.is_some() {
        EntryState::Inactive
    } else {
        EntryState::InSync
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_without_spec_files_read_as_installed() {
        let entry = |idx, inactive: Option<&str>| InstalledEntry {
            app: "a".into(),
            job: "j".into(),
            idx,
            hash: "h".into(),
            line: Some(format!("line {idx}")),
            schedule: None,
            at: idx,
            inactive: inactive.map(str::to_string),
            revision: None,
        };
        let states: Vec<EntryState> = as_installed(&[entry(1, Some("off")), entry(0, None)])
            .into_iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(states, [EntryState::InSync, EntryState::Inactive]);
    }
    use crate::core::crontab;

    fn spec(schedules: &[&str]) -> JobSpec {
        serde_json::from_value(serde_json::json!({
            "format": 2, "app": "a",
            "job": {"name": "j", "schedules": schedules, "timezone": "UTC",
                    "request": {"method": "POST", "url": "https://a.example/x", "headers": {}, "body": ""},
                    "policy": {"concurrency": "Forbid", "concurrency_scope": "host", "timeout_seconds": 5,
                               "retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}},
                    "auth": {"secret_refs": []}},
            "secret_refs": ["env:A"], "lock_dir": "/l", "state_dir": "/s"
        }))
        .unwrap()
    }

    fn entry(spec: &JobSpec, idx: usize, line: &str) -> String {
        let hash = entry_hash(&manifest::canonical_single_job("a", &spec.job), idx, line);
        format!("{line}\n# cronix:owned app=a job=j hash={hash} idx={idx}\n")
    }

    fn states(specs: &BTreeMap<(String, String), JobSpec>, text: &str) -> Vec<(usize, EntryState)> {
        statuses(specs, &crontab::parse(text.as_bytes()).entries())
            .into_iter()
            .map(|s| (s.idx, s.state))
            .collect()
    }

    #[test]
    fn in_sync_edited_missing_and_orphan() {
        let spec = spec(&["0 2 * * *", "0 3 * * *", "0 4 * * *"]);
        let specs = BTreeMap::from([(("a".to_string(), "j".to_string()), spec.clone())]);
        let text = format!(
            "{}{}{}",
            entry(&spec, 0, "0 2 * * * root /b trigger a.j"),
            entry(&spec, 1, "0 3 * * * root /b trigger a.j").replacen("0 3", "5 3", 1),
            entry(&spec, 7, "0 9 * * * root /b trigger a.j"),
        );
        assert_eq!(
            states(&specs, &text),
            [
                (0, EntryState::InSync),
                (1, EntryState::Edited),
                (2, EntryState::Missing),
                (7, EntryState::Orphan)
            ]
        );
    }

    #[test]
    fn entries_without_a_spec_and_repeats_are_orphans() {
        let spec = spec(&["0 2 * * *"]);
        let line = entry(&spec, 0, "0 2 * * * root /b trigger a.j");
        assert_eq!(states(&BTreeMap::new(), &line), [(0, EntryState::Orphan)]);
        let specs = BTreeMap::from([(("a".to_string(), "j".to_string()), spec)]);
        assert_eq!(
            states(&specs, &format!("{line}{line}")),
            [(0, EntryState::InSync), (0, EntryState::Orphan)]
        );
    }
}
