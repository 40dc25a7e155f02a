//! The command-line grammar: every subcommand, flag and help text, as clap definitions.
//!
//! It owns parsing only. It must not read files, the environment (beyond clap's own) or run anything;
//! the man pages in `man/` are generated from these definitions.

use crate::core::exit_status::ExitStatus;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::core::backend_kind::{self, BackendKind};
pub use crate::settings::{CrontabFormat, LogLevel, Output};
use crate::settings::{Global, PathFlags, TargetFlags};

/// The `Examples:` block that ends a command's help (and becomes its man page's EXAMPLES section).
macro_rules! examples {
    ($($line:literal),+ $(,)?) => {
        concat!("Examples:", $("\n  ", $line),+)
    };
}

/// `check`'s examples.
macro_rules! check_examples {
    () => {
        examples!("cronix check", "cronix check --grace 10m -o json")
    };
}

/// `check --help`: the alert setup that `check` and every fire use.
macro_rules! check_after_help {
    () => {
        r#"Alerts (operator config; docs/alerts-and-metrics.md):

  alerts:
    - webhook: https://alerts.example.com/cronix   # POST of the event JSON,
      secret_ref: env:ALERT_SECRET                 # X-Cron-Signature like a trigger
      after_failures: 2                            # once per streak, at its 2nd failure
      on_recovery: true                            # once at the first success after it
    - command: [/usr/local/bin/cronix-mail-alert, ops@example.com]   # event on stdin
  check_every: 5m                                  # apply keeps an owned check entry

The event (schemas/alert.schema.json): event (failing|recovered|missed), app, job, run_id,
status, exit_code, http_status, attempts, intended_fire_time, consecutive_failures, host_id,
time. A receiver verifies it as it verifies triggers:
  cronix verify --secret-ref env:ALERT_SECRET --method POST --path /cronix \
    --body-file body.json --signature "$SIG"
(examples/alerts/receiver.py does the same in Python). All alerts of one fire or check share
a 3 s budget; each is sent once, never retried, and never changes a fire's exit code or record."#
    };
}

/// `metrics`'s examples.
macro_rules! metrics_examples {
    () => {
        examples!(
            "cronix metrics",
            "cronix metrics --state-dir /var/lib/cronix > cronix.prom"
        )
    };
}

/// `metrics --help`: the textfile and a few queries.
macro_rules! metrics_after_help {
    () => {
        r#"Textfile (operator config), replaced atomically after every fire:
  metrics:
    textfile: /var/lib/node_exporter/textfile_collector/cronix.prom

Grafana queries:
  sum by (app, job) (cronix_last_status{status!="ok"})     # the newest run failed
  time() - cronix_next_fire_timestamp_seconds > 600         # should have fired 10 min ago
  time() - cronix_last_success_timestamp_seconds > 7200     # no success for 2 hours"#
    };
}

/// Exit status for a `trigger` invocation whose arguments do not parse (cron must see "internal").
pub const TRIGGER_USAGE_EXIT: ExitStatus = ExitStatus::FIRE_INTERNAL;

#[derive(Debug, Parser)]
#[command(
    name = "cronix",
    version,
    about = "Reconcile an application's scheduled HTTP jobs into crontab, and fire them signed",
    long_about = "cronix turns a declarative JSON manifest of an application's scheduled HTTP jobs into \
                  crontab entries plus one spec file per job (apply), and is the trigger shim that cron \
                  runs at every fire: it signs the request with HMAC-SHA256, sends it with a timeout and \
                  retries, and records the run.",
    propagate_version = true,
    max_term_width = 100,
    after_help = examples!(
        "cronix validate manifest.json",
        "cronix plan --manifest https://billing.example.com/.well-known/cron-manifest",
        "sudo cronix apply --manifest https://billing.example.com/.well-known/cron-manifest",
        "cronix global-status",
        "cronix logs billing.settle --follow",
        "cronix help apply            # a command's flags and examples"
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Operator config file (default: $CRONIX_CONFIG, ~/.cronix/cronix.yaml, /etc/cronix/cronix.yaml);
    /// it must be owned by root or you and not group/other-writable
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Secret reference the operator allows (env:NAME, file:/abs/path, raw:literal); repeatable
    #[arg(long = "secret-ref", global = true, value_name = "REF")]
    pub secret_refs: Vec<String>,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Log level for JSON log lines on stderr (default: config's log_level, else warn)
    #[arg(long, global = true, value_enum)]
    pub log_level: Option<LogLevel>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint a manifest (file path, file://, https:// or loopback http:// URL); --canonical prints its canonical bytes
    #[command(after_help = examples!("cronix validate manifest.json", "cronix validate https://billing.example.com/.well-known/cron-manifest --app billing", "cronix validate manifest.json --canonical | sha256sum   # the hash apply records"))]
    Validate(ValidateArgs),
    /// Show what apply would change, entry by entry, with next fire times of new entries
    #[command(alias = "diff")]
    #[command(after_help = examples!("cronix plan --manifest manifest.json", "cronix plan --manifest https://billing.example.com/.well-known/cron-manifest --app billing", "cronix plan systemd-timer --manifest manifest.json -o json"))]
    Plan(ReconcileArgs),
    /// Reconcile the manifest into the crontab and spec files
    #[command(after_help = examples!("sudo cronix apply --manifest https://billing.example.com/.well-known/cron-manifest", "cronix apply --manifest manifest.json --dry-run   # print the plan, change nothing", "cronix apply --manifest manifest.json --yes       # delete entries without asking"))]
    Apply(ApplyArgs),
    /// Report installed state that differs from the manifest
    #[command(after_help = examples!("cronix drift --manifest manifest.json", "cronix drift --manifest manifest.json --exit-on-drift || echo \"drifted (exit 5)\""))]
    Drift(DriftArgs),
    /// Check that a fire on this host would work: config, target, cron daemon (or systemd with
    /// --backend systemd-timer), trigger binary, secret references as the shim resolves them and
    /// the systemd credentials they name, path trust and the tz database (exit 1 when a check fails)
    #[command(after_help = examples!("sudo cronix doctor", "cronix doctor --backend systemd-timer -o json"))]
    Doctor(TargetArgs),
    /// Remove cronix-owned entries and their spec files
    #[command(after_help = examples!("cronix prune --dry-run", "sudo cronix prune --app billing --yes"))]
    Prune(PruneArgs),
    /// List cronix-owned crontab entries
    #[command(after_help = examples!("cronix list", "cronix list systemd-timer -o json"))]
    List(ListArgs),
    /// Show one job: its entries, spec, next fires and last runs ("not installed", exit 0, when it has none)
    #[command(after_help = examples!("cronix show billing.settle", "cronix show billing.settle --manifest manifest.json"))]
    Show(ShowArgs),
    /// Show the run history of a job, or the apply audit with --audit
    #[command(after_help = examples!("cronix history billing.settle --since 24h", "cronix history billing.settle --status failed --limit 10", "cronix history --audit --since 7d"))]
    History(HistoryArgs),
    /// Every owned job: schedule, last run, last status, next fire; with a `backends:` list in the
    /// config, the owned entries of every listed backend, queried in parallel
    #[command(after_help = examples!("cronix global-status", "cronix global-status systemd-timer -o json", "cronix global-status --config ~/.cronix/config.yaml --strict --with-history"))]
    GlobalStatus(GlobalStatusArgs),
    /// Show fires with each of their attempts (time, status code or error class, duration, wait);
    /// without a job, the recent runs of every job merged by time; --follow waits for new ones
    #[command(after_help = examples!("cronix logs billing.settle --since 1h", "cronix logs                      # the recent runs of every job", "cronix logs --follow             # print runs as they are recorded", "cronix logs billing.settle --run 0199b2c4-7d1e-7a40-9f1c-3e5b2a8d6f10 -o json"))]
    Logs(LogsArgs),
    /// Write a commented cronix.yaml scaffold (at --config, $CRONIX_CONFIG or ~/.cronix/cronix.yaml)
    #[command(after_help = examples!("cronix init", "sudo cronix init --config /etc/cronix/cronix.yaml --app billing \\
      --manifest-url https://billing.example.com/.well-known/cron-manifest"))]
    Init(InitArgs),
    /// Take over hand-written `cronix trigger` lines of one job as owned entries (exit 6 diverged, 7 none found)
    #[command(after_help = examples!("cronix adopt billing.settle --manifest manifest.json --dry-run", "sudo cronix adopt billing.settle --manifest manifest.json"))]
    Adopt(AdoptArgs),
    /// Fire one job now (this is what cron runs)
    #[command(after_help = examples!("cronix trigger billing.settle            # what the crontab line runs", "cronix trigger --spec-dir ./jobs billing.settle; echo \"exit $?\""))]
    Trigger(TriggerArgs),
    /// Print the X-Cron-Signature header value for a request
    #[command(after_help = examples!("cronix sign --secret-ref env:CRON_SECRET --method POST --path /cron/settle \\
      --body-file body.json"))]
    Sign(SignArgs),
    /// Check an X-Cron-Signature header value against a request
    #[command(after_help = examples!("cronix verify --secret-ref env:CRON_SECRET --method POST --path /cron/settle \\
      --body-file body.json --signature \"$SIG\""))]
    Verify(VerifyArgs),
    /// Print the next fire times of a schedule expression
    #[command(after_help = examples!("cronix next \"0 2 * * 1-5\"", "cronix next @daily --timezone Europe/Berlin --count 3", "cronix next \"@every 15m\" -o json"))]
    Next(NextArgs),
    /// Find missed fires: schedule instants since install, older than the grace, with no history record
    #[command(after_help = check_examples!())]
    Check(CheckArgs),
    /// Print Prometheus text exposition of every job's history
    #[command(after_help = metrics_examples!())]
    Metrics(MetricsArgs),
    /// Print a shell completion script
    #[command(after_help = examples!("source <(cronix completion bash)        # in ~/.bashrc: job names too", "cronix completion zsh > \"${fpath[1]}/_cronix\"", "cronix completion --static fish > ~/.config/fish/completions/cronix.fish"))]
    Completion(CompletionArgs),
    /// Print the version
    #[command(after_help = examples!("cronix version", "cronix version -o json"))]
    Version,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest source: file path, file://, https:// or loopback http:// URL (fetches are signed with the app's refs)
    pub source: String,
    /// The app the manifest must name (default: the config's manifest_sources entry of the source)
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// Print the canonical bytes of the normalized manifest instead of a summary
    #[arg(long)]
    pub canonical: bool,
}

/// Where cronix state lives; shared by every command that reads or writes it.
#[derive(Debug, Clone, Args, Default)]
pub struct PathArgs {
    /// Directory of per-job spec files (default: config's spec_dir, else /etc/cronix/jobs)
    #[arg(long, value_name = "DIR")]
    pub spec_dir: Option<PathBuf>,
    /// Directory of per-job lock files (default: config's lock_dir, else /run/cronix)
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
    /// Directory of run history and the apply audit (default: config's state_dir, else /var/lib/cronix)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The backend and target cronix reconciles into.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Scheduler backend to drive (crontab, the default, systemd-timer or vercel); also given as the word
    /// right after the command, `cronix apply crontab ...`
    #[arg(long = "backend", value_name = "NAME")]
    pub backend: Option<String>,
    #[command(flatten)]
    pub place: TargetPlaceArgs,
}

/// Where the target is: every target flag but the backend (`global-status` takes `--backend` its own
/// way).
#[derive(Debug, Clone, Args, Default)]
pub struct TargetPlaceArgs {
    /// Directory of the systemd-timer backend's units (default: config's systemd_unit_dir, else
    /// /etc/systemd/system)
    #[arg(long, value_name = "DIR")]
    pub systemd_unit_dir: Option<PathBuf>,
    /// Crontab file to manage (default: config's crontab_path, else /etc/cron.d/cronix)
    #[arg(long, value_name = "FILE", conflicts_with = "crontab_user")]
    pub crontab_path: Option<PathBuf>,
    /// Line format of the crontab file: system (with a user column) or user (without)
    #[arg(long, value_enum)]
    pub crontab_format: Option<CrontabFormat>,
    /// Manage this user's crontab through crontab(1) instead of a file
    #[arg(long, value_name = "USER")]
    pub crontab_user: Option<String>,
    /// User column of system crontab entries (default: config's run_as, else root)
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
    /// Absolute path of the cronix binary that cron runs (default: config's trigger_bin, else this binary)
    #[arg(long, value_name = "PATH")]
    pub trigger_bin: Option<PathBuf>,
    #[command(flatten)]
    pub paths: PathArgs,
    /// kubernetes: the namespace of the CronJobs and ConfigMaps (default: config's
    /// kubernetes.namespace, else default)
    #[arg(long, value_name = "NAMESPACE")]
    pub k8s_namespace: Option<String>,
    /// kubernetes: the image whose cronix the pods run (default: config's kubernetes.image)
    #[arg(long, value_name = "IMAGE")]
    pub k8s_image: Option<String>,
    /// kubernetes: the kubeconfig file (default: config's kubernetes.kubeconfig, else KUBECONFIG,
    /// else ~/.kube/config)
    #[arg(long, value_name = "FILE", conflicts_with = "in_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// kubernetes: use the pod's service account (running inside the cluster)
    #[arg(long)]
    pub in_cluster: bool,
    /// kubernetes: the Secret holding the keys the jobs' env: and file: refs name (default:
    /// config's kubernetes.secret_name, else cronix-secrets)
    #[arg(long, value_name = "NAME")]
    pub k8s_secret_name: Option<String>,
    /// vercel: the vercel.json to manage (default: config's vercel.json_path, else vercel.json)
    #[arg(long, value_name = "FILE")]
    pub vercel_json_path: Option<PathBuf>,
    /// vercel: the path prefix of cronix's cron entries (default: config's
    /// vercel.trigger_prefix, else /api/v1/scheduled/)
    #[arg(long, value_name = "PREFIX")]
    pub vercel_trigger_prefix: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// Scheduler backend, as the reference's positional form (same as --backend)
    #[arg(value_name = "BACKEND")]
    pub backend_word: Option<String>,
    /// Manifest source: file path, file://, https:// or loopback http:// URL
    #[arg(long, value_name = "SOURCE")]
    pub manifest: String,
    /// The app the manifest must name (default: the config's manifest_sources entry of the source);
    /// with manifest_sources its refs are that entry's
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl ReconcileArgs {
    /// The backend chosen by `--backend` or the positional word (default crontab).
    pub fn backend(&self) -> Result<BackendKind, String> {
        backend_kind::select(self.target.backend.as_deref(), self.backend_word.as_deref())
    }
}

/// `list` and `global-status`: the target, with the backend also as a positional word.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Scheduler backend, as the reference's positional form (same as --backend)
    #[arg(value_name = "BACKEND")]
    pub backend_word: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl ListArgs {
    /// The backend chosen by `--backend` or the positional word (default crontab).
    pub fn backend(&self) -> Result<BackendKind, String> {
        backend_kind::select(self.target.backend.as_deref(), self.backend_word.as_deref())
    }
}

/// `global-status`: one target (the flags, as `list` takes them), or every backend the config's
/// `backends:` list names (the reference tool's `~/.cronix/config.yaml`).
#[derive(Debug, Clone, Args)]
pub struct GlobalStatusArgs {
    /// Scheduler backend, as the reference's positional form (same as --backend)
    #[arg(value_name = "BACKEND")]
    pub backend_word: Option<String>,
    /// With a `backends:` list in the config: only the entries of these names (repeatable). Without
    /// one: the scheduler backend (crontab, the default, systemd-timer or vercel)
    #[arg(long = "backend", value_name = "NAME")]
    pub backends: Vec<String>,
    #[command(flatten)]
    pub place: TargetPlaceArgs,
    /// Exit 1 when any backend could not be queried (the others are still shown)
    #[arg(long)]
    pub strict: bool,
    /// Add each entry's last fire and status (from this host's history) to a backends-list view
    #[arg(long)]
    pub with_history: bool,
    /// How far back --with-history looks (a duration: 90m, 24h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub history_since: String,
    /// How many backends are queried at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
    /// Deadline of each backend's query (a duration: 30s, 2m); a backend past it is shown as an error
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub per_backend_timeout: String,
}

impl GlobalStatusArgs {
    /// The single-target view's arguments (`list`'s), when no backends list is configured.
    pub fn single_target(&self) -> Result<ListArgs, String> {
        if self.backends.len() > 1 {
            return Err(format!(
                "--backend is given {} times; without a `backends:` list in the config, \
                 global-status reads one target (add the list to the config to query several)",
                self.backends.len()
            ));
        }
        Ok(ListArgs {
            backend_word: self.backend_word.clone(),
            target: TargetArgs {
                backend: self.backends.first().cloned(),
                place: self.place.clone(),
            },
        })
    }

    /// The names of target flags given, which a backends list replaces.
    pub fn target_flags_given(&self) -> Vec<&'static str> {
        let place = &self.place;
        [
            ("--systemd-unit-dir", place.systemd_unit_dir.is_some()),
            ("--crontab-path", place.crontab_path.is_some()),
            ("--crontab-format", place.crontab_format.is_some()),
            ("--crontab-user", place.crontab_user.is_some()),
            ("--run-as", place.run_as.is_some()),
            ("--trigger-bin", place.trigger_bin.is_some()),
            ("--spec-dir", place.paths.spec_dir.is_some()),
            ("--lock-dir", place.paths.lock_dir.is_some()),
            ("--state-dir", place.paths.state_dir.is_some()),
            ("--k8s-namespace", place.k8s_namespace.is_some()),
            ("--k8s-image", place.k8s_image.is_some()),
            ("--kubeconfig", place.kubeconfig.is_some()),
            ("--in-cluster", place.in_cluster),
            ("--k8s-secret-name", place.k8s_secret_name.is_some()),
            ("--vercel-json-path", place.vercel_json_path.is_some()),
            (
                "--vercel-trigger-prefix",
                place.vercel_trigger_prefix.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before deleting entries (apply asks only on a terminal; without one it goes on)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
    /// Exit with status 5 when anything drifted
    #[arg(long)]
    pub exit_on_drift: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Scheduler backend, as the reference's positional form (same as --backend)
    #[arg(value_name = "BACKEND")]
    pub backend_word: Option<String>,
    /// Only remove entries of this app
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// Do not ask for confirmation (required without a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Print what would be removed and change nothing (needs no terminal and no --yes)
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl PruneArgs {
    /// The backend chosen by `--backend` or the positional word (default crontab).
    pub fn backend(&self) -> Result<BackendKind, String> {
        backend_kind::select(self.target.backend.as_deref(), self.backend_word.as_deref())
    }
}

/// `show [BACKEND] APP.JOB`: a first word that names a backend is the backend.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The job as APP.JOB, or the scheduler backend (positional form of --backend) followed by the job
    #[arg(value_name = "BACKEND|APP.JOB", required = true, add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub first: Option<String>,
    /// The job, as APP.JOB, after a backend word
    #[arg(value_name = "APP.JOB", add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub second: Option<String>,
    /// Also say whether the job's installed entries and spec are in sync with this manifest
    #[arg(long, value_name = "SOURCE")]
    pub manifest: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl ShowArgs {
    /// The backend (flag or first word) and the job, if one was given.
    pub fn backend_and_job(&self) -> Result<(BackendKind, Option<&str>), String> {
        backend_and_job(
            self.target.backend.as_deref(),
            self.first.as_ref(),
            self.second.as_ref(),
        )
    }
}

/// Read `[BACKEND] [APP.JOB]`: a first word that names a backend is the backend, anything else is
/// the job; a word after the job is an error.
fn backend_and_job<'a>(
    flag: Option<&str>,
    first: Option<&'a String>,
    second: Option<&'a String>,
) -> Result<(BackendKind, Option<&'a str>), String> {
    let words: Vec<String> = first.into_iter().chain(second).cloned().collect();
    let (word, rest) = backend_kind::split_positional(&words);
    if rest.len() > 1 {
        return Err(format!(
            "unexpected argument {:?} after the job {:?}; give one APP.JOB",
            rest[1], rest[0]
        ));
    }
    let backend = backend_kind::select(flag, word)?;
    let job = match rest.first() {
        None => None,
        Some(_) if word.is_some() => second.map(String::as_str),
        Some(_) => first.map(String::as_str),
    };
    Ok((backend, job))
}

/// `history [BACKEND] APP.JOB` or `history [BACKEND] --audit`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The job as APP.JOB (omit with --audit), or the scheduler backend (positional form of
    /// --backend) followed by the job
    #[arg(value_name = "BACKEND|APP.JOB", required_unless_present = "audit", add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub first: Option<String>,
    /// The job, as APP.JOB, after a backend word
    #[arg(value_name = "APP.JOB", add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub second: Option<String>,
    /// Show the apply/prune audit journal instead of runs
    #[arg(long)]
    pub audit: bool,
    /// Show at most this many records, newest last (0: all)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only records at or after this time (RFC 3339, or a duration ago such as 90m, 24h, 7d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only records before this time (RFC 3339, or a duration ago: --since 48h --until 24h is
    /// yesterday)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only runs with this final status: ok, rejected, exhausted, contended, internal, replaced,
    /// terminated, or the reference tool's failed (rejected, exhausted or internal), lock-contended
    /// (contended), timeout (exhausted after a timeout), unknown (replaced or terminated)
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Every backend flag of the other reconciler commands (the reference's history page passes
    /// them): the history is this host's either way, read from the state dir
    #[command(flatten)]
    pub target: TargetArgs,
}

impl HistoryArgs {
    /// The backend (flag or first word) and the job, if one was given.
    pub fn backend_and_job(&self) -> Result<(BackendKind, Option<&str>), String> {
        backend_and_job(
            self.target.backend.as_deref(),
            self.first.as_ref(),
            self.second.as_ref(),
        )
    }
}

/// `logs [APP.JOB] [--since WHEN] [--limit N] [--run RUN_ID] [--follow]`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The job as APP.JOB (default: every job with a history file, merged by time)
    #[arg(value_name = "APP.JOB", add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub job: Option<String>,
    /// Only runs that started at or after this time (RFC 3339, or a duration ago such as 90m, 24h, 7d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Show at most this many runs, newest last (0: all)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Only the run with this run id (what X-Cron-Run-Id carried)
    #[arg(long, value_name = "RUN_ID", conflicts_with = "follow")]
    pub run: Option<String>,
    /// Keep running and print each new run as it is recorded (stop with Ctrl-C or SIGTERM)
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[command(flatten)]
    pub paths: PathArgs,
}

/// `init [--config PATH] [--app APP --manifest-url URL] [--secret-ref REF]… [--force]`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app whose manifest this host reconciles (noted with its URL in the scaffold)
    #[arg(long, value_name = "APP", requires = "manifest_url")]
    pub app: Option<String>,
    /// The app's manifest URL
    #[arg(long, value_name = "URL", requires = "app")]
    pub manifest_url: Option<String>,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

/// `adopt [BACKEND] APP.JOB --manifest SOURCE [--dry-run]`.
#[derive(Debug, Args)]
#[command(
    long_about = "Take over the hand-written crontab lines that run `<any path>/cronix trigger [flags] \
                  APP.JOB` (with or without a user column). Each schedule of the job in the manifest is \
                  paired with one line that fires at the same minutes (*/15 equals 0,15,30,45); on a full \
                  match the lines are rewritten in place as owned entries and the spec file is written, \
                  under the apply lock. Exit 0: adopted or already managed; 6: diverged (a schedule \
                  without a line or a line without a schedule; nothing written); 7: no such line found."
)]
pub struct AdoptArgs {
    /// The job as APP.JOB, or the scheduler backend (positional form of --backend) followed by the job
    #[arg(value_name = "BACKEND|APP.JOB", required = true, add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub first: Option<String>,
    /// The job, as APP.JOB, after a backend word
    #[arg(value_name = "APP.JOB", add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub second: Option<String>,
    /// Manifest source: file path, file://, https:// or loopback http:// URL
    #[arg(long, value_name = "SOURCE")]
    pub manifest: String,
    /// Show what would be adopted and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl AdoptArgs {
    /// The backend (flag or first word) and the job, if one was given.
    pub fn backend_and_job(&self) -> Result<(BackendKind, Option<&str>), String> {
        backend_and_job(
            self.target.backend.as_deref(),
            self.first.as_ref(),
            self.second.as_ref(),
        )
    }
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Directory of per-job spec files (default: $CRONIX_JOB_SPEC_DIR, else config's spec_dir, else
    /// /etc/cronix/jobs)
    #[arg(long, value_name = "DIR")]
    pub spec_dir: Option<PathBuf>,
    /// Directory of the job's lock file; wins over the lock dir recorded in the spec by apply
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
    /// The scheduler backend that runs this fire (as the reference's units and lines pass it); a
    /// label in the log lines, it changes nothing else
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// Fire only if this minute is a fire of the job's schedule number IDX (from 0) in the job's own
    /// time zone, else exit 0 at once without sending or recording anything. apply writes it on the
    /// entries of jobs whose zone is not the one cron runs in.
    #[arg(long, value_name = "IDX")]
    pub gate: Option<usize>,
    /// Export the fire's trace over OTLP/HTTP (config `otel:`, else the OTEL_EXPORTER_OTLP_*
    /// variables); without an endpoint it does nothing. The export never changes the exit code.
    #[arg(long)]
    pub otel: bool,
    /// Also write the run's history record (one JSON line, at most 4 KiB, never a secret) to this
    /// existing file: the kubernetes backend's pods pass /dev/termination-log, which the kubelet
    /// keeps as the container's termination message for `cronix history`
    #[arg(long, value_name = "FILE")]
    pub termination_log: Option<PathBuf>,
    /// The job to fire, as APP.JOB
    #[arg(add = ArgValueCandidates::new(crate::commands::completion::job_names))]
    pub job: String,
}

/// The request `sign` signs and `verify` checks.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// HTTP method of the request
    #[arg(long)]
    pub method: String,
    /// Path and query of the request, exactly as sent
    #[arg(long)]
    pub path: String,
    /// File holding the request body ("-" for standard input; default: empty body)
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Unix timestamp to sign at (default: now)
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
}

/// `--path` keeps its own help here: verify checks a request as it was received.
#[derive(Debug, Args)]
#[command(mut_arg("path", |path| path.help("Path and query of the request, exactly as received")))]
pub struct VerifyArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// The X-Cron-Signature header value
    #[arg(long, value_name = "VALUE")]
    pub signature: Option<String>,
    /// Unix time to verify at (default: now)
    #[arg(long, value_name = "SECONDS")]
    pub now: Option<i64>,
    /// Accepted clock skew in seconds (at least 30)
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub max_skew: i64,
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// Schedule expression, e.g. "0 2 * * 1-5", "@daily", "@every 15m"
    pub expr: String,
    /// How many fire times to print
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// Print fires strictly after this instant (RFC 3339; default: now)
    #[arg(long, value_name = "RFC3339")]
    pub after: Option<String>,
    /// IANA time zone the schedule is read in
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
}

#[derive(Debug, Args)]
#[command(
    long_about = "Find missed fires: for every job with a spec file, the schedule instants since its spec \
                  was written (its install or last change) and within the last 7 days, older than the \
                  grace, that have no history record. Prints them, raises one `missed` alert per job \
                  and episode (a run of consecutive missed instants) to the config's alert targets, and \
                  exits 1 when any instant was missed, 0 when none. The grace of a job is at least the \
                  longest its fire can take (every attempt timing out plus backoff), so a fire still in \
                  flight is never reported. Config `check_every: 5m` makes apply install it as an owned \
                  crontab entry.",
    after_long_help = concat!(check_after_help!(), "\n\n", check_examples!())
)]
pub struct CheckArgs {
    /// How old an instant must be before its missing record counts (e.g. 2m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub grace: String,
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
#[command(
    long_about = "Print the Prometheus text exposition of every job with a spec file, computed from its \
                  whole history: cronix_last_run_timestamp_seconds, cronix_last_success_timestamp_seconds, \
                  cronix_last_status{status}, cronix_runs_total{status}, cronix_last_duration_seconds, \
                  cronix_consecutive_failures and cronix_next_fire_timestamp_seconds, labelled app, job and \
                  host. With `metrics: {textfile: PATH}` in the config the shim keeps the same text in PATH \
                  after every fire.",
    after_long_help = concat!(metrics_after_help!(), "\n\n", metrics_examples!())
)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to generate the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Print the full static script instead (commands and flags only: no APP.JOB names)
    #[arg(long = "static")]
    pub r#static: bool,
}

/// The clap command tree, for completions and man pages.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parse `args`; on a parse error or `--help`/`--version`, print clap's message and return the exit
/// status.
///
/// `trigger` is run by cron, where exit 2 would read as "retries exhausted": its argument errors exit 3.
pub fn parse(args: &[OsString]) -> Result<Cli, ExitStatus> {
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(err) => {
            if !err.use_stderr() {
                let _ = err.print();
                return Err(ExitStatus::OK);
            }
            let is_trigger = args.iter().skip(1).any(|a| a == "trigger");
            let status = if is_trigger {
                TRIGGER_USAGE_EXIT
            } else {
                ExitStatus::USAGE
            };
            match structured_output(args) {
                Some(output) => {
                    let message = err.render().to_string();
                    crate::error::structured_error(output, message.trim_end(), status, "usage");
                }
                None => {
                    let _ = err.print();
                }
            }
            Err(status)
        }
    }
}

/// `-o json`/`-o yaml` among arguments clap refused (so a structured reader gets its error as a
/// document too).
fn structured_output(args: &[OsString]) -> Option<Output> {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let named = |value: &str| match value {
        "json" => Some(Output::Json),
        "yaml" => Some(Output::Yaml),
        _ => None,
    };
    words.iter().enumerate().find_map(|(i, w)| match *w {
        "-o" | "--output" => words.get(i + 1).and_then(|v| named(v)),
        _ => w
            .strip_prefix("--output=")
            .or_else(|| w.strip_prefix("-o"))
            .and_then(named),
    })
}

impl GlobalArgs {
    /// The settings these flags give.
    pub fn settings(&self) -> Global {
        Global {
            config: self.config.clone(),
            secret_refs: self.secret_refs.clone(),
            output: self.output,
            log_level: self.log_level,
        }
    }
}

impl PathArgs {
    /// The settings these flags give.
    pub fn flags(&self) -> PathFlags {
        PathFlags {
            spec_dir: self.spec_dir.clone(),
            lock_dir: self.lock_dir.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

impl TargetArgs {
    /// The settings these flags give (the backend is chosen separately).
    pub fn flags(&self) -> TargetFlags {
        self.place.flags()
    }
}

impl TargetPlaceArgs {
    /// The settings these flags give.
    pub fn flags(&self) -> TargetFlags {
        TargetFlags {
            systemd_unit_dir: self.systemd_unit_dir.clone(),
            crontab_path: self.crontab_path.clone(),
            crontab_format: self.crontab_format,
            crontab_user: self.crontab_user.clone(),
            run_as: self.run_as.clone(),
            trigger_bin: self.trigger_bin.clone(),
            paths: self.paths.flags(),
            kubernetes: crate::settings::KubernetesFlags {
                namespace: self.k8s_namespace.clone(),
                image: self.k8s_image.clone(),
                kubeconfig: self.kubeconfig.clone(),
                in_cluster: self.in_cluster,
                secret_name: self.k8s_secret_name.clone(),
            },
            vercel: crate::settings::VercelFlags {
                json_path: self.vercel_json_path.clone(),
                trigger_prefix: self.vercel_trigger_prefix.clone(),
            },
        }
    }
}
