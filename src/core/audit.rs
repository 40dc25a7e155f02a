//! The apply audit record: one JSON line per apply or prune that changed anything.
//!
//! Pure data; `shell` appends records to `<state-dir>/audit.jsonl` and reads them back.

use serde::{Deserialize, Serialize};

/// File name of the audit journal inside the state dir.
pub const AUDIT_FILE: &str = "audit.jsonl";

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
}
