//! The spec file format: what apply tells the shim about one job (the normalized job, its app, the
//! effective secret references and the paths apply was given), and the reference tool's spec format,
//! read as cronix's own so a host can swap the binary before its first `cronix apply`.
//!
//! Holds secret *references* only, never secret bytes. Pure: `shell::spec_store` reads and writes them.
//! It must not fill in a host's paths (the caller gives them) nor relax a check for either format.

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
    /// Which tool wrote the file (never written: a reference spec is rewritten as cronix's by apply).
    #[serde(skip)]
    pub origin: SpecOrigin,
}

/// Which tool wrote a spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecOrigin {
    /// cronix's own format (`"format": N`).
    #[default]
    Cronix,
    /// The reference tool's (Go) format: `{app, job, secret_refs, schedule_index}`, no `format`.
    Reference,
}

/// The spec file the reference tool's `apply --spec-dir` writes at `<spec-dir>/<app>.<job>.json`:
/// the normalized job (the same shape as cronix's), the operator's `--secret-ref` list (`null` when
/// none was given) and a schedule index it always writes as 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceSpec {
    app: String,
    job: Job,
    #[serde(default)]
    secret_refs: Option<Vec<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    schedule_index: u64,
}

/// Just enough of a spec to tell the formats apart: cronix's always carries `format`.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<serde::de::IgnoredAny>,
}

/// The directories a reference spec does not record (the shim's config gives them).
pub struct HostPaths<'a> {
    pub lock_dir: &'a str,
    pub state_dir: &'a str,
}

/// Parse a spec file of either format. A reference spec becomes the spec cronix's apply would write
/// for the same job: the job's own `auth.secret_refs` when it names any, else the refs the
/// reference's apply was given; `paths` for the lock and state dirs; no recorded config or target.
///
/// The shim reads a spec at every fire: cronix's format is tried first, so the common case is one
/// pass over the bytes; the format is told apart (by `format`) only to explain a failure.
pub fn parse(bytes: &[u8], paths: &HostPaths) -> Result<JobSpec, String> {
    let own_error = match serde_json::from_slice::<JobSpec>(bytes) {
        Ok(spec) => return Ok(spec),
        Err(e) => e.to_string(),
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if probe.format.is_some() {
        return Err(own_error);
    }
    let reference: ReferenceSpec = serde_json::from_slice(bytes).map_err(|e| {
        format!("read as the reference tool's spec format (it has no \"format\"): {e}")
    })?;
    Ok(from_reference(reference, paths))
}

fn from_reference(reference: ReferenceSpec, paths: &HostPaths) -> JobSpec {
    let own = &reference.job.auth.secret_refs;
    let secret_refs = if own.is_empty() {
        reference.secret_refs.unwrap_or_default()
    } else {
        own.clone()
    };
    JobSpec {
        format: 0,
        app: reference.app,
        job: reference.job,
        secret_refs,
        lock_dir: paths.lock_dir.to_string(),
        state_dir: paths.state_dir.to_string(),
        config: None,
        target: None,
        origin: SpecOrigin::Reference,
    }
}

impl JobSpec {
    /// A reference spec records no directories: take them from the config the shim loaded.
    pub fn set_host_paths(&mut self, paths: &HostPaths) {
        if self.origin == SpecOrigin::Reference {
            self.lock_dir = paths.lock_dir.to_string();
            self.state_dir = paths.state_dir.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: HostPaths = HostPaths {
        lock_dir: "/run/cronix",
        state_dir: "/var/lib/cronix",
    };

    /// As the reference's `json.MarshalIndent` writes it.
    fn reference(auth: &str, operator: &str) -> String {
        format!(
            r#"{{
  "app": "billing",
  "job": {{
    "name": "settle",
    "schedules": [
      "0 2 * * *"
    ],
    "timezone": "UTC",
    "request": {{
      "method": "POST",
      "url": "https://billing.example.com/cron/settle?x=1\u0026y=2",
      "headers": {{}},
      "body": ""
    }},
    "policy": {{
      "concurrency": "Forbid",
      "concurrency_scope": "host",
      "timeout_seconds": 60,
      "retries": {{
        "max_attempts": 3,
        "min_seconds": 1,
        "max_seconds": 60
      }}
    }},
    "auth": {{
      "secret_refs": {auth}
    }}
  }},
  "secret_refs": {operator},
  "schedule_index": 0
}}"#
        )
    }

    #[test]
    fn a_reference_spec_reads_as_the_spec_apply_would_write() {
        let spec = parse(reference("[]", r#"["env:CRON_SECRET"]"#).as_bytes(), &PATHS).unwrap();
        assert_eq!(spec.origin, SpecOrigin::Reference);
        assert_eq!(spec.secret_refs, ["env:CRON_SECRET"]);
        assert_eq!(spec.state_dir, "/var/lib/cronix");
        assert_eq!(
            spec.job.request.url,
            "https://billing.example.com/cron/settle?x=1&y=2"
        );
        let own = parse(reference(r#"["env:OWN"]"#, "null").as_bytes(), &PATHS).unwrap();
        assert_eq!(own.secret_refs, ["env:OWN"]);
        let none = parse(reference("[]", "null").as_bytes(), &PATHS).unwrap();
        assert!(none.secret_refs.is_empty());
    }

    #[test]
    fn unknown_fields_are_refused_in_either_format() {
        let extra = reference("[]", "null")
            .replace("\"schedule_index\"", "\"lock\": 1, \"schedule_index\"");
        let err = parse(extra.as_bytes(), &PATHS).unwrap_err();
        assert!(
            err.contains("reference tool") && err.contains("unknown field"),
            "{err}"
        );
        let ours = r#"{"format": 2, "app": "a", "schedule_index": 0}"#;
        assert!(
            parse(ours.as_bytes(), &PATHS)
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
