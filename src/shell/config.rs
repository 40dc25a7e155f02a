//! The operator config `cronix.yaml`: where it is found, its strict keys, and the effective settings
//! after command-line flags win over it.
//!
//! Reads one file; owns the defaults of every path. Must not resolve secrets (it holds references only).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::core::alert::AlertTarget;
use crate::core::global_lock;
use crate::core::schedule::Schedule;
use crate::core::scope::{self, ManifestSource};
use crate::core::secret::SecretRef;
use crate::error::Failure;
use crate::settings::{CrontabFormat, LogLevel, PathFlags};

pub const DEFAULT_SPEC_DIR: &str = "/etc/cronix/jobs";
pub const DEFAULT_LOCK_DIR: &str = "/run/cronix";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cronix";
pub const DEFAULT_CRONTAB_PATH: &str = "/etc/cron.d/cronix";
pub const DEFAULT_RUN_AS: &str = "root";
pub const DEFAULT_SYSTEMD_UNIT_DIR: &str = "/etc/systemd/system";
pub const DEFAULT_SYSTEMD_CREDSTORE_DIR: &str = "/etc/credstore.encrypted";
pub const SYSTEM_CONFIG_PATH: &str = "/etc/cronix/cronix.yaml";
/// The programs cronix runs (as root, during apply, prune and doctor), by absolute path: never looked
/// up in `PATH`, never named by the environment.
pub const DEFAULT_SYSTEMCTL_BIN: &str = "/usr/bin/systemctl";
pub const DEFAULT_SYSTEMD_CREDS_BIN: &str = "/usr/bin/systemd-creds";
pub const DEFAULT_CRONTAB_BIN: &str = "/usr/bin/crontab";
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
    /// What names this host in logs, history, global locks, alert events and metric labels (default:
    /// the host name).
    pub host_id: Option<String>,
    #[serde(default)]
    pub locks: Locks,
    /// Where the systemd-timer backend writes its units.
    pub systemd_unit_dir: Option<PathBuf>,
    /// Where `cred:NAME` references find their sealed `NAME.cred` files.
    pub systemd_credstore_dir: Option<PathBuf>,
    /// systemd-timer backend: `Persistent=true`, so a fire missed while the host was down runs once
    /// at boot (off by default; cron has no catch-up).
    #[serde(default)]
    pub systemd_catch_up: bool,
    /// Absolute path of `systemctl` (default /usr/bin/systemctl); checked like every binary root runs.
    pub systemctl_bin: Option<PathBuf>,
    /// Absolute path of `systemd-creds` (default /usr/bin/systemd-creds).
    pub systemd_creds_bin: Option<PathBuf>,
    /// Absolute path of `crontab(1)` (default /usr/bin/crontab), run for `--crontab-user`.
    pub crontab_bin: Option<PathBuf>,
    /// Who is told when a job fails, recovers or misses fires.
    #[serde(default)]
    pub alerts: Vec<AlertTarget>,
    /// Prometheus textfile the shim keeps current.
    pub metrics: Option<MetricsConfig>,
    /// Run `cronix check` this often from an owned crontab entry (`5m`, `1h`; as `@every`).
    pub check_every: Option<String>,
    /// Permission bits of spec files: `"0600"` (default), `"0640"` or `"0644"` (`spec_mode_bits`).
    pub spec_mode: Option<String>,
    /// The `http://host:port` proxy for every HTTP peer but a loopback one (the environment's proxy
    /// variables are ignored).
    pub http_proxy: Option<String>,
    /// A PEM bundle of CA certificates to trust for https:// peers instead of the system's (the
    /// environment's `SSL_CERT_FILE`/`SSL_CERT_DIR` are ignored).
    pub tls_ca_file: Option<PathBuf>,
    /// Traces of `trigger --otel` fires (OTLP/HTTP); see docs/traces.md.
    pub otel: Option<OtelConfig>,
    /// The backends `global-status` queries, each with its own flags (the reference tool's
    /// `~/.cronix/config.yaml` list); without it `global-status` shows the one target of the flags.
    #[serde(default)]
    pub backends: Vec<BackendEntry>,
    /// The kubernetes backend's settings (each under the flag of the same name).
    #[serde(default)]
    pub kubernetes: KubernetesConfig,
    /// The vercel backend's settings (each under the flag of the same name).
    #[serde(default)]
    pub vercel: VercelConfig,
}

/// Config `kubernetes:`: namespace, image, kubeconfig, in_cluster, secret_name (the flags
/// `--k8s-namespace`, `--k8s-image`, `--kubeconfig`, `--in-cluster`, `--k8s-secret-name`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    #[serde(default)]
    pub in_cluster: bool,
    pub secret_name: Option<String>,
    /// `imagePullPolicy` of the pods (default `IfNotPresent`).
    pub image_pull_policy: Option<String>,
}

/// Config `vercel:`: json_path, trigger_prefix (the flags `--vercel-json-path`,
/// `--vercel-trigger-prefix`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VercelConfig {
    pub json_path: Option<PathBuf>,
    pub trigger_prefix: Option<String>,
}

/// One entry of `backends:` — the reference's shape (`name`, `type` and the flags of that backend
/// as keys), plus cronix's own target keys. Kubernetes and AWS keys are accepted so the reference's
/// file loads; those backends are not built, and `global-status` shows them as errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub crontab_path: Option<PathBuf>,
    pub crontab_format: Option<CrontabFormat>,
    pub crontab_user: Option<String>,
    pub run_as: Option<String>,
    pub trigger_bin: Option<PathBuf>,
    /// systemd-timer: the unit dir (`systemd_unit_dir` is the same key, as cronix names it).
    #[serde(alias = "systemd_unit_dir")]
    pub unit_dir: Option<PathBuf>,
    pub spec_dir: Option<PathBuf>,
    pub lock_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub namespace: Option<String>,
    pub kubeconfig: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
    pub image: Option<String>,
    pub region: Option<String>,
    pub schedule_group: Option<String>,
    pub target_arn: Option<String>,
    pub role_arn: Option<String>,
}

/// The backend types a `backends:` entry may name (the reference's list).
pub const BACKEND_TYPES: &[&str] = &["crontab", "systemd-timer", "kubernetes", "aws-scheduler"];

/// Each entry has a unique name and a known type, and its flags fit that type.
fn check_backends(entries: &[BackendEntry]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for (n, entry) in entries.iter().enumerate() {
        let at = format!("backends[{n}]");
        if entry.name.trim().is_empty() {
            return Err(format!(
                "{at}: name is required (it labels the entry's rows)"
            ));
        }
        if !seen.insert(entry.name.as_str()) {
            return Err(format!(
                "{at}: the name {:?} is given twice; give each backend its own name",
                entry.name
            ));
        }
        if !BACKEND_TYPES.contains(&entry.kind.as_str()) {
            return Err(format!(
                "{at} ({}): type {:?} is not one of {}",
                entry.name,
                entry.kind,
                BACKEND_TYPES.join(", ")
            ));
        }
        let crontab_keys = entry.crontab_path.is_some()
            || entry.crontab_format.is_some()
            || entry.crontab_user.is_some()
            || entry.run_as.is_some();
        if entry.kind != "crontab" && crontab_keys {
            return Err(format!(
                "{at} ({}): crontab_path, crontab_format, crontab_user and run_as belong to type \
                 crontab; remove them or change the type",
                entry.name
            ));
        }
        if entry.kind != "systemd-timer" && entry.unit_dir.is_some() {
            return Err(format!(
                "{at} ({}): unit_dir belongs to type systemd-timer; remove it or change the type",
                entry.name
            ));
        }
        if entry.crontab_path.is_some() && entry.crontab_user.is_some() {
            return Err(format!(
                "{at} ({}): give crontab_path or crontab_user, not both",
                entry.name
            ));
        }
    }
    Ok(())
}

/// `otel:`: where and how `trigger --otel` exports each fire's trace. Wins over the `OTEL_*`
/// variables; the headers and the endpoint come from one place (a header meant for the config's
/// collector is never sent to an endpoint from the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtelConfig {
    /// The OTLP/HTTP base URL (`/v1/traces` is appended unless the path ends with it).
    pub endpoint: Option<String>,
    /// Header name to secret reference (`env:NAME`, `file:/path`, `cred:NAME`), never the value.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `service.name` of the traces (default `cronix`).
    pub service_name: Option<String>,
    /// More resource attributes (`deployment.environment: prod`).
    #[serde(default)]
    pub resource_attributes: std::collections::BTreeMap<String, String>,
    /// The export's deadline, milliseconds (default 2000, at most 10000).
    pub timeout_ms: Option<u64>,
    /// `apply` writes `--otel` on every entry it renders (crontab lines, systemd units).
    #[serde(default)]
    pub render_in_entries: bool,
}

/// Default and largest export deadline, milliseconds.
pub const DEFAULT_OTEL_TIMEOUT_MS: u64 = 2_000;
pub const MAX_OTEL_TIMEOUT_MS: u64 = 10_000;

/// Spec files are readable by their owner only unless the operator says otherwise: they hold the
/// job's URL, headers and body, which may carry credentials.
pub const DEFAULT_SPEC_MODE: u32 = 0o600;

/// The bits of a `spec_mode` value: `0600`, `0640` or `0644` (never writable by others).
pub fn spec_mode_bits(text: &str) -> Result<u32, String> {
    match text.trim() {
        "0600" | "600" => Ok(0o600),
        "0640" | "640" => Ok(0o640),
        "0644" | "644" => Ok(0o644),
        other => Err(format!(
            "spec_mode {other:?}: use \"0600\" (the default: root only), \"0640\" (and the file's \
             group) or \"0644\" (every user may read the job's URL, headers and body)"
        )),
    }
}

impl Config {
    /// The configured spec file mode (checked by `parse`), else `DEFAULT_SPEC_MODE`.
    pub fn spec_mode(&self) -> u32 {
        self.spec_mode
            .as_deref()
            .and_then(|m| spec_mode_bits(m).ok())
            .unwrap_or(DEFAULT_SPEC_MODE)
    }
}

/// `metrics:` — where the shim writes the Prometheus textfile after every fire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Absolute path of a `*.prom` file, rewritten atomically (node_exporter's textfile collector).
    pub textfile: PathBuf,
}

/// Lock backends beyond this host's flock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locks {
    /// The Redis that `concurrency_scope: global` jobs claim instants and take leases in.
    pub redis: Option<RedisLock>,
}

/// `locks.redis`: where the cluster-wide claims and leases live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisLock {
    /// `host:port`, a `redis://` / `rediss://` URL (no credentials in it), or `unix:///path`.
    pub addr: String,
    /// TLS to a `host:port` or `redis://` address (`rediss://` implies it); the server's
    /// certificate is verified against `ca_file`, or else the system bundle at its fixed path.
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA(s) that sign the server's certificate (replaces the system bundle).
    pub ca_file: Option<PathBuf>,
    /// Accept a Redis without a password for global scope (any client of it can then silence the
    /// jobs); off by default.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    pub db: Option<i64>,
    pub username: Option<String>,
    /// A secret reference (`env:NAME`, `file:/path`), never the password itself.
    pub password_ref: Option<String>,
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    #[serde(default)]
    pub on_unavailable: OnUnavailable,
    /// The deadline of the connection (name look-up, connect, TLS, login) and of each exchange with
    /// Redis, milliseconds.
    #[serde(default = "default_redis_timeout")]
    pub timeout_ms: u64,
}

/// What a global-scope fire does when Redis cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnavailable {
    /// Send nothing, exit 3: no double delivery is ever possible.
    #[default]
    Fail,
    /// Fall back to this host's lock, with a warning in the log and history.
    Host,
}

fn default_key_prefix() -> String {
    global_lock::DEFAULT_KEY_PREFIX.to_string()
}

fn default_redis_timeout() -> u64 {
    global_lock::DEFAULT_TIMEOUT_MS
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
///
/// Every config, whatever named it, is also walked from `/` (`trusted_path::read_walked_if_exists`):
/// every directory and link on the way must belong to root or the running user (the shim follows the
/// path apply records in spec files, so it must not lead through a user's directory). So `sudo -E cronix`
/// with a user's `HOME` refuses that user's `~/.cronix/cronix.yaml` (their home is theirs, and a
/// `~/.cronix` link could point root at any root-owned file) instead of loading it or recording its
/// path in specs; without such a file it goes on to `/etc/cronix/cronix.yaml`.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, Failure> {
    if let Some(path) = explicit {
        return load_named(path, ConfigSource::Flag);
    }
    if let Some(env) = crate::env::config_file() {
        return load_named(&env, ConfigSource::Env);
    }
    let mut found = Vec::new();
    if let Some(home) = crate::env::home() {
        found.push((home.join(".cronix/cronix.yaml"), ConfigSource::Home));
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

/// The reference tool's backends file (`~/.cronix/config.yaml`, else `/etc/cronix/config.yaml`), read
/// and trusted like every config, for `global-status` when the cronix config lists no `backends:`.
pub fn load_reference_backends() -> Result<Option<Loaded>, Failure> {
    let mut found = Vec::new();
    if let Some(home) = crate::env::home() {
        found.push((home.join(".cronix/config.yaml"), ConfigSource::Home));
    }
    found.push((PathBuf::from(REFERENCE_BACKENDS_PATH), ConfigSource::System));
    for (path, source) in found {
        if let Some(config) = read_checked(&path, source, false)? {
            return Ok(Some(Loaded {
                config,
                path: Some(path),
                source,
            }));
        }
    }
    Ok(None)
}

/// Where the reference tool keeps its system-wide backends list.
pub const REFERENCE_BACKENDS_PATH: &str = "/etc/cronix/config.yaml";

/// Load a config that must exist (`--config`, `$CRONIX_CONFIG`, the one a spec records).
pub fn load_named(path: &Path, source: ConfigSource) -> Result<Loaded, Failure> {
    let config = read_checked(path, source, true)?.unwrap_or_default();
    Ok(Loaded {
        config,
        path: Some(path.to_path_buf()),
        source,
    })
}

/// Read and parse one config file (None when it does not exist and need not), walked from `/`. Relative paths inside it are resolved against its directory.
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
    let read = crate::shell::trusted_path::read_walked_if_exists(path, MAX_CONFIG_LEN);
    let bytes = match read {
        Ok(Some(bytes)) => bytes,
        Ok(None) if must_exist => {
            return Err(refused(
                "does not exist; create it, or fix the path given with --config or $CRONIX_CONFIG"
                    .to_string(),
            ));
        }
        Ok(None) => return Ok(None),
        Err(why) if source != ConfigSource::Home => {
            return Err(refused(format!(
                "{why}; a config (and the path apply records in spec files for later fires) is read \
                 only along paths no other user can change: keep it in a directory only you (or root) \
                 can write, for root under /etc/cronix"
            )));
        }
        Err(why) => {
            return Err(refused(format!(
                "{why}; a config found through $HOME is read only along paths no other user can \
                 change (with `sudo -E`, HOME is the invoking user's): give --config, or run sudo \
                 without -E"
            )));
        }
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| refused("is not UTF-8 text; write it as YAML".to_string()))?;
    let config =
        parse(text).map_err(|msg| Failure::invalid(format!("config {}: {msg}", path.display())))?;
    Ok(Some(
        config.resolved_against(path.parent().unwrap_or(Path::new("."))),
    ))
}

/// What is wrong with a config that does not deserialize, without quoting the file: the YAML
/// library's own message echoes values (and a "key" may be the first line of any root-only file that
/// `--config` or `$CRONIX_CONFIG` names), so only the key path, a key name that looks like one, the
/// expected type and the position are kept.
fn yaml_problem(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    let at = e
        .location()
        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    let is_key = |k: &str| {
        !k.is_empty()
            && k.len() <= 40
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let (path, rest) = match text.split_once(": ") {
        Some((p, r))
            if p.len() <= 120
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.[]".contains(&b)
                }) =>
        {
            (format!("{p}: "), r)
        }
        _ => (String::new(), text.as_str()),
    };
    let quoted = |prefix: &str| {
        rest.strip_prefix(prefix)
            .and_then(|r| r.split_once('`'))
            .map(|(name, _)| name)
    };
    let expected = rest
        .rsplit_once(", expected ")
        .map(|(_, e)| e.split(" at line ").next().unwrap_or(e))
        .filter(|e| e.len() <= 300 && !e.contains('"'))
        .map(|e| format!(", expected {e}"))
        .unwrap_or_default();
    let what = if let Some(name) = quoted("unknown field `") {
        if is_key(name) {
            format!("unknown key `{name}`")
        } else {
            "a key that is not a cronix key (not quoted: the file may not be a config at all)"
                .into()
        }
    } else if let Some(name) = quoted("missing field `") {
        format!("missing key `{}`", if is_key(name) { name } else { "?" })
    } else if rest.starts_with("invalid type") {
        format!("a value of the wrong type{expected}")
    } else if rest.starts_with("invalid value") || rest.starts_with("unknown variant") {
        format!("a value that is not allowed{expected}")
    } else if rest.starts_with("duplicate field") {
        "a key given twice".into()
    } else {
        "not a YAML mapping of cronix keys".into()
    };
    format!("{path}{what}{at}")
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
        format!("{}; the keys are version, secret_refs, spec_dir, lock_dir, state_dir, crontab_path, crontab_format, run_as, trigger_bin, env_file, log_level, allow_http_hosts, history, apply_lock_wait_seconds, manifest_sources, host_id, locks, alerts, metrics, check_every, spec_mode, systemd_unit_dir, systemd_credstore_dir, systemd_catch_up, systemctl_bin, systemd_creds_bin, crontab_bin, http_proxy, tls_ca_file, backends, otel", yaml_problem(&e))
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
    if let Some(id) = &config.host_id {
        global_lock::check_host_id(id)?;
    }
    if let Some(redis) = &config.locks.redis {
        check_redis(redis).map_err(|e| format!("locks.redis: {e}"))?;
    }
    check_observability(&config)?;
    if let Some(otel) = &config.otel {
        check_otel(otel).map_err(|e| format!("otel: {e}"))?;
    }
    check_backends(&config.backends)?;
    for (key, bin) in [
        ("systemctl_bin", &config.systemctl_bin),
        ("systemd_creds_bin", &config.systemd_creds_bin),
        ("crontab_bin", &config.crontab_bin),
    ] {
        if let Some(bin) = bin
            && !bin.is_absolute()
        {
            return Err(format!(
                "{key} {}: not an absolute path; give the program's full path (cronix never searches PATH)",
                bin.display()
            ));
        }
    }
    if let Some(mode) = &config.spec_mode {
        spec_mode_bits(mode)?;
    }
    if let Some(proxy) = &config.http_proxy {
        crate::core::request_rules::check_proxy_url(proxy)
            .map_err(|why| format!("http_proxy: {why}"))?;
    }
    Ok(config)
}

fn check_redis(redis: &RedisLock) -> Result<(), String> {
    let endpoint = global_lock::parse_endpoint(&redis.addr)?;
    if redis.tls && matches!(endpoint.target, global_lock::Target::Unix(_)) {
        return Err("tls: true does not apply to a unix:// socket; remove one".into());
    }
    if let Some(ca) = &redis.ca_file
        && !(redis.tls || endpoint.tls)
    {
        return Err(format!(
            "ca_file {} is set but the connection is not TLS; add tls: true or use rediss://",
            ca.display()
        ));
    }
    if let Some(ca) = &redis.ca_file
        && !ca.is_absolute()
    {
        return Err(format!("ca_file {}: write an absolute path", ca.display()));
    }
    if let (Some(_), Some(_)) = (endpoint.db, redis.db) {
        return Err("the db is given twice (in addr's path and in db); keep one".into());
    }
    if redis.db.is_some_and(|db| !(0..=1_000_000).contains(&db)) {
        return Err("db must be a database number, 0 or more".into());
    }
    global_lock::check_key_prefix(&redis.key_prefix)?;
    if !(50..=10_000).contains(&redis.timeout_ms) {
        return Err(format!(
            "timeout_ms {} is out of range; use 50..10000 (a fire must never hang on Redis)",
            redis.timeout_ms
        ));
    }
    if let Some(name) = &redis.username
        && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err("username must be printable characters without spaces".into());
    }
    if let Some(reference) = &redis.password_ref {
        check_password_ref(reference)?;
    }
    Ok(())
}

fn check_otel(otel: &OtelConfig) -> Result<(), String> {
    if let Some(endpoint) = &otel.endpoint {
        let url = url::Url::parse(endpoint).map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "endpoint {endpoint:?}: write an http:// or https:// URL with a host"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "endpoint: no credentials in the URL; give them as headers (secret references)"
                    .into(),
            );
        }
    }
    for (name, reference) in &otel.headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("headers: {name:?} is not an HTTP header name"));
        }
        check_secret_ref(reference).map_err(|e| format!("headers.{name}: {e}"))?;
    }
    if otel
        .timeout_ms
        .is_some_and(|ms| !(1..=MAX_OTEL_TIMEOUT_MS).contains(&ms))
    {
        return Err(format!(
            "timeout_ms is out of range; use 1..{MAX_OTEL_TIMEOUT_MS} (an export must never hold up a fire)"
        ));
    }
    Ok(())
}

/// A header value given as a reference with an explicit scheme; a bare word and `raw:` are refused.
fn check_secret_ref(reference: &str) -> Result<(), String> {
    let parsed = SecretRef::parse(reference)?;
    if parsed.is_raw() || !reference.contains(':') {
        return Err(
            "give a secret reference such as env:OTEL_TOKEN or file:/etc/cronix/otel.token, never \
             the value itself"
                .into(),
        );
    }
    Ok(())
}

/// The keys of §8a: alert targets, the check interval and the metrics textfile.
fn check_observability(config: &Config) -> Result<(), String> {
    for (n, target) in config.alerts.iter().enumerate() {
        target.check(n)?;
    }
    if let Some(every) = &config.check_every {
        check_every_schedule(every).map_err(|why| format!("check_every {every:?}: {why}"))?;
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

/// `password_ref` is a reference with an explicit scheme; a bare word (which would be read as an
/// environment variable name, and is likely the password itself) and `raw:` literals are refused.
fn check_password_ref(reference: &str) -> Result<(), String> {
    let parsed = SecretRef::parse(reference).map_err(|e| format!("password_ref: {e}"))?;
    if parsed.is_raw() || !reference.contains(':') {
        return Err(
            "password_ref must be a secret reference such as env:REDIS_PASSWORD or \
             file:/etc/cronix/redis.pass, never the password itself"
                .into(),
        );
    }
    Ok(())
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
            &mut self.systemd_unit_dir,
            &mut self.systemd_credstore_dir,
            &mut self.tls_ca_file,
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
        for entry in &mut self.backends {
            for p in [
                &mut entry.crontab_path,
                &mut entry.trigger_bin,
                &mut entry.unit_dir,
                &mut entry.spec_dir,
                &mut entry.lock_dir,
                &mut entry.state_dir,
            ]
            .into_iter()
            .flatten()
            {
                if p.is_relative() {
                    *p = lexically_normal(&base.join(&*p));
                }
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
    /// How HTTP peers are reached: the config's proxy and CA file (a proxy that failed `parse`'s
    /// check cannot reach here).
    pub fn transport(&self) -> crate::shell::http::Transport {
        crate::shell::http::Transport {
            proxy: self
                .http_proxy
                .as_deref()
                .and_then(|p| url::Url::parse(p).ok()),
            ca_file: self.tls_ca_file.clone(),
        }
    }

    /// Whether `concurrency_scope: global` can work with this config's `locks.redis`, or why not.
    pub fn global_lock(&self) -> Result<(), String> {
        let redis = self.locks.redis.as_ref();
        crate::core::target_checks::global_lock_facts(
            redis.is_some(),
            redis.is_some_and(|r| r.password_ref.is_some()),
            redis.is_some_and(|r| r.allow_unauthenticated),
        )
    }

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
    pub fn resolve(flags: &PathFlags, config: &Config) -> StatePaths {
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

/// Where `cronix init` writes: `--config`, else `$CRONIX_CONFIG`, else `~/.cronix/cronix.yaml`, else
/// (no `HOME`) the system path.
pub fn init_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Some(env) = crate::env::config_file() {
        return env;
    }
    match crate::env::home() {
        Some(home) => home.join(".cronix/cronix.yaml"),
        None => PathBuf::from(SYSTEM_CONFIG_PATH),
    }
}

/// Write a new config file: missing directories 0755, the file 0600 (also when it replaces one),
/// atomically. An existing file is refused unless `force`.
///
/// The directory is reached by a walk from `/` (`trusted_path::open_dir_walked`): every directory and
/// link on the way must belong to root or the running user and not be writable by others, so root
/// never writes into a user's `$HOME` (`sudo -E cronix init`) nor follows a `~/.cronix` link a user
/// planted. The file is created and given its mode through its descriptor and renamed into place
/// relative to the directory's: nothing is ever chmod-ed by path.
pub fn write_scaffold(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    let fail = |why: String| Failure::invalid(format!("config {} {why}", path.display()));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail("names no file; give --config a file path".to_string()))?;
    let parent = crate::shell::atomic::parent_of(path);
    let dir = crate::shell::trusted_path::open_dir_walked(parent, true)
        .map_err(|why| fail(format!("(its directory {}) {why}", parent.display())))?
        .ok_or_else(|| {
            fail(format!(
                "(its directory {}) could not be created",
                parent.display()
            ))
        })?;
    if !force && dir.contains(name).map_err(&fail)? {
        return Err(Failure::invalid(format!(
            "config {}: already exists, nothing was written; edit it, or give --force to replace it",
            path.display()
        )));
    }
    if force {
        refuse_replacing_a_non_config(path)?;
    }
    dir.replace(name, text.as_bytes(), 0o600).map_err(&fail)?;
    dir.sync().map_err(fail)
}

/// `init --force` replaces a config, never another file: the path may come from `$CRONIX_CONFIG`, which
/// `sudo -E` hands root from a user. A regular file there must parse as a cronix config; a link at the
/// name is replaced itself (its target is left alone), and a missing file is simply written.
fn refuse_replacing_a_non_config(path: &Path) -> Result<(), Failure> {
    let is_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !is_file {
        return Ok(());
    }
    let parses = crate::shell::trusted_path::read_walked_if_exists(path, MAX_CONFIG_LEN)
        .ok()
        .flatten()
        .and_then(|bytes| std::str::from_utf8(&bytes).ok().map(|t| parse(t).is_ok()))
        .unwrap_or(false);
    if parses {
        return Ok(());
    }
    Err(Failure::invalid(format!(
        "config {}: is not a cronix config, so --force does not replace it; nothing was written. \
         Give --config the path of a config (or of a new file), or remove that file yourself",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_config_is_never_quoted_in_the_error() {
        for (text, secret) in [
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                "b3BlbnNzaC1rZXktdjEAAAAA",
            ),
            ("BILLING_CRON_V2=s3cr3t-billing-key\n", "s3cr3t-billing-key"),
            ("root:$6$saltsalt$hashhash:20228:0:99999:7:::\n", "hashhash"),
            ("root:*:20228:0:99999:7::\nalice: x\n", "20228"),
            ("version: s3cr3t\n", "s3cr3t"),
            ("locks:\n  redis:\n    timeout_ms: s3cr3t\n", "s3cr3t"),
            ("crontab_format: s3cr3t\n", "s3cr3t"),
            ("- s3cr3t\n- more\n", "s3cr3t"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(!err.contains(secret), "{text:?} gave {err}");
            assert!(err.contains("line "), "{err}");
        }
        let err = parse("locks:\n  redis:\n    timeout_ms: s3cr3t\n").unwrap_err();
        assert!(
            err.starts_with("locks.redis.timeout_ms: a value of the wrong type"),
            "{err}"
        );
    }

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
        let flags = PathFlags {
            spec_dir: Some("/flag/jobs".into()),
            ..PathFlags::default()
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

    #[test]
    fn locks_redis_has_safe_defaults() {
        let config = parse("host_id: web-1\nlocks:\n  redis:\n    addr: 127.0.0.1:6379\n").unwrap();
        let redis = config.locks.redis.unwrap();
        assert_eq!(config.host_id.as_deref(), Some("web-1"));
        assert_eq!(redis.key_prefix, "cronix:");
        assert_eq!(redis.on_unavailable, OnUnavailable::Fail);
        assert_eq!(redis.timeout_ms, global_lock::DEFAULT_TIMEOUT_MS);
    }

    #[test]
    fn a_redis_password_must_be_a_reference() {
        let with = |extra: &str| parse(&format!("locks:\n  redis:\n    addr: h:1\n    {extra}\n"));
        assert!(with("password_ref: env:REDIS_PASSWORD").is_ok());
        assert!(with("password_ref: file:/etc/cronix/redis.pass").is_ok());
        for bad in ["password_ref: hunter2", "password_ref: raw:hunter2"] {
            let err = with(bad).unwrap_err();
            assert!(err.contains("never the password itself"), "{err}");
            assert!(!err.contains("hunter2"), "the value is not echoed: {err}");
        }
        let err = parse("locks:\n  redis:\n    addr: redis://u:hunter2@h:1\n").unwrap_err();
        assert!(
            err.contains("password_ref") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(with("passwd: x").unwrap_err().contains("passwd"));
        assert!(with("on_unavailable: maybe").is_err());
        assert!(
            with("timeout_ms: 60000")
                .unwrap_err()
                .contains("timeout_ms")
        );
        assert!(parse("host_id: a b\n").unwrap_err().contains("host_id"));
    }
}
