//! The spec file format: what apply tells the shim about one job (the normalized job, its app, the
//! effective secret references and the paths apply was given).
//!
//! Holds secret *references* only, never secret bytes. Pure: `shell::spec_store` reads and writes them.

use serde::{Deserialize, Serialize};

use crate::core::manifest::Job;

/// The spec format this release writes. Readers accept every format up to this one.
pub const SPEC_FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub format: u32,
    pub app: String,
    pub job: Job,
    /// The references the shim resolves, in signing order (the job's own, else the operator's).
    pub secret_refs: Vec<String>,
    /// Lock directory the shim uses (as given to apply).
    pub lock_dir: String,
    /// State directory for history (as given to apply).
    pub state_dir: String,
    /// The operator config apply loaded (absolute path), which the shim loads too unless given
    /// `--config`; absent when apply ran on defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// The target apply wrote the job's entries into (`Target::describe`), so `prune` removes only
    /// the specs of its own target. Format 2; absent in format-1 specs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}
