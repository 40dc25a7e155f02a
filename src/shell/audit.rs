//! The apply audit journal `<state-dir>/audit.jsonl`: append one `AuditRecord` per change, read them
//! back (a torn last line is skipped).
//!
//! Appends are one `write` of one line on an `O_APPEND` file. Must not hold secrets: records carry
//! names, digests and ops only.

use std::io::Write;
use std::path::Path;

use crate::core::audit::{AUDIT_FILE, AuditRecord};
use crate::error::Failure;
use crate::shell::trusted_path;

/// Mode of a new audit journal (it holds no secrets).
const AUDIT_MODE: u32 = 0o644;

pub fn append(state_dir: &Path, record: &AuditRecord) -> Result<(), Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let fail = |why: String| {
        Failure::backend(format!(
            "audit journal {} {why}; check --state-dir",
            path.display()
        ))
    };
    let dir = trusted_path::ensure_dir(state_dir)
        .map_err(|why| fail(format!("(state dir {}) {why}", state_dir.display())))?;
    let mut line = serde_json::to_vec(record).map_err(|e| fail(e.to_string()))?;
    line.push(b'\n');
    let mut file = dir.open_append(AUDIT_FILE, AUDIT_MODE).map_err(fail)?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(|e| fail(format!("cannot be written ({e})")))
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
            }],
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
    }
}
