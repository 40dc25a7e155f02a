//! The apply audit record: one JSON line per apply or prune that changed anything (or tried to), and
//! the intent written before a change is made, which the next run settles when the process died
//! between the change and its record.
//!
//! Pure data and the comparison that settles an intent; `shell` appends records to
//! `<state-dir>/audit.jsonl`, writes intents and reads them back.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::plan::{Action, InstalledEntry, Plan, Subject};

/// File name of the audit journal inside the state dir.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// `outcome` of a change that stopped with an error (its spec files were put back).
pub const OUTCOME_FAILED: &str = "failed";
/// `outcome` of a change that stopped part way: each op says whether it was made (`done`).
pub const OUTCOME_PARTIAL: &str = "partial";
/// `outcome` of a change whose process died after the target had changed (found by the next run).
pub const OUTCOME_INTERRUPTED_APPLIED: &str = "interrupted_applied";
/// `outcome` of a change whose process died before the target changed (found by the next run).
pub const OUTCOME_INTERRUPTED_NOT_APPLIED: &str = "interrupted_not_applied";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time of the change.
    pub ts: String,
    /// `apply` or `prune`.
    pub command: String,
    /// The user running cronix, and `SUDO_USER` when set.
    pub user: String,
    pub sudo_user: Option<String>,
    /// Where the manifest came from (path or URL without query secrets), absent for prune.
    pub source: Option<String>,
    /// SHA-256 (hex) of the manifest's canonical bytes, absent for prune.
    pub digest: Option<String>,
    /// The crontab target that was changed.
    pub target: String,
    pub ops: Vec<AuditOp>,
    /// Absent for a change that completed; else `failed`, `interrupted_applied` or
    /// `interrupted_not_applied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOp {
    /// `create`, `update` or `delete`.
    pub op: String,
    /// `entry` (a crontab entry) or `spec` (a spec file).
    pub kind: String,
    pub app: String,
    pub job: String,
    /// The schedule index, for entries.
    pub idx: Option<usize>,
    /// Whether the op was made, in the record of a change that stopped part way (`partial`);
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
}

/// The record of a change that stopped with an error, as what happened: `failed` when no op was
/// made, else `partial` with each op's `done` (`done[n]` for `record.ops[n]`).
pub fn stopped(record: AuditRecord, done: &[bool]) -> AuditRecord {
    let made = done.iter().any(|d| *d);
    let ops = record
        .ops
        .into_iter()
        .enumerate()
        .map(|(n, op)| AuditOp {
            done: made.then(|| done.get(n).copied().unwrap_or(false)),
            ..op
        })
        .collect();
    AuditRecord {
        outcome: Some(
            if made {
                OUTCOME_PARTIAL
            } else {
                OUTCOME_FAILED
            }
            .to_string(),
        ),
        ops,
        ..record
    }
}

/// A change about to be made: its record, and the owned entries the apps it touches have once it
/// is made (`app job idx hash`, sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub record: AuditRecord,
    pub apps: BTreeSet<String>,
    pub after: Vec<String>,
}

impl Intent {
    /// The intent of executing `plan` against `installed`.
    pub fn of(record: AuditRecord, plan: &Plan, installed: &[InstalledEntry]) -> Intent {
        let apps: BTreeSet<String> = plan.ops.iter().map(|o| o.app.clone()).collect();
        let mut after: BTreeMap<(String, String, usize), String> = installed
            .iter()
            .filter(|e| apps.contains(&e.app))
            .map(|e| ((e.app.clone(), e.job.clone(), e.idx), e.hash.clone()))
            .collect();
        for op in plan.ops.iter().filter(|o| o.kind == Subject::Entry) {
            let key = (op.app.clone(), op.job.clone(), op.idx.unwrap_or_default());
            match op.op {
                Action::Delete => {
                    after.remove(&key);
                }
                Action::Create | Action::Update => {
                    after.insert(key, op.hash.clone().unwrap_or_default());
                }
            }
        }
        Intent {
            record,
            after: after
                .into_iter()
                .map(|((app, job, idx), hash)| format!("{app} {job} {idx} {hash}"))
                .collect(),
            apps,
        }
    }

    /// The record to append for this intent, found unfinished: the target holds what the change
    /// would have made (`interrupted_applied`) or not (`interrupted_not_applied`).
    pub fn settle(self, installed: &[InstalledEntry]) -> AuditRecord {
        let outcome = if entries_of(&self.apps, installed) == self.after {
            OUTCOME_INTERRUPTED_APPLIED
        } else {
            OUTCOME_INTERRUPTED_NOT_APPLIED
        };
        AuditRecord {
            outcome: Some(outcome.to_string()),
            ..self.record
        }
    }
}

/// The installed entries of `apps` as `app job idx hash`, sorted: what an intent compares.
pub fn entries_of(apps: &BTreeSet<String>, installed: &[InstalledEntry]) -> Vec<String> {
    let mut out: Vec<String> = installed
        .iter()
        .filter(|e| apps.contains(&e.app))
        .map(|e| format!("{} {} {} {}", e.app, e.job, e.idx, e.hash))
        .collect();
    out.sort();
    out.dedup();
    out
}
