//! The shim's read side of spec files `<spec-dir>/<app>.<job>.json` (apply writes them through
//! `shell::spec_store`).
//!
//! Reads and checks one spec; must not write, and must not resolve the secret references it holds.

use std::path::{Path, PathBuf};

use crate::core::spec::{JobSpec, SPEC_FORMAT};

/// `<spec-dir>/<app>.<job>.json`.
pub fn spec_path(spec_dir: &Path, app: &str, job: &str) -> PathBuf {
    spec_dir.join(format!("{app}.{job}.json"))
}

/// Read the spec of `app.job`, checking that it is a format this release reads and that it describes
/// the job its name says.
pub fn read_spec(spec_dir: &Path, app: &str, job: &str) -> Result<JobSpec, String> {
    let path = spec_path(spec_dir, app, job);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "spec {}: cannot read it ({e}); run `cronix apply` for app {app}, or pass the \
             --spec-dir apply used",
            path.display()
        )
    })?;
    let spec: JobSpec = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "spec {}: not a valid spec file ({e}); re-run `cronix apply` to rewrite it",
            path.display()
        )
    })?;
    check(&spec, app, job).map_err(|msg| format!("spec {}: {msg}", path.display()))?;
    Ok(spec)
}

fn check(spec: &JobSpec, app: &str, job: &str) -> Result<(), String> {
    if spec.format == 0 || spec.format > SPEC_FORMAT {
        return Err(format!(
            "format {} is not readable by this cronix (reads 1..={SPEC_FORMAT}); upgrade cronix or \
             re-run `cronix apply` with this version",
            spec.format
        ));
    }
    if spec.app != app || spec.job.name != job {
        return Err(format!(
            "describes {}.{}, not {app}.{job}; re-run `cronix apply` to rewrite it",
            spec.app, spec.job.name
        ));
    }
    Ok(())
}
