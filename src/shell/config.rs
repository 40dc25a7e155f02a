//! The operator config `cronix.yaml`: where it is found, its strict keys, and the effective settings
//! after command-line flags win over it.
//!
//! Reads one file; owns the defaults of every path. Must not resolve secrets (it holds references only).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{CrontabFormat, LogLevel, PathArgs};
use crate::core::alert::AlertTarget;
use crate::core::schedule::Schedule;
use crate::error::Failure;

pub const DEFAULT_SPEC_DIR: &str = "/etc/cronix/jobs";
pub const DEFAULT_LOCK_DIR: &str = "/run/cronix";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cronix";
pub const DEFAULT_CRONTAB_PATH: &str = "/etc/cron.d/cronix";
pub const DEFAULT_RUN_AS: &str = "root";
pub const SYSTEM_CONFIG_PATH: &str = "/etc/cronix/cronix.yaml";

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
    /// This host's name in alerts and metrics (default: the host name).
    pub host_id: Option<String>,
    /// Who is told when a job fails, recovers or misses fires.
    #[serde(default)]
    pub alerts: Vec<AlertTarget>,
    /// Prometheus textfile the shim keeps current.
    pub metrics: Option<MetricsConfig>,
    /// Run `cronix check` this often from an owned crontab entry (`5m`, `1h`; as `@every`).
    pub check_every: Option<String>,
}

/// `metrics:` — where the shim writes the Prometheus textfile after every fire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Absolute path of a `*.prom` file, rewritten atomically (node_exporter's textfile collector).
    pub textfile: PathBuf,
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

/// A loaded config and the file it came from (None: no file found, all defaults).
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
}

/// Find and load the config: `--config`, then `$CRONIX_CONFIG`, `~/.cronix/cronix.yaml`,
/// `/etc/cronix/cronix.yaml` (the first that exists). An explicit `--config` that is missing is an error.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, Failure> {
    if let Some(path) = explicit {
        return read(path).map(|config| Loaded {
            config,
            path: Some(path.to_path_buf()),
        });
    }
    for path in candidates() {
        if path.exists() {
            let config = read(&path)?;
            return Ok(Loaded {
                config,
                path: Some(path),
            });
        }
    }
    Ok(Loaded::default())
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(env) = std::env::var_os("CRONIX_CONFIG").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(env));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        out.push(Path::new(&home).join(".cronix/cronix.yaml"));
    }
    out.push(PathBuf::from(SYSTEM_CONFIG_PATH));
    out
}

/// Read and parse one config file. Relative paths inside it are resolved against its directory.
pub fn read(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::invalid(format!(
            "config {}: cannot read it ({e}); fix the path given with --config or $CRONIX_CONFIG",
            path.display()
        ))
    })?;
    let config = parse(&text)
        .map_err(|msg| Failure::invalid(format!("config {}: {msg}", path.display())))?;
    Ok(config.resolved_against(path.parent().unwrap_or(Path::new("."))))
}

/// Parse config text (strict keys, `version` must be 1 when present).
pub fn parse(text: &str) -> Result<Config, String> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let config: Config = serde_yaml::from_str(text).map_err(|e| {
        format!("{e}; the keys are version, secret_refs, spec_dir, lock_dir, state_dir, crontab_path, crontab_format, run_as, trigger_bin, env_file, log_level, allow_http_hosts, history, host_id, alerts, metrics, check_every")
    })?;
    if let Some(v) = config.version
        && v != 1
    {
        return Err(format!("version {v} is not supported; write `version: 1`"));
    }
    if config.history.max_runs == 0 {
        return Err("history.max_runs must be at least 1".into());
    }
    check_observability(&config)?;
    Ok(config)
}

/// The keys of §8a: alert targets, the check interval, the host id and the metrics textfile.
fn check_observability(config: &Config) -> Result<(), String> {
    for (n, target) in config.alerts.iter().enumerate() {
        target.check(n)?;
    }
    if let Some(every) = &config.check_every {
        check_every_schedule(every).map_err(|why| format!("check_every {every:?}: {why}"))?;
    }
    if let Some(host) = &config.host_id
        && (host.is_empty()
            || host.len() > 253
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    {
        return Err(format!(
            "host_id {host:?}: use 1..253 letters, digits, dots, dashes or underscores"
        ));
    }
    if let Some(metrics) = &config.metrics {
        let name = metrics.textfile.file_name().and_then(|n| n.to_str());
        if name.is_none_or(|n| n.starts_with('.') || !n.ends_with(".prom")) {
            return Err(format!(
                "metrics.textfile {}: name a `*.prom` file (node_exporter's textfile collector reads \
                 only those)",
                metrics.textfile.display()
            ));
        }
    }
    Ok(())
}

/// The schedule `check_every` runs on: `@every N` that cron can repeat exactly.
pub fn check_every_schedule(every: &str) -> Result<Schedule, String> {
    Schedule::parse(&format!("@every {}", every.trim())).map_err(|e| e.to_string())
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
        if let Some(metrics) = self.metrics.as_mut()
            && metrics.textfile.is_relative()
        {
            metrics.textfile = lexically_normal(&base.join(&metrics.textfile));
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
