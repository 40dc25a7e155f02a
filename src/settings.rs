//! Settings: what the operator asked for on the command line, in the types the rest of cronix takes.
//!
//! clap's argument structs (`crate::cli`) stop at `commands::dispatch`: it turns them into these values
//! once, and everything below (the commands' work, the shell, the backends) takes settings, never a
//! clap type. The merge of flags over the operator config over the defaults happens in one place per
//! kind of setting (`shell::config::StatePaths::resolve` for paths, `shell::reconcile::context_from` for
//! the target and the backend), from these values. Must not read files or the environment.

use std::path::PathBuf;

/// Output format of every command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Table,
    /// The same table with every column whole (no cut to the terminal's width); `table` where a
    /// command prints no table.
    Wide,
    Json,
    /// The same document as `json`, in YAML.
    Yaml,
}

impl Output {
    /// `json` or `yaml`: a document, not text for people.
    pub fn is_structured(self) -> bool {
        matches!(self, Output::Json | Output::Yaml)
    }
}

/// Level of the JSON log lines on stderr.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Line format of a crontab file: `system` (with a user column) or `user` (without).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrontabFormat {
    System,
    User,
}

/// The settings every command shares.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `--config`: the operator config file (else the usual lookup).
    pub config: Option<PathBuf>,
    /// `--secret-ref`: refs the operator allows on a single-app host.
    pub secret_refs: Vec<String>,
    pub output: Output,
    /// `--log-level` (else the config's, else warn).
    pub log_level: Option<LogLevel>,
}

/// Where cronix state lives, as given on the command line (unset: config, then default).
#[derive(Debug, Clone, Default)]
pub struct PathFlags {
    pub spec_dir: Option<PathBuf>,
    pub lock_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

/// The target a reconciler command drives, as given on the command line (unset: config, then
/// default). The backend itself is chosen before (a `BackendKind`).
#[derive(Debug, Clone, Default)]
pub struct TargetFlags {
    pub systemd_unit_dir: Option<PathBuf>,
    pub crontab_path: Option<PathBuf>,
    pub crontab_format: Option<CrontabFormat>,
    pub crontab_user: Option<String>,
    pub run_as: Option<String>,
    pub trigger_bin: Option<PathBuf>,
    pub paths: PathFlags,
    pub kubernetes: KubernetesFlags,
    pub vercel: VercelFlags,
}

/// The kubernetes backend's flags (each over the config's `kubernetes:` key of the same name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesFlags {
    /// `--k8s-namespace` (default `default`).
    pub namespace: Option<String>,
    /// `--k8s-image`: the image whose `cronix` the CronJobs' pods run.
    pub image: Option<String>,
    /// `--kubeconfig`: the kubeconfig file (else `KUBECONFIG`, else `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// `--in-cluster`: use the pod's service account instead of a kubeconfig.
    pub in_cluster: bool,
    /// `--k8s-secret-name`: the Secret whose keys the jobs' `env:`/`file:` refs name (default
    /// `cronix-secrets`).
    pub secret_name: Option<String>,
}

/// The vercel backend's flags (each over the config's `vercel:` key of the same name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VercelFlags {
    /// `--vercel-json-path` (default `vercel.json`).
    pub json_path: Option<PathBuf>,
    /// `--vercel-trigger-prefix` (default `/api/v1/scheduled/`).
    pub trigger_prefix: Option<String>,
}
