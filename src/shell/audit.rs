//! The apply audit journal `<state-dir>/audit.jsonl`: append one `AuditRecord` per change, read them
//! back (a torn last line is skipped).
//!
//! Appends are one `write` of one line on an `O_APPEND` file. Before a change touches the target, its
//! intent is written (atomically) to `<state-dir>/.audit-pending-<target hash>.json` and removed once
//! the record is appended; the next apply or prune of that target finds an intent left by a process
//! that died in between and appends its record, marked with what it finds installed. Must not hold
//! secrets: records carry names, digests and ops only.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::core::audit::{AUDIT_FILE, AuditRecord, Intent};
use crate::error::Failure;
use crate::shell::{atomic, trusted_path};

/// Mode of a new audit journal (it holds no secrets).
const AUDIT_MODE: u32 = 0o644;

/// The audit journal, open for appending (opened before a change is made, so an unusable journal
/// stops the apply before anything is written).
pub struct Journal {
    file: std::fs::File,
    path: std::path::PathBuf,
}

/// Open (create) `<state-dir>/audit.jsonl` through the trust rule: the state dir checked (created
/// 0755 when missing), the journal never followed through a link.
pub fn open(state_dir: &Path) -> Result<Journal, Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let dir = trusted_path::ensure_dir(state_dir).map_err(|why| {
        Failure::backend(format!(
            "state dir {} {why}; check --state-dir",
            state_dir.display()
        ))
    })?;
    let file = dir.open_append(AUDIT_FILE, AUDIT_MODE).map_err(|why| {
        Failure::backend(format!(
            "audit journal {} {why}; check --state-dir",
            path.display()
        ))
    })?;
    Ok(Journal { file, path })
}

impl Journal {
    /// Append one record as one line, and make it durable.
    pub fn append(&mut self, record: &AuditRecord) -> Result<(), Failure> {
        let fail = |why: String| {
            Failure::backend(format!(
                "audit journal {} {why}; check --state-dir",
                self.path.display()
            ))
        };
        let mut line = serde_json::to_vec(record).map_err(|e| fail(e.to_string()))?;
        line.push(b'\n');
        let line = crate::shell::history::after_torn_line(&self.file, &line);
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| fail(format!("cannot be written ({e})")))
    }
}

/// The intent file of changes to `target`.
fn intent_name(target: &str) -> String {
    let digest = Sha256::digest(target.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!(".audit-pending-{hex}.json")
}

/// Write the intent of a change (durably) before the change touches its target.
pub fn begin(state_dir: &Path, intent: &Intent) -> Result<(), Failure> {
    let path = state_dir.join(intent_name(&intent.record.target));
    let fail = |why: String| {
        Failure::backend(format!(
            "audit intent {} {why}; nothing was changed; check --state-dir",
            path.display()
        ))
    };
    trusted_path::ensure_dir(state_dir).map_err(|why| fail(format!("(state dir) {why}")))?;
    let bytes = serde_json::to_vec(intent).map_err(|e| fail(e.to_string()))?;
    atomic::write(&path, &bytes, AUDIT_MODE).map_err(|e| fail(format!("cannot be written ({e})")))
}

/// Remove the intent of changes to `target` once their record is appended.
pub fn finish(state_dir: &Path, target: &str) -> Result<(), Failure> {
    let path = state_dir.join(intent_name(target));
    atomic::remove(&path).map_err(|e| {
        Failure::backend(format!(
            "audit intent {}: cannot be removed ({e}); check --state-dir",
            path.display()
        ))
    })
}

/// The intent a dead process left for `target`, if any. One that does not parse (it is written
/// atomically, so only a hand edit makes one) is refused with its path.
pub fn pending(state_dir: &Path, target: &str) -> Result<Option<Intent>, Failure> {
    let name = intent_name(target);
    let path = state_dir.join(&name);
    let fail = |why: String| {
        Failure::backend(format!(
            "audit intent {} {why}; remove it after checking `cronix drift`",
            path.display()
        ))
    };
    let Some(dir) = trusted_path::open_dir_if_exists(state_dir).map_err(&fail)? else {
        return Ok(None);
    };
    match dir.read(&name).map_err(fail)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| fail(format!("does not parse ({e})"))),
    }
}

/// Open the journal and append one record.
pub fn append(state_dir: &Path, record: &AuditRecord) -> Result<(), Failure> {
    open(state_dir)?.append(record)
}

/// Every readable record, oldest first; lines that do not parse (a torn append) are skipped.
pub fn read(state_dir: &Path) -> Result<Vec<AuditRecord>, Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let bytes = match trusted_path::open_dir_if_exists(state_dir) {
        Ok(None) => None,
        Ok(Some(dir)) => dir
            .read(AUDIT_FILE)
            .map_err(|why| Failure::backend(format!("audit journal {} {why}", path.display())))?,
        Err(why) => {
            return Err(Failure::backend(format!(
                "state dir {} {why}",
                state_dir.display()
            )));
        }
    };
    Ok(bytes
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::AuditOp;

    fn record(n: usize) -> AuditRecord {
        AuditRecord {
            ts: "2026-01-01T00:00:00Z".into(),
            command: "apply".into(),
            user: "root".into(),
            sudo_user: None,
            source: Some("m.json".into()),
            digest: Some("ab".into()),
            target: "/tmp/x".into(),
            ops: vec![AuditOp {
                op: "create".into(),
                kind: "entry".into(),
                app: "a".into(),
                job: "j".into(),
                idx: Some(n),
                done: None,
            }],
            outcome: None,
        }
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &record(0)).unwrap();
        append(dir.path(), &record(1)).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(AUDIT_FILE))
            .unwrap();
        f.write_all(b"{\"ts\":\"2026").unwrap();
        assert_eq!(read(dir.path()).unwrap(), vec![record(0), record(1)]);
        append(dir.path(), &record(2)).unwrap();
        assert_eq!(
            read(dir.path()).unwrap(),
            vec![record(0), record(1), record(2)],
            "the append after a torn line must not be glued to it"
        );
    }
}
