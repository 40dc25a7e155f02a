//! `cronix validate SOURCE [--canonical]`: lint a manifest, or print its canonical bytes.
//!
//! Reads a local source and reports every issue with its JSON path; writes nothing.

use std::io::Write;

use serde_json::json;

use crate::cli::{GlobalArgs, Output, ValidateArgs};
use crate::core::manifest::{self, Issue, Manifest};
use crate::core::schedule::Schedule;
use crate::error::{Failure, Status};
use crate::shell::config::{self, Config};
use crate::shell::{reconcile, source, tz};

/// How to sign an HTTP manifest fetch: `--secret-ref` flags win over the config's `secret_refs`.
pub fn fetch_auth(global: &GlobalArgs, config: &Config) -> source::FetchAuth {
    source::FetchAuth {
        secret_refs: config.operator_secret_refs(&global.secret_refs),
        env_file: config.env_file.clone(),
    }
}

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> Result<Status, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let bytes = source::load(&args.source, &fetch_auth(global, &loaded.config))?;
    match manifest::parse(&bytes, &tz::zone_exists) {
        Ok(manifest) if args.canonical => print_canonical(&manifest),
        Ok(manifest) => print_valid(global.output, &args.source, &manifest),
        Err(issues) => print_invalid(global.output, &args.source, &issues),
    }
}

fn print_canonical(manifest: &Manifest) -> Result<Status, Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(manifest::canonical(manifest).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::backend(format!("cannot write to standard output: {e}")))?;
    Ok(Status::OK)
}

/// Schedules that parse but read differently than they look (a step past its field's range), per job.
fn schedule_notes(manifest: &Manifest) -> Vec<String> {
    manifest
        .jobs
        .iter()
        .flat_map(|job| {
            job.schedules
                .iter()
                .filter_map(|s| Schedule::parse(s).ok())
                .flat_map(|s| s.notes())
                .map(move |note| format!("job {}: {note}", job.name))
        })
        .collect()
}

fn print_valid(output: Output, source: &str, manifest: &Manifest) -> Result<Status, Failure> {
    let entries: usize = manifest.jobs.iter().map(|j| j.schedules.len()).sum();
    let digest = manifest::digest(manifest);
    let notes = schedule_notes(manifest);
    if output == Output::Table {
        reconcile::warn(&notes);
    }
    match output {
        Output::Json => {
            let mut doc = json!({"valid": true, "app": manifest.app, "jobs": manifest.jobs.len(), "entries": entries, "digest": digest});
            if !notes.is_empty() {
                doc["warnings"] = json!(notes);
            }
            println!("{doc}")
        }
        Output::Table => println!(
            "{source}: valid — app {}, {} job{}, {entries} crontab entr{} (sha256 {digest})",
            manifest.app,
            manifest.jobs.len(),
            if manifest.jobs.len() == 1 { "" } else { "s" },
            if entries == 1 { "y" } else { "ies" },
        ),
    }
    Ok(Status::OK)
}

fn print_invalid(output: Output, source: &str, issues: &[Issue]) -> Result<Status, Failure> {
    match output {
        Output::Json => println!("{}", json!({"valid": false, "errors": issues})),
        Output::Table => {
            let mut err = anstream::stderr();
            let _ = writeln!(
                err,
                "{source}: invalid manifest ({} problem{})",
                issues.len(),
                if issues.len() == 1 { "" } else { "s" }
            );
            for issue in issues {
                let at = if issue.path.is_empty() {
                    "(top level)"
                } else {
                    issue.path.as_str()
                };
                let _ = writeln!(err, "  {at}: {}", issue.message);
            }
        }
    }
    Ok(Status(1))
}
