//! The operator config `cronix.yaml`: where it is found, its strict keys, and the effective settings
//! after command-line flags win over it.
//!
//! Reads one file; owns the defaults of every path. Must not resolve secrets (it holds references only).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{CrontabFormat, LogLevel, PathArgs};
use crate::core::scope::{self, ManifestSource};
use crate::error::Failure;

pub const DEFAULT_SPEC_DIR: &str = "/etc/cronix/jobs";
pub const DEFAULT_LOCK_DIR: &str = "/run/cronix";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cronix";
pub const DEFAULT_CRONTAB_PATH: &str = "/etc/cron.d/cronix";
pub const DEFAULT_RUN_AS: &str = "root";
pub const SYSTEM_CONFIG_PATH: &str = "/etc/cronix/cronix.yaml";
/// How long apply and prune wait for the apply lock unless the config says otherwise.
pub const DEFAULT_APPLY_LOCK_WAIT_SECONDS: u64 = 120;

/// The file as written by the operator. Every key is optional; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: Option<u32>,
    #[serde(default)]
    pub secret_refs: Vec<String>,
    pub spec_dir: Option<PathBuf>,
    pub lock_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub crontab_path: Option<PathBuf>,
    pub crontab_format: Option<CrontabFormat>,
    pub run_as: Option<String>,
    pub trigger_bin: Option<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub log_level: Option<LogLevel>,
    #[serde(default)]
    pub allow_http_hosts: Vec<String>,
    #[serde(default)]
    pub history: HistoryRetention,
    /// How long apply and prune wait for another apply's lock before giving up (default 120).
    pub apply_lock_wait_seconds: Option<u64>,
    /// Each app, its manifest source and the secret refs it may use (DESIGN §6, §7).
    #[serde(default)]
    pub manifest_sources: Vec<ManifestSource>,
}

/// How much run history the shim keeps per job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryRetention {
    /// Most runs kept per job.
    pub max_runs: usize,
    /// Runs older than this many days are dropped.
    pub max_age_days: u64,
}

impl Default for HistoryRetention {
    fn default() -> Self {
        HistoryRetention {
            max_runs: 1000,
            max_age_days: 90,
        }
    }
}

/// Why a config file was picked (what `cronix doctor` reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config FILE`.
    Flag,
    /// `$CRONIX_CONFIG`.
    Env,
    /// `~/.cronix/cronix.yaml`.
    Home,
    /// `/etc/cronix/cronix.yaml`.
    System,
    /// The config apply loaded, recorded in the job's spec file (the shim under cron).
    Spec,
    /// No file found: every setting is its default.
    #[default]
    Defaults,
}

impl ConfigSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Flag => "flag",
            ConfigSource::Env => "env",
            ConfigSource::Home => "home",
            ConfigSource::System => "system",
            ConfigSource::Spec => "spec",
            ConfigSource::Defaults => "defaults",
        }
    }

    /// How the source is named in messages.
    fn describe(self) -> &'static str {
        match self {
            ConfigSource::Flag => "given with --config",
            ConfigSource::Env => "named by $CRONIX_CONFIG",
            ConfigSource::Home => "found in $HOME",
            ConfigSource::System => "found in /etc/cronix",
            ConfigSource::Spec => "recorded in the job's spec file by apply",
            ConfigSource::Defaults => "not found",
        }
    }
}

/// A loaded config, the file it came from (None: no file found, all defaults) and why that file.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
    pub source: ConfigSource,
}

/// Largest config file accepted.
pub const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// Find and load the config: `--config`, then `$CRONIX_CONFIG`, `~/.cronix/cronix.yaml`,
/// `/etc/cronix/cronix.yaml`. A config named by `--config` or `$CRONIX_CONFIG` must exist; the other
/// two are used when they exist. Whichever is picked must pass the trust check (owned by root or the
/// running user, not group/other-writable, not a link): one that fails is refused, never skipped.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, Failure> {
    if let Some(path) = explicit {
        return load_named(path, ConfigSource::Flag);
    }
    if let Some(env) = std::env::var_os("CRONIX_CONFIG").filter(|v| !v.is_empty()) {
        return load_named(Path::new(&env), ConfigSource::Env);
    }
    let mut found = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        found.push((
            Path::new(&home).join(".cronix/cronix.yaml"),
            ConfigSource::Home,
        ));
    }
    found.push((PathBuf::from(SYSTEM_CONFIG_PATH), ConfigSource::System));
    for (path, source) in found {
        if let Some(config) = read_checked(&path, source, false)? {
            return Ok(Loaded {
                config,
                path: Some(path),
                source,
            });
        }
    }
    Ok(Loaded::default())
}

/// Load a config that must exist (`--config`, `$CRONIX_CONFIG`, the one a spec records).
pub fn load_named(path: &Path, source: ConfigSource) -> Result<Loaded, Failure> {
    let config = read_checked(path, source, true)?.unwrap_or_default();
    Ok(Loaded {
        config,
        path: Some(path.to_path_buf()),
        source,
    })
}

/// Read and parse one config file (None when it does not exist and need not). Relative paths inside
/// it are resolved against its directory.
fn read_checked(
    path: &Path,
    source: ConfigSource,
    must_exist: bool,
) -> Result<Option<Config>, Failure> {
    let refused = |why: String| {
        Failure::invalid(format!(
            "config {} ({}) {why}",
            path.display(),
            source.describe()
        ))
    };
    let bytes = match crate::shell::trusted_path::read_if_exists(path, MAX_CONFIG_LEN) {
        Ok(Some(bytes)) => bytes,
        Ok(None) if must_exist => {
            return Err(refused(
                "does not exist; create it, or fix the path given with --config or $CRONIX_CONFIG"
                    .to_string(),
            ));
        }
        Ok(None) => return Ok(None),
        Err(why) => return Err(refused(why)),
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| refused("is not UTF-8 text; write it as YAML".to_string()))?;
    let config =
        parse(text).map_err(|msg| Failure::invalid(format!("config {}: {msg}", path.display())))?;
    Ok(Some(
        config.resolved_against(path.parent().unwrap_or(Path::new("."))),
    ))
}

/// Read and parse one config file that must exist (checked like every config).
pub fn read(path: &Path) -> Result<Config, Failure> {
    load_named(path, ConfigSource::Flag).map(|loaded| loaded.config)
}

/// Parse config text (strict keys, `version` must be 1 when present).
pub fn parse(text: &str) -> Result<Config, String> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let config: Config = serde_yaml::from_str(text).map_err(|e| {
        format!("{e}; the keys are version, secret_refs, spec_dir, lock_dir, state_dir, crontab_path, crontab_format, run_as, trigger_bin, env_file, log_level, allow_http_hosts, history, apply_lock_wait_seconds, manifest_sources")
    })?;
    if let Some(v) = config.version
        && v != 1
    {
        return Err(format!("version {v} is not supported; write `version: 1`"));
    }
    if config.history.max_runs == 0 {
        return Err("history.max_runs must be at least 1".into());
    }
    if config.history.max_age_days == 0 {
        return Err(
            "history.max_age_days must be at least 1 (0 would drop every run at once); remove the key \
             for the default of 90"
                .into(),
        );
    }
    scope::check_sources(&config.manifest_sources)?;
    Ok(config)
}

impl Config {
    /// Make relative paths absolute against `base` (the config file's directory), so a demo config
    /// can name `./demo/crontab` and the shim, started by cron elsewhere, finds the same files.
    fn resolved_against(mut self, base: &Path) -> Config {
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        for p in [
            &mut self.spec_dir,
            &mut self.lock_dir,
            &mut self.state_dir,
            &mut self.crontab_path,
            &mut self.trigger_bin,
            &mut self.env_file,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = lexically_normal(&base.join(&*p));
            }
        }
        for source in &mut self.manifest_sources {
            let plain_path = !source.url.contains("://") && !source.url.starts_with("file:");
            if plain_path && Path::new(&source.url).is_relative() {
                source.url = lexically_normal(&base.join(&source.url))
                    .display()
                    .to_string();
            }
        }
        self
    }
}

/// `path` with `.` and `dir/..` pairs removed, without touching the file system (no symlinks resolved).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl Config {
    /// The operator's secret references: the `--secret-ref` flags when any are given (they replace,
    /// not extend, the config's), else the config's `secret_refs`.
    pub fn operator_secret_refs(&self, flags: &[String]) -> Vec<String> {
        if flags.is_empty() {
            self.secret_refs.clone()
        } else {
            flags.to_vec()
        }
    }
}

/// Effective state paths: flags win over the config, which wins over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    pub spec_dir: PathBuf,
    pub lock_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl StatePaths {
    pub fn resolve(flags: &PathArgs, config: &Config) -> StatePaths {
        let pick = |flag: &Option<PathBuf>, conf: &Option<PathBuf>, default: &str| {
            let p = flag
                .clone()
                .or_else(|| conf.clone())
                .unwrap_or_else(|| PathBuf::from(default));
            std::path::absolute(&p).unwrap_or(p)
        };
        StatePaths {
            spec_dir: pick(&flags.spec_dir, &config.spec_dir, DEFAULT_SPEC_DIR),
            lock_dir: pick(&flags.lock_dir, &config.lock_dir, DEFAULT_LOCK_DIR),
            state_dir: pick(&flags.state_dir, &config.state_dir, DEFAULT_STATE_DIR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_that_names_it() {
        let err = parse("version: 1\nspec_dri: /x\n").unwrap_err();
        assert!(err.contains("spec_dri"), "{err}");
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn max_age_days_zero_is_refused() {
        let err = parse("history:\n  max_age_days: 0\n").unwrap_err();
        assert!(err.contains("max_age_days must be at least 1"), "{err}");
    }

    #[test]
    fn manifest_sources_are_strict_and_checked() {
        let config = parse(
            "manifest_sources:\n  - app: billing\n    url: https://b.example/m\n    secret_refs: [env:B]\n",
        )
        .unwrap();
        assert_eq!(config.manifest_sources[0].app, "billing");
        assert!(
            parse("manifest_sources:\n  - app: billing\n    url: x\n    secret_refs: [env:B]\n    extra: 1\n")
                .unwrap_err()
                .contains("extra")
        );
        assert!(
            parse("manifest_sources:\n  - app: billing\n    url: x\n    secret_refs: []\n")
                .unwrap_err()
                .contains("secret_refs")
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        assert!(parse("version: 2\n").unwrap_err().contains("version: 1"));
    }

    #[test]
    fn flags_win_over_config_and_defaults_fill_the_rest() {
        let config = Config {
            lock_dir: Some("/cfg/locks".into()),
            ..Config::default()
        };
        let flags = PathArgs {
            spec_dir: Some("/flag/jobs".into()),
            ..PathArgs::default()
        };
        let paths = StatePaths::resolve(&flags, &config);
        assert_eq!(paths.spec_dir, PathBuf::from("/flag/jobs"));
        assert_eq!(paths.lock_dir, PathBuf::from("/cfg/locks"));
        assert_eq!(paths.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    }

    #[test]
    fn relative_paths_are_resolved_against_the_config_directory() {
        let config = parse("spec_dir: demo/jobs\n")
            .unwrap()
            .resolved_against(Path::new("/etc/x"));
        assert_eq!(config.spec_dir, Some(PathBuf::from("/etc/x/demo/jobs")));
    }
}
