//! Doctor checks of every installed job (an owned entry or a spec file): its spec reads as the shim
//! reads it, its secret references resolve in the shim's environment at a fire (the `env_file` plus an
//! EMPTY environment; a `cred:` reference when systemd can decrypt its sealed file, see `creds`), its
//! zone is in the tz database; and the tz database itself. A global-scope job whose recent fires were
//! `silenced` (held back by a claim or lease in Redis that looked planted) is a warning.
//!
//! Never prints a secret value: a reference is reported by its redacted name only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Check, Host, creds, paths};
use crate::core::global_lock::SILENCED_CLASS;
use crate::core::manifest::ConcurrencyScope;
use crate::core::missed;
use crate::core::secret::Secret;
use crate::core::spec::JobSpec;
use crate::shell::config::{self, ConfigSource};
use crate::shell::{history, reconcile, secrets, spec_store, tz};

/// `(spec dir, app, job)` of every installed job: from the entries' lines (of a backend whose fires
/// run the shim), and the spec dir's files.
pub(super) fn installed_jobs(host: &Host) -> BTreeSet<(PathBuf, String, String)> {
    let mut out = BTreeSet::new();
    let Ok(ctx) = &host.ctx else {
        return out;
    };
    // A backend whose jobs have no spec files (vercel) fires nothing through the shim of this host.
    let fired_here = ctx.backend.renderer().uses_spec_files();
    if let Ok(installed) = reconcile::installed(ctx, None)
        && fired_here
    {
        for entry in installed.entries() {
            let Some(line) = &entry.line else {
                continue;
            };
            let dir = spec_dir_of(line).unwrap_or_else(|| ctx.paths.spec_dir.clone());
            out.insert((dir, entry.app.clone(), entry.job.clone()));
        }
    }
    if let Ok(specs) = spec_store::list(&ctx.paths.spec_dir) {
        for (app, job) in specs {
            out.insert((ctx.paths.spec_dir.clone(), app, job));
        }
    }
    out
}

/// The `--spec-dir` an entry line hands the shim.
fn spec_dir_of(line: &str) -> Option<PathBuf> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    words
        .windows(2)
        .find(|pair| pair[0] == "--spec-dir")
        .map(|pair| PathBuf::from(pair[1]))
}

pub fn job_checks(host: &Host) -> Vec<Check> {
    if let Ok(ctx) = &host.ctx
        && ctx.backend.fire_paths().is_some()
    {
        return remote_job_checks(ctx);
    }
    let mut out = Vec::new();
    let mut dirs_checked: BTreeSet<(String, PathBuf)> = BTreeSet::new();
    if let Ok(ctx) = &host.ctx {
        dirs_checked.insert(("lock_dir".into(), ctx.paths.lock_dir.clone()));
        dirs_checked.insert(("state_dir".into(), ctx.paths.state_dir.clone()));
    }
    let jobs = installed_jobs(host);
    if jobs.is_empty() {
        let elsewhere = host
            .ctx
            .as_ref()
            .is_ok_and(|ctx| !ctx.backend.renderer().uses_spec_files());
        out.push(Check::ok(
            "jobs",
            if elsewhere {
                "no job fires through the shim on this host (the scheduler calls the app itself)"
            } else {
                "no installed jobs"
            },
        ));
    }
    for (dir, app, job) in jobs {
        let name = format!("job {app}.{job}");
        let spec = match spec_store::read_spec(&dir, &app, &job) {
            Ok(spec) => spec,
            Err(why) => {
                out.push(Check::fail(name, why));
                continue;
            }
        };
        out.push(refs_check(host, &name, &spec));
        if tz::zone_by_file(&spec.job.timezone).is_none() {
            out.push(Check::fail(
                format!("{name} timezone"),
                format!(
                    "{} is not in this host's tz database; install the tzdata package",
                    spec.job.timezone
                ),
            ));
        }
        out.extend(silenced_check(&name, &spec));
        for (role, path) in [("lock_dir", &spec.lock_dir), ("state_dir", &spec.state_dir)] {
            if dirs_checked.insert((role.to_string(), PathBuf::from(path))) {
                out.push(paths::dir_check(role, Path::new(path)));
            }
        }
    }
    out
}

/// Jobs whose fires run elsewhere (a cluster's pods): each installed entry's spec is in the target
/// and parses as the shim reads it. Secrets, paths and zones are the target's (its preflight).
fn remote_job_checks(ctx: &reconcile::Context) -> Vec<Check> {
    let jobs: BTreeSet<(String, String)> = match reconcile::installed(ctx, None) {
        Ok(installed) => installed
            .entries()
            .iter()
            .map(|e| (e.app.clone(), e.job.clone()))
            .collect(),
        Err(f) => return vec![Check::fail("jobs", f.message)],
    };
    if jobs.is_empty() {
        return vec![Check::ok("jobs", "no installed jobs")];
    }
    jobs.into_iter()
        .map(|(app, job)| {
            let name = format!("job {app}.{job}");
            match ctx.backend.specs().find(&app, &job) {
                Ok(Some(spec)) => Check::ok(
                    name,
                    format!(
                        "spec in {} ({} {}, {})",
                        ctx.backend.describe(),
                        spec.job.request.method.as_str(),
                        spec.job.request.url,
                        spec.job.timezone
                    ),
                ),
                Ok(None) => Check::fail(
                    name,
                    format!(
                        "no spec in {}; run `cronix apply` for app {app}",
                        ctx.backend.describe()
                    ),
                ),
                Err(f) => Check::fail(name, f.message),
            }
        })
        .collect()
}

/// A global-scope job whose recent fires were held back by a claim or lease in Redis that looked
/// planted (records `silenced`, as `check` counts them): a warning naming how many and the newest.
fn silenced_check(name: &str, spec: &JobSpec) -> Option<Check> {
    if spec.job.policy.concurrency_scope != ConcurrencyScope::Global {
        return None;
    }
    let path = history::history_path(Path::new(&spec.state_dir), &spec.app, &spec.job.name);
    let records = history::read_records(&path).ok()?;
    let since = jiff::Timestamp::now().as_second() - missed::MAX_LOOKBACK_SECONDS;
    let silenced: Vec<&str> = records
        .iter()
        .filter(|r| r.error.as_deref() == Some(SILENCED_CLASS))
        .filter(|r| r.fired().is_some_and(|t| t.as_second() >= since))
        .map(|r| r.fire_time.as_str())
        .collect();
    let newest = silenced.last()?;
    Some(Check::warn(
        format!("{name} silenced"),
        format!(
            "{} fire(s) in the last 7 days sent nothing because a claim or lease in Redis looked \
             planted (newest {newest}); see docs/fleet.md and `cronix check`",
            silenced.len()
        ),
    ))
}

/// Resolve the job's references as the shim would under cron: the config it loads (the one recorded
/// in the spec, else this one), that config's `env_file`, and no other environment.
fn refs_check(host: &Host, name: &str, spec: &JobSpec) -> Check {
    let config = match (&host.global.config, &spec.config) {
        (None, Some(recorded)) => match config::load_named(Path::new(recorded), ConfigSource::Spec)
        {
            Ok(loaded) => loaded.config,
            Err(failure) => return Check::fail(name, failure.message),
        },
        _ => host.config(),
    };
    let env_vars: BTreeMap<String, Secret> = match &config.env_file {
        Some(path) => match secrets::load_env_file(path) {
            Ok(vars) => vars,
            Err(why) => return Check::fail(name, why),
        },
        None => BTreeMap::new(),
    };
    let lookup = |var: &str| env_vars.get(var).cloned();
    let total = spec.secret_refs.len();
    // systemd decrypts a `cred:` before the fire starts (the shim then reads it from
    // $CREDENTIALS_DIRECTORY): one that cannot be decrypted stops the fire whatever the other refs.
    let store = creds::credstore(host);
    let cred_names = creds::cred_names(&spec.secret_refs);
    for cred in &cred_names {
        if let Err(why) = creds::cred_status(&store, cred) {
            return Check::fail(name, format!("cred:{cred}: {why}"));
        }
    }
    let others: Vec<String> = spec
        .secret_refs
        .iter()
        .filter(|r| creds::cred_names(std::slice::from_ref(r)).is_empty())
        .cloned()
        .collect();
    let resolved = match secrets::resolve_with(&others, &lookup) {
        Ok(resolved) => resolved,
        Err(why) => {
            return Check::fail(
                name,
                format!("{why} (at a fire only the env_file counts, not this shell's environment)"),
            );
        }
    };
    let count = resolved.secrets.len() + cred_names.len();
    if count == 0 {
        return Check::fail(
            name,
            format!(
                "none of its {total} secret reference(s) resolves in the shim's environment \
                 (env_file plus an empty environment): {}; a fire would exit 3",
                skipped_list(&resolved)
            ),
        );
    }
    if !resolved.skipped.is_empty() {
        return Check::warn(
            name,
            format!(
                "{count} of {total} secret reference(s) resolve; skipped: {}",
                skipped_list(&resolved)
            ),
        );
    }
    Check::ok(
        name,
        format!(
            "spec readable; {count} of {total} secret reference(s) resolve in the shim's environment"
        ),
    )
}

/// `env:A is not set, file:/k does not exist` (references only, never values).
fn skipped_list(resolved: &secrets::Resolved) -> String {
    resolved
        .skipped
        .iter()
        .map(secrets::Skipped::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tz database cron and the gate read, and the zone cron fires in.
pub fn tz_check(_host: &Host) -> Vec<Check> {
    let dir = crate::shell::tz::tz_dir();
    let host_zone = crate::shell::tz::host_zone();
    let host_name = host_zone.iana_name().unwrap_or("UTC").to_string();
    let check = if dir.join("UTC").is_file() || dir.join("Etc/UTC").is_file() {
        Check::ok(
            "tz",
            format!(
                "tz database at {}; cron fires in {host_name}",
                dir.display()
            ),
        )
    } else {
        Check::warn(
            "tz",
            format!(
                "no tz database at {}; jobs outside UTC cannot fire: install the tzdata package",
                dir.display()
            ),
        )
    };
    vec![check]
}
