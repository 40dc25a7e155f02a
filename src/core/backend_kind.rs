//! Which scheduler backend a reconciler command drives: the one list of built backends and their
//! names.
//!
//! Pure: a name in, a kind or a usage message out. It must not know how a backend reads or writes;
//! `shell::backend::open` matches on the kind.

/// A scheduler backend this build can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum BackendKind {
    /// The system crontab (a cron.d file, /etc/crontab, a user crontab file or crontab(1)).
    #[default]
    Crontab,
    /// systemd timer and service units.
    SystemdTimer,
}

/// Every backend built into this version.
pub const BUILT: &[BackendKind] = &[BackendKind::Crontab, BackendKind::SystemdTimer];

impl BackendKind {
    /// The name on the command line, in logs and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Crontab => "crontab",
            BackendKind::SystemdTimer => "systemd-timer",
        }
    }

    /// The backend called `name`.
    pub fn parse(name: &str) -> Result<BackendKind, String> {
        BUILT.iter().find(|k| k.name() == name).copied().ok_or_else(|| {
            let names: Vec<&str> = BUILT.iter().map(|k| k.name()).collect();
            format!("unknown backend {name:?}; built: {}", names.join(", "))
        })
    }
}
