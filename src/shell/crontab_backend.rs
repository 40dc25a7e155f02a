//! The crontab backend: entry/marker line pairs in a crontab file or a user's crontab
//! (`shell::crontab_target` does the I/O, `core::crontab` the text, `core::crontab_entry` the lines).
//!
//! Owns the crontab-only settings (target, format, run-as user, cron's zone); spec files live in the
//! local spec dir (`shell::local_specs`). Never rewrites a byte it does not own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::adopt::{self, Finding};
use crate::core::check_entry::{self, CheckEntry};
use crate::core::crontab::{self, Crontab};
use crate::core::crontab_entry::CrontabRenderer;
use crate::core::plan::{InstalledEntry, Plan};
use crate::core::render::Renderer;
use crate::core::target_checks;
use crate::error::Failure;
use crate::settings::{CrontabFormat, TargetFlags};
use crate::shell::backend::{
    self, Adopter, ApplyGuard, Backend, Capabilities, CheckJob, Common, Executed, OwnPath,
    Preflight, PreflightCheck, PreflightFor, Snapshot, SpecPlace,
};
use crate::shell::config::{self, Config};
use crate::shell::crontab_target::Target;
use crate::shell::local_specs::{self, EntrySteps, LocalSpecs};
use crate::shell::{atomic, passwd};

/// Process names of the cron daemons cronix targets (Debian's cron, cronie, busybox crond).
const CRON_DAEMONS: [&str; 3] = ["cron", "crond", "cronie"];

#[derive(Debug)]
pub struct CrontabBackend {
    target: Target,
    /// The user column, for system-format targets.
    run_as: Option<String>,
    common: Common,
    /// The zone cron fires in.
    host_zone: jiff::tz::TimeZone,
    /// The spec dir the entries' fires read.
    specs: LocalSpecs,
}

/// What the crontab backend read: the bytes, parsed.
struct State {
    bytes: Vec<u8>,
    crontab: Crontab,
}

impl CrontabBackend {
    /// The crontab target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn new(args: &TargetFlags, cfg: &Config, common: Common) -> Result<Self, Failure> {
        let target = match &args.crontab_user {
            Some(user) => Target::User {
                user: user.clone(),
                lock_dir: common.lock_dir.clone(),
                crontab_bin: cfg
                    .crontab_bin
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CRONTAB_BIN)),
            },
            None => {
                let path = args
                    .crontab_path
                    .clone()
                    .or(cfg.crontab_path.clone())
                    .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CRONTAB_PATH));
                let format = args
                    .crontab_format
                    .or(cfg.crontab_format)
                    .unwrap_or(CrontabFormat::System);
                Target::File {
                    path: std::path::absolute(&path).unwrap_or(path),
                    user_column: format == CrontabFormat::System,
                }
            }
        };
        target.check()?;
        let run_as = target.has_user_column().then(|| {
            args.run_as
                .clone()
                .or(cfg.run_as.clone())
                .unwrap_or_else(|| config::DEFAULT_RUN_AS.to_string())
        });
        Ok(CrontabBackend {
            specs: LocalSpecs::new(&common.spec_dir),
            target,
            run_as,
            common,
            host_zone: crate::shell::tz::host_zone(),
        })
    }
}

impl Adopter for CrontabBackend {
    fn crontab<'a>(&self, snapshot: &'a Snapshot) -> Option<(&'a Crontab, bool)> {
        let state = backend::state_of::<State>(snapshot).ok()?;
        Some((&state.crontab, self.target.has_user_column()))
    }
}

impl Backend for CrontabBackend {
    fn target_id(&self) -> String {
        self.target.describe()
    }

    fn preflight(&self, purpose: PreflightFor) -> Preflight {
        if purpose == PreflightFor::Apply {
            return Preflight {
                blocking: self.host_problems(),
                checks: Vec::new(),
                own_paths: self.own_paths(),
            };
        }
        let (name, result) = self.cron_daemon();
        Preflight {
            blocking: self.host_problems(),
            checks: vec![PreflightCheck {
                name: name.to_string(),
                result,
            }],
            own_paths: self.own_paths(),
        }
    }

    fn recover(&self, apps: &[&str]) -> Result<(), Failure> {
        self.target.clean_temps()?;
        self.specs.recover(apps)
    }

    fn specs(&self) -> &dyn SpecPlace {
        &self.specs
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            adopt: true,
            ..Capabilities::default()
        }
    }

    fn adopter(&self) -> Option<&dyn Adopter> {
        Some(self)
    }

    /// Spec files, then the crontab (replaced whole or not at all), then spec removals.
    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed {
        let read_now = || self.read().map(|s| s.entries);
        let install = || self.install_entries(snapshot, plan);
        local_specs::execute(
            &self.specs,
            plan,
            EntrySteps {
                target: self.describe(),
                before: &snapshot.entries,
                install: &install,
                read_now: &read_now,
            },
        )
    }

    fn renderer(&self) -> Box<dyn Renderer + '_> {
        Box::new(CrontabRenderer {
            run_as: self.run_as.as_deref(),
            trigger_bin: &self.common.trigger_bin,
            spec_dir: &self.common.spec_dir,
            host_tz: &self.host_zone,
            otel: self.common.otel,
        })
    }

    fn runs_as(&self) -> Option<String> {
        match &self.target {
            Target::User { user, .. } => Some(user.clone()),
            Target::File { .. } => self.run_as.clone(),
        }
    }

    fn lock(&self, wait: Duration) -> Result<ApplyGuard, Failure> {
        Ok(Box::new(self.target.lock(wait)?))
    }

    /// Unmarked `cronix trigger` lines for the manifest's jobs (a double fire), and in a
    /// system-format file, cronix lines without a user column.
    fn hazards(&self, snapshot: &Snapshot, app: &str, jobs: &[&str]) -> Vec<String> {
        let Ok(state) = backend::state_of::<State>(snapshot) else {
            return Vec::new();
        };
        let mut findings = adopt::double_fires(&state.crontab, app, jobs);
        if self.target.has_user_column() {
            findings.extend(adopt::missing_user_columns(&state.crontab));
        }
        findings.sort_by_key(|f| f.line_no);
        findings.dedup_by_key(|f| f.line_no);
        findings.iter().map(Finding::describe).collect()
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let bytes = self.target.read()?;
        let crontab = crontab::parse(&bytes);
        Ok(Snapshot {
            entries: crontab.entries(),
            state: Box::new(State { bytes, crontab }),
        })
    }

    fn fire_env_names(&self, snapshot: &Snapshot) -> std::collections::BTreeSet<String> {
        backend::state_of::<State>(snapshot)
            .map(|state| state.crontab.assigned_names())
            .unwrap_or_default()
    }

    fn install_conflicts(&self, _snapshot: &Snapshot, _plan: &Plan) -> Vec<String> {
        Vec::new()
    }

    /// The check entry and its `# cronix:check` marker.
    fn check_artifact(&self, check: &CheckJob) -> Option<String> {
        Some(
            CheckEntry {
                schedule: &check.schedule.crontab_expression(),
                run_as: self.run_as.as_deref(),
                bin: &check.bin,
                config: &check.config,
                spec_dir: &check.spec_dir,
                state_dir: &check.state_dir,
            }
            .render(),
        )
    }

    /// Read from the snapshot's bytes: the plan's entries and check op come from one read.
    fn installed_check(&self, snapshot: &Snapshot) -> Result<Option<String>, Failure> {
        let state: &State = backend::state_of(snapshot)?;
        Ok(check_entry::installed(&state.bytes))
    }

    fn follows(&self, entry: &InstalledEntry) -> Option<(PathBuf, usize)> {
        let (dir, idx) = crontab::gate_of(entry.line.as_deref()?)?;
        Some((PathBuf::from(dir), idx))
    }

    fn reported_next(&self, _snapshot: &Snapshot, _ats: &[usize]) -> BTreeMap<usize, String> {
        BTreeMap::new()
    }
}

/// The parts of the crontab backend's preflight and execution.
impl CrontabBackend {
    fn host_problems(&self) -> Vec<String> {
        let user = match &self.target {
            Target::User { user, .. } => Some(user.as_str()),
            Target::File { .. } => self.run_as.as_deref(),
        };
        match user {
            Some(user) if target_checks::is_safe_user(user) && !passwd::user_exists(user) => {
                vec![format!(
                    "user {user:?} does not exist on this host; create it or pick another with \
                     --run-as / --crontab-user"
                )]
            }
            _ => Vec::new(),
        }
    }

    /// Install the new bytes only when they differ from what was read.
    fn install_entries(&self, snapshot: &Snapshot, plan: &Plan) -> Result<(), Failure> {
        let state: &State = backend::state_of(snapshot)?;
        let mut bytes = crontab::render_crontab(&state.crontab, plan);
        // The owned `cronix check` entry, placed after every other line (or removed).
        if let Some(op) = plan.check_op() {
            bytes = check_entry::place(&bytes, op.line.as_deref());
        }
        if bytes != state.bytes {
            self.target.install(&bytes)?;
        }
        Ok(())
    }

    fn own_paths(&self) -> Vec<OwnPath> {
        let mut out = Vec::new();
        if let Target::File { path, .. } = &self.target {
            out.push(OwnPath::Dir(
                "crontab_dir",
                atomic::parent_of(path).to_path_buf(),
            ));
        }
        out.push(OwnPath::Lock("apply_lock", self.target.lock_path()));
        out
    }

    /// A cron daemon runs: its name in `/proc/<pid>/comm`.
    fn cron_daemon(&self) -> (&'static str, Result<String, String>) {
        let found = std::fs::read_dir("/proc").ok().and_then(|entries| {
            entries.filter_map(Result::ok).find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
                let comm = comm.trim();
                CRON_DAEMONS
                    .contains(&comm)
                    .then(|| format!("{comm} runs (pid {pid})"))
            })
        });
        let status = found.ok_or_else(|| {
            "no cron daemon runs (looked for cron, crond, cronie): nothing fires until one does; \
             start it (e.g. `service cron start`)"
                .to_string()
        });
        ("cron_daemon", status)
    }
}
