//! The crontab backend: entry/marker line pairs in a crontab file or a user's crontab
//! (`shell::crontab_target` does the I/O, `core::crontab` the text, `core::crontab_entry` the lines).
//!
//! Owns the crontab-only settings (target, format, run-as user, cron's zone). Must not write spec
//! files (that is `shell::reconcile`) and never rewrites a byte it does not own.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::{CrontabFormat, TargetArgs};
use crate::core::crontab::{self, Crontab};
use crate::core::crontab_entry::CrontabRenderer;
use crate::core::plan::{InstalledEntry, Plan};
use crate::core::render::Renderer;
use crate::core::target_checks;
use crate::error::Failure;
use crate::shell::backend::{self, ApplyGuard, Backend, Common, Snapshot};
use crate::shell::config::{self, Config};
use crate::shell::crontab_target::Target;
use crate::shell::passwd;

#[derive(Debug)]
pub struct CrontabBackend {
    target: Target,
    /// The user column, for system-format targets.
    run_as: Option<String>,
    common: Common,
    /// The zone cron fires in.
    host_zone: jiff::tz::TimeZone,
}

/// What the crontab backend read: the bytes, parsed.
struct State {
    bytes: Vec<u8>,
    crontab: Crontab,
}

impl CrontabBackend {
    pub fn new(args: &TargetArgs, cfg: &Config, common: Common) -> Result<Self, Failure> {
        let target = match &args.crontab_user {
            Some(user) => Target::User {
                user: user.clone(),
                lock_dir: common.lock_dir.clone(),
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
            target,
            run_as,
            common,
            host_zone: jiff::tz::TimeZone::system(),
        })
    }
}

impl Backend for CrontabBackend {
    fn describe(&self) -> String {
        self.target.describe()
    }

    fn renderer(&self) -> Box<dyn Renderer + '_> {
        Box::new(CrontabRenderer {
            run_as: self.run_as.as_deref(),
            trigger_bin: &self.common.trigger_bin,
            spec_dir: &self.common.spec_dir,
            host_tz: &self.host_zone,
        })
    }

    fn check_host(&self) -> Vec<String> {
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

    fn lock(&self) -> Result<ApplyGuard, Failure> {
        Ok(Box::new(self.target.lock()?))
    }

    fn clean_temps(&self) -> Result<(), Failure> {
        self.target.clean_temps().map(|_| ())
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let bytes = self.target.read()?;
        let crontab = crontab::parse(&bytes);
        Ok(Snapshot {
            entries: crontab.entries(),
            state: Box::new(State { bytes, crontab }),
        })
    }

    fn install_conflicts(&self, _snapshot: &Snapshot, _plan: &Plan) -> Vec<String> {
        Vec::new()
    }

    /// Install the new bytes only when they differ from what was read.
    fn install(&self, snapshot: &Snapshot, plan: &Plan) -> Result<(), Failure> {
        let state: &State = backend::state_of(snapshot)?;
        let bytes = crontab::render_crontab(&state.crontab, plan);
        if bytes != state.bytes {
            self.target.install(&bytes)?;
        }
        Ok(())
    }

    fn follows(&self, entry: &InstalledEntry) -> Option<(PathBuf, usize)> {
        let (dir, idx) = crontab::gate_of(entry.line.as_deref()?)?;
        Some((PathBuf::from(dir), idx))
    }

    fn reported_next(&self, _snapshot: &Snapshot, _ats: &[usize]) -> BTreeMap<usize, String> {
        BTreeMap::new()
    }
}
