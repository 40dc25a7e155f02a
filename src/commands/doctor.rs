//! `cronix doctor`: would a fire on this host work? A list of named checks, each ending `ok`, `warn`
//! or `fail` with one line of detail: the config (which file and why), the target, the service that
//! fires the entries (the cron daemon, or systemd), the trigger binary, every path of the trust model
//! (DESIGN §11), every installed job's spec and secret references as the shim would resolve them at a
//! fire, the systemd credentials they name, the tz database, the host id and the Redis of
//! `locks.redis`.
//!
//! Reads only: it creates, tightens or locks nothing, and never prints a secret value (a reference is
//! reported as resolving or not). Exit 1 when any check fails (a fire would fail), else 0.
//!
//! To add a check, write a function from `&Host` to checks and list it in `CHECKS` (lock stores add
//! theirs there; a backend names its service and its own paths through `Backend::scheduler` and
//! `Backend::own_paths`).

mod creds;
mod global;
mod jobs;
mod paths;

use serde::Serialize;

use crate::cli::TargetArgs;
use crate::core::backend_kind;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::backend::PreflightFor;
use crate::shell::config::{self, ConfigSource, Loaded};
use crate::shell::reconcile::{self, Context};

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One named check (the `-o json` shape of each entry of `checks`).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Verdict,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Verdict, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Verdict::Ok, detail)
    }
    pub fn warn(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Verdict::Warn, detail)
    }
    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Verdict::Fail, detail)
    }
}

/// What the checks look at: the config as loaded (or why it could not be) and the target context
/// resolved over it (over the defaults when the config was refused).
pub struct Host<'a> {
    pub global: &'a Global,
    pub loaded: Result<Loaded, Failure>,
    pub ctx: Result<Context, Failure>,
}

impl Host<'_> {
    /// The config in effect (the defaults when loading failed).
    pub fn config(&self) -> config::Config {
        self.loaded
            .as_ref()
            .map(|l| l.config.clone())
            .unwrap_or_default()
    }
}

type CheckFn = fn(&Host) -> Vec<Check>;

/// Every check, in the order shown.
const CHECKS: &[CheckFn] = &[
    config_check,
    target_check,
    scheduler_check,
    paths::trigger_bin_checks,
    paths::path_checks,
    jobs::job_checks,
    creds::cred_checks,
    jobs::tz_check,
    global::global_checks,
];

#[derive(Serialize)]
struct DoctorDoc {
    ok: bool,
    checks: Vec<Check>,
}

pub fn run(global: &Global, args: &TargetArgs) -> Result<ExitStatus, Failure> {
    let backend = backend_kind::select(args.backend.as_deref(), None).map_err(Failure::usage)?;
    let loaded = config::load(global.config.as_deref());
    let fallback = Loaded::default();
    let ctx = reconcile::context_from(
        loaded.as_ref().unwrap_or(&fallback),
        global,
        &args.flags(),
        backend,
    );
    let host = Host {
        global,
        loaded,
        ctx,
    };
    let checks: Vec<Check> = CHECKS.iter().flat_map(|check| check(&host)).collect();
    let ok = checks.iter().all(|c| c.status != Verdict::Fail);
    match global.output {
        Output::Json | Output::Yaml => {
            crate::printer::document(global.output, &DoctorDoc { ok, checks })
        }
        Output::Table | Output::Wide => print_table(&checks, ok),
    }
    Ok(if ok {
        ExitStatus::OK
    } else {
        ExitStatus::FAILED
    })
}

fn print_table(checks: &[Check], ok: bool) {
    let mut table = crate::printer::Grid::new(["CHECK", "STATUS", "DETAIL"]);
    for c in checks {
        let mark = match c.status {
            Verdict::Fail => crate::printer::Mark::Failed,
            Verdict::Warn => crate::printer::Mark::Drifted,
            _ => crate::printer::Mark::Plain,
        };
        table.add_marked(
            mark,
            [
                c.name.clone(),
                c.status.as_str().to_string(),
                c.detail.clone(),
            ],
        );
    }
    table.print();
    let failed = checks.iter().filter(|c| c.status == Verdict::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Verdict::Warn).count();
    if ok {
        outln!("ok: a fire on this host would work ({warned} warning(s))");
    } else {
        outln!("{failed} check(s) failed: a fire on this host would fail");
    }
}

/// Which config was loaded and why.
fn config_check(host: &Host) -> Vec<Check> {
    let check = match &host.loaded {
        Err(failure) => Check::fail("config", failure.message.clone()),
        Ok(Loaded { path: None, .. }) => Check::ok(
            "config",
            format!(
                "no config file (none at ~/.cronix/cronix.yaml or {}); every setting is its default",
                config::SYSTEM_CONFIG_PATH
            ),
        ),
        Ok(Loaded {
            path: Some(path),
            source,
            ..
        }) => Check::ok(
            "config",
            format!("{} (from {})", path.display(), source_reason(*source)),
        ),
    };
    vec![check]
}

fn source_reason(source: ConfigSource) -> &'static str {
    match source {
        ConfigSource::Flag => "--config",
        ConfigSource::Env => "$CRONIX_CONFIG",
        ConfigSource::Home => "$HOME/.cronix/cronix.yaml",
        ConfigSource::System => "/etc/cronix/cronix.yaml",
        ConfigSource::Spec => "a spec file",
        ConfigSource::Defaults => "defaults",
    }
}

/// The target and its state: readable (after the trust check), how many owned entries of which apps.
fn target_check(host: &Host) -> Vec<Check> {
    let ctx = match &host.ctx {
        Ok(ctx) => ctx,
        Err(failure) => return vec![Check::fail("target", failure.message.clone())],
    };
    let check = match reconcile::installed(ctx, None) {
        Ok(installed) => {
            let owned: Vec<_> = installed
                .entries()
                .iter()
                .filter(|e| e.line.is_some())
                .collect();
            let mut apps: Vec<&str> = owned.iter().map(|e| e.app.as_str()).collect();
            apps.sort_unstable();
            apps.dedup();
            let entries = owned.len();
            Check::ok(
                "target",
                format!(
                    "{}: {entries} owned entr{} of {} app(s){}",
                    ctx.backend.describe(),
                    if entries == 1 { "y" } else { "ies" },
                    apps.len(),
                    if apps.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", apps.join(", "))
                    }
                ),
            )
        }
        Err(failure) => Check::fail("target", failure.message),
    };
    vec![check]
}

/// The service that fires the backend's entries runs (the cron daemon, systemd): without it no
/// entry ever fires, so it fails the doctor (exit 1).
fn scheduler_check(host: &Host) -> Vec<Check> {
    let Ok(ctx) = &host.ctx else {
        return Vec::new();
    };
    ctx.backend
        .preflight(PreflightFor::Doctor)
        .checks
        .into_iter()
        .map(|check| match check.result {
            Ok(detail) => Check::ok(check.name, detail),
            Err(detail) => Check::fail(check.name, detail),
        })
        .collect()
}
