//! The apply audit journal `<state-dir>/audit.jsonl`: append one `AuditRecord` per change, read them
//! back (a torn last line is skipped).
//!
//! Appends are one `write` of one line on an `O_APPEND` file. Must not hold secrets: records carry
//! names, digests and ops only.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::core::audit::{AUDIT_FILE, AuditRecord};
use crate::error::Failure;

pub fn append(state_dir: &Path, record: &AuditRecord) -> Result<(), Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let fail = |e: io::Error| {
        Failure::backend(format!(
            "audit journal {}: {e}; check --state-dir",
            path.display()
        ))
    };
    fs::create_dir_all(state_dir).map_err(fail)?;
    let mut line = serde_json::to_vec(record).map_err(|e| fail(io::Error::other(e)))?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(fail)?;
    let line = crate::shell::history::after_torn_line(&file, &line);
    file.write_all(&line).map_err(fail)?;
    file.sync_data().map_err(fail)
}

/// Every readable record, oldest first; lines that do not parse (a torn append) are skipped.
pub fn read(state_dir: &Path) -> Result<Vec<AuditRecord>, Failure> {
    let path = state_dir.join(AUDIT_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Failure::backend(format!(
                "audit journal {}: {e}",
                path.display()
            )));
        }
    };
    Ok(bytes
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
        let mut f = OpenOptions::new()
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
