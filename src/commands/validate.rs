//! `cronix validate SOURCE [--canonical] [--app APP]`: lint a manifest, or print its canonical bytes.
//!
//! Reads the source (an HTTP fetch signed with the app's refs) and reports every issue with its JSON
//! path, at most `MAX_REPORTED_PROBLEMS` of them; a manifest naming an app other than the one fixed
//! for its source (`--app`, `manifest_sources`) is invalid. Warns about what apps on the reference
//! SDK would refuse. A URL source is shown without its query. Writes nothing.
//!
//! It is the same gate as `plan` for everything that depends on the manifest and the operator's
//! config, not on the target (`target_checks::manifest_gate`): plain http to a remote host, a fire's
//! worst case over the bound, global scope without a usable `locks.redis`, a ref the app may not use.

use std::io::Write;

use serde_json::json;

use crate::cli::ValidateArgs;
use crate::core::manifest::{self, Manifest, Problems};
use crate::core::schedule::Schedule;
use crate::core::target_checks::{self, GateRules};
use crate::core::{manifest_lint, scope};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::{config, reconcile, source, tz};

pub fn run(global: &Global, args: &ValidateArgs) -> Result<ExitStatus, Failure> {
    let cfg = config::load(global.config.as_deref())?.config;
    let scope = reconcile::source_scope(
        &cfg.manifest_sources,
        &cfg.operator_secret_refs(&global.secret_refs),
        (!global.secret_refs.is_empty(), false),
        &args.source,
        args.app.as_deref(),
    )?;
    let auth = source::FetchAuth {
        secret_refs: scope.allowed_refs.clone(),
        refs_from: scope.refs_from.clone(),
        env_file: cfg.env_file.clone(),
        transport: cfg.transport(),
    };
    let bytes = source::load(&args.source, &auth)?;
    let shown = source::shown(&args.source);
    let global_lock = cfg.global_lock();
    let gate = GateRules {
        allow_http_hosts: &cfg.allow_http_hosts,
        global_lock: &global_lock,
        refs: &scope,
    };
    let parsed = manifest::parse_owned(bytes, &tz::zone_exists)
        .and_then(|m| {
            scope::check_app(&scope, &m.app, &shown)
                .map(|()| m)
                .map_err(|message| manifest::Problems::one("app", message))
        })
        .and_then(|m| {
            // What plan would refuse with this config, whatever the target: one gate for CI.
            // `--canonical` transforms any valid manifest; there the refusals are warnings.
            let refused = target_checks::manifest_gate(&m, &gate);
            if refused.is_empty() {
                Ok(m)
            } else if args.canonical {
                reconcile::warn(&refused);
                Ok(m)
            } else {
                Err(manifest::Problems::at("jobs", refused))
            }
        });
    match parsed {
        Ok(manifest) if args.canonical => {
            let mut notes = schedule_notes(&manifest);
            notes.extend(manifest_lint::reference_sdk_warnings(&manifest));
            reconcile::warn(&notes);
            print_canonical(&manifest)
        }
        Ok(manifest) => print_valid(global.output, &shown, &manifest),
        Err(problems) => print_invalid(global.output, &shown, &problems),
    }
}

/// The canonical bytes, exactly, when they go to a file or a pipe (hashes are computed over them); on a
/// terminal, control and bidi characters inside strings are written as `\uXXXX` escapes (the same
/// JSON, so nothing a terminal would act on reaches it).
fn print_canonical(manifest: &Manifest) -> Result<ExitStatus, Failure> {
    use std::io::IsTerminal;
    let canonical = manifest::canonical(manifest);
    let mut out = std::io::stdout().lock();
    let text = if out.is_terminal() {
        crate::core::escape::terminal(&canonical)
    } else {
        std::borrow::Cow::Borrowed(canonical.as_str())
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader that stopped early (`| head -c 100`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::backend(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(ExitStatus::OK),
    }
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

fn print_valid(output: Output, source: &str, manifest: &Manifest) -> Result<ExitStatus, Failure> {
    let entries: usize = manifest.jobs.iter().map(|j| j.schedules.len()).sum();
    let digest = manifest::digest(manifest);
    let mut notes = schedule_notes(manifest);
    notes.extend(manifest_lint::reference_sdk_warnings(manifest));
    if !output.is_structured() {
        reconcile::warn(&notes);
    }
    match output {
        Output::Json | Output::Yaml => {
            let mut doc = json!({"ok": true, "valid": true, "app": manifest.app, "jobs": manifest.jobs.len(), "entries": entries, "digest": digest});
            if !notes.is_empty() {
                doc["warnings"] = json!(notes);
            }
            crate::printer::document(output, &doc);
        }
        Output::Table | Output::Wide => outln!(
            "{source}: valid — app {}, {} job{}, {entries} crontab entr{} (sha256 {digest})",
            manifest.app,
            manifest.jobs.len(),
            if manifest.jobs.len() == 1 { "" } else { "s" },
            if entries == 1 { "y" } else { "ies" },
        ),
    }
    Ok(ExitStatus::OK)
}

/// The problems, capped: JSON carries the first `MAX_REPORTED_PROBLEMS` and `omitted` for the rest.
fn print_invalid(output: Output, source: &str, problems: &Problems) -> Result<ExitStatus, Failure> {
    match output {
        Output::Json | Output::Yaml => {
            let mut doc = json!({"ok": false, "valid": false, "errors": problems.issues});
            if problems.more > 0 {
                doc["omitted"] = json!(problems.more);
            }
            crate::printer::document(output, &doc);
        }
        Output::Table | Output::Wide => {
            crate::printer::err_line(
                "",
                &format!(
                    "{source}: invalid manifest ({})",
                    manifest::problem_count(problems.total())
                ),
            );
            for line in manifest::issue_lines(problems) {
                crate::printer::err_line("", &line);
            }
        }
    }
    Ok(ExitStatus::FAILED)
}
