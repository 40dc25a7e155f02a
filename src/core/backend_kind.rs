//! Which scheduler backend a reconciler command drives: the one list of built backends, their
//! names, and the parse from a name (the `--backend NAME` flag or the positional `cronix <command>
//! <backend>`).
//!
//! Pure: a name in, a kind or a usage message out. It must not know how a backend reads or writes;
//! the shell matches on the kind.

use std::fmt;

/// A scheduler backend this build can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum BackendKind {
    /// The system crontab (a cron.d file, /etc/crontab, a user crontab file or crontab(1)).
    #[default]
    Crontab,
    /// systemd timer and service units (`cronix-<app>-<job>-<idx>.timer` + `.service`).
    SystemdTimer,
    /// Kubernetes CronJobs and spec ConfigMaps in one namespace.
    Kubernetes,
    /// The cronix-owned entries of `crons` in a `vercel.json` (Vercel Cron fires them).
    Vercel,
}

/// Every backend built into this version, in the order help and errors list them.
pub const BUILT: &[BackendKind] = &[
    BackendKind::Crontab,
    BackendKind::SystemdTimer,
    BackendKind::Kubernetes,
    BackendKind::Vercel,
];

/// Backend names the reference tool knows that this version does not build yet.
const NOT_BUILT: &[&str] = &[];

impl BackendKind {
    /// The name on the command line, in logs and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Crontab => "crontab",
            BackendKind::SystemdTimer => "systemd-timer",
            BackendKind::Kubernetes => "kubernetes",
            BackendKind::Vercel => "vercel",
        }
    }

    /// The backend called `name`; an unknown or unbuilt name is a usage message listing the built ones.
    pub fn parse(name: &str) -> Result<BackendKind, String> {
        if let Some(kind) = BUILT.iter().find(|k| k.name() == name) {
            return Ok(*kind);
        }
        if NOT_BUILT.contains(&name) {
            return Err(format!(
                "backend {name} is not built in this version; built: {}",
                built_names()
            ));
        }
        Err(format!(
            "unknown backend {name:?}; built: {} (give it as --backend NAME or right after the command)",
            built_names()
        ))
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The built backends' names, comma-separated.
pub fn built_names() -> String {
    BUILT
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a word on the command line names a backend (built or not): `show crontab x.y` reads
/// `crontab` as the backend, never as the job. Job ids always hold a dot; backend names never do.
pub fn is_backend_name(word: &str) -> bool {
    BUILT.iter().any(|k| k.name() == word) || NOT_BUILT.contains(&word)
}

/// The static name of a backend word, built or not (`None` for any other word).
pub fn known_name(word: &str) -> Option<&'static str> {
    BUILT
        .iter()
        .map(|k| k.name())
        .chain(NOT_BUILT.iter().copied())
        .find(|n| *n == word)
}

/// The backend chosen by the `--backend` flag and the positional form (both optional; the default is
/// crontab). Both given must agree.
pub fn select(flag: Option<&str>, positional: Option<&str>) -> Result<BackendKind, String> {
    match (flag, positional) {
        (Some(f), Some(p)) if f != p => Err(format!(
            "backend given twice, as --backend {f} and as {p}; give it once"
        )),
        (Some(name), _) | (None, Some(name)) => BackendKind::parse(name),
        (None, None) => Ok(BackendKind::default()),
    }
}

/// Split a command's leading words into the backend (when the first names one) and the rest:
/// `["crontab", "billing.settle"]` → (Some("crontab"), ["billing.settle"]).
pub fn split_positional(words: &[String]) -> (Option<&str>, &[String]) {
    match words.split_first() {
        Some((first, rest)) if is_backend_name(first) => (Some(first.as_str()), rest),
        _ => (None, words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_backend_parses_from_its_name() {
        for kind in BUILT {
            assert_eq!(BackendKind::parse(kind.name()), Ok(*kind));
        }
    }

    #[test]
    fn an_unknown_backend_names_the_built_ones() {
        assert_eq!(
            BackendKind::parse("systemd-timer"),
            Ok(BackendKind::SystemdTimer)
        );
        let err = BackendKind::parse("nomad").unwrap_err();
        assert!(
            err.contains("\"nomad\"") && err.contains("built: crontab, systemd-timer"),
            "{err}"
        );
    }

    #[test]
    fn selection_defaults_to_crontab_and_refuses_two_different_names() {
        assert_eq!(select(None, None), Ok(BackendKind::Crontab));
        assert_eq!(
            select(Some("crontab"), Some("crontab")),
            Ok(BackendKind::Crontab)
        );
        assert!(select(Some("crontab"), Some("systemd-timer")).is_err());
    }

    #[test]
    fn a_first_word_that_names_a_backend_is_the_backend() {
        let words = vec!["crontab".to_string(), "billing.settle".to_string()];
        assert_eq!(split_positional(&words), (Some("crontab"), &words[1..]));
        let job = vec!["billing.settle".to_string()];
        assert_eq!(split_positional(&job), (None, &job[..]));
        let systemd = vec!["systemd-timer".to_string()];
        assert_eq!(split_positional(&systemd).0, Some("systemd-timer"));
    }
}
