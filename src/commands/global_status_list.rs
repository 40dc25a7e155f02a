//! `cronix global-status` over the config's `backends:` list (the reference tool's
//! `~/.cronix/config.yaml`): every listed backend is queried for its owned entries, `--parallel` at a
//! time, each within `--per-backend-timeout`; one that fails or times out is a row with its error and
//! never hides the others. `--with-history` adds each entry's newest run since `--history-since`
//! (from this host's history in the entry's state dir); `--strict` exits 1 when any backend failed.
//!
//! Reads only. It owns the fan-out and the report; reading a target is `shell::reconcile`'s. A query
//! past its deadline is abandoned (its thread ends with the process), never waited for.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::GlobalStatusArgs;
use crate::commands::history::parse_instant;
use crate::core::backend_kind::{self, BackendKind};
use crate::core::history::{self, Filter};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output, PathFlags, TargetFlags};
use crate::shell::config::{BackendEntry, Loaded};
use crate::shell::history as history_file;
use crate::shell::reconcile;

/// The `-o json` document: the reference's shape (`backends[]` with `name`, `type`, `error`,
/// `entries[]` of `app`, `job`, `index`, `hash`, `last_fire`, `last_status`) plus `status`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub backends: Vec<BackendReport>,
}

#[derive(Debug, Serialize)]
pub struct BackendReport {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `ok` (owned entries found), `empty` (reachable, none owned) or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub entries: Vec<EntryReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub app: String,
    pub job: String,
    pub index: usize,
    pub hash: String,
    /// `--with-history`: when the newest run in the window started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fire: Option<String>,
    /// `--with-history`: that run's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
}

/// What every query needs, owned so it can move into the query's thread.
#[derive(Clone)]
struct Query {
    loaded: Loaded,
    global: Global,
    history_since: Option<Timestamp>,
}

/// The `backends:` list to query and the file it came from.
pub struct BackendsList {
    pub entries: Vec<BackendEntry>,
    pub path: Option<PathBuf>,
}

pub fn run(
    global: &Global,
    args: &GlobalStatusArgs,
    loaded: &Loaded,
    list: BackendsList,
) -> Result<ExitStatus, Failure> {
    let BackendsList {
        entries,
        path: list_path,
    } = list;
    let given = args.target_flags_given();
    if !given.is_empty() || args.backend_word.is_some() {
        let what = args
            .backend_word
            .iter()
            .map(String::as_str)
            .chain(given)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Failure::usage(format!(
            "{what}: global-status reads each backend's flags from the `backends:` list in {}; \
             drop them, or pick entries by name with --backend NAME",
            list_path.map_or("the config".to_string(), |p| p.display().to_string())
        )));
    }
    let chosen = choose(entries, &args.backends)?;
    let timeout = duration("--per-backend-timeout", &args.per_backend_timeout)?;
    if args.parallel == 0 {
        return Err(Failure::usage(
            "--parallel 0: query at least 1 backend at a time",
        ));
    }
    let now = Timestamp::now();
    let history_since = if args.with_history {
        Some(parse_instant("--history-since", &args.history_since, now).map_err(Failure::usage)?)
    } else {
        None
    };
    let query = Query {
        loaded: loaded.clone(),
        global: global.clone(),
        history_since,
    };
    let report = Report {
        backends: query_all(chosen, &query, args.parallel, timeout),
    };
    match global.output {
        Output::Json | Output::Yaml => crate::printer::document(global.output, &report),
        Output::Table | Output::Wide => print_table(&report, args.with_history),
    }
    let failed: Vec<&str> = report
        .backends
        .iter()
        .filter(|b| b.error.is_some())
        .map(|b| b.name.as_str())
        .collect();
    if args.strict && !failed.is_empty() {
        return Err(Failure::invalid(format!(
            "{} backend(s) could not be queried ({}); see their rows (--strict)",
            failed.len(),
            failed.join(", ")
        )));
    }
    Ok(ExitStatus::OK)
}

/// The entries `--backend NAME…` picks (all without it), in the config's order.
fn choose(entries: Vec<BackendEntry>, names: &[String]) -> Result<Vec<BackendEntry>, Failure> {
    if let Some(unknown) = names
        .iter()
        .find(|n| !entries.iter().any(|e| &e.name == *n))
    {
        let known: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "--backend {unknown}: no entry of the config's backends list has that name (it has: {})",
            known.join(", ")
        )));
    }
    Ok(entries
        .into_iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
        .collect())
}

fn duration(flag: &str, text: &str) -> Result<Duration, Failure> {
    let value = humantime::parse_duration(text.trim()).map_err(|_| {
        Failure::usage(format!(
            "{flag} {text:?}: give a duration such as 30s, 2m or 1h"
        ))
    })?;
    if value.is_zero() {
        return Err(Failure::usage(format!(
            "{flag} {text:?}: give a duration above 0"
        )));
    }
    Ok(value)
}

/// Query every entry, `parallel` at a time, each within `timeout`; rows in the config's order.
fn query_all(
    entries: Vec<BackendEntry>,
    query: &Query,
    parallel: usize,
    timeout: Duration,
) -> Vec<BackendReport> {
    let count = entries.len();
    let queue: Arc<Mutex<VecDeque<(usize, BackendEntry)>>> =
        Arc::new(Mutex::new(entries.into_iter().enumerate().collect()));
    let (done, results) = mpsc::channel();
    for _ in 0..parallel.min(count) {
        let (queue, done, query) = (Arc::clone(&queue), done.clone(), query.clone());
        std::thread::spawn(move || {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((at, entry)) = next else { break };
                let outcome = within(timeout, &entry, &query);
                if done.send((at, report(entry, outcome))).is_err() {
                    break;
                }
            }
        });
    }
    drop(done);
    let mut rows: Vec<(usize, BackendReport)> = results.iter().collect();
    rows.sort_by_key(|(at, _)| *at);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// One query on its own thread, given up after `timeout`.
fn within(
    timeout: Duration,
    entry: &BackendEntry,
    query: &Query,
) -> Result<Vec<EntryReport>, String> {
    let (tx, rx) = mpsc::channel();
    let (entry, query) = (entry.clone(), query.clone());
    std::thread::spawn(move || {
        let _ = tx.send(query_one(&entry, &query));
    });
    match rx.recv_timeout(timeout) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "no answer within {} (--per-backend-timeout)",
            humantime::format_duration(timeout)
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("the query stopped without an answer".to_string())
        }
    }
}

fn report(entry: BackendEntry, outcome: Result<Vec<EntryReport>, String>) -> BackendReport {
    let (status, error, entries) = match outcome {
        Ok(entries) if entries.is_empty() => ("empty", None, entries),
        Ok(entries) => ("ok", None, entries),
        Err(error) => ("error", Some(error), Vec::new()),
    };
    BackendReport {
        name: entry.name,
        kind: entry.kind,
        status,
        error,
        entries,
    }
}

/// The owned entries of one backend, read as `list` reads its target.
fn query_one(entry: &BackendEntry, query: &Query) -> Result<Vec<EntryReport>, String> {
    let kind = BackendKind::parse(&entry.kind).map_err(|_| {
        format!(
            "backend type {} is not built in this cronix (built: {}); query it with the reference \
             tool, or remove the entry",
            entry.kind,
            backend_kind::built_names()
        )
    })?;
    let flags = TargetFlags {
        systemd_unit_dir: entry.unit_dir.clone(),
        crontab_path: entry.crontab_path.clone(),
        crontab_format: entry.crontab_format,
        crontab_user: entry.crontab_user.clone(),
        run_as: entry.run_as.clone(),
        trigger_bin: entry.trigger_bin.clone(),
        paths: PathFlags {
            spec_dir: entry.spec_dir.clone(),
            lock_dir: entry.lock_dir.clone(),
            state_dir: entry.state_dir.clone(),
        },
        kubernetes: crate::settings::KubernetesFlags {
            namespace: entry.namespace.clone(),
            image: entry.image.clone(),
            kubeconfig: entry.kubeconfig.clone().map(PathBuf::from),
            in_cluster: entry.in_cluster,
            secret_name: None,
        },
        vercel: Default::default(),
    };
    let ctx = reconcile::context_from(&query.loaded, &query.global, &flags, kind)
        .map_err(|f| f.message)?;
    let installed = reconcile::installed(&ctx, None).map_err(|f| f.message)?;
    let mut out: Vec<EntryReport> = installed
        .entries()
        .iter()
        .map(|e| EntryReport {
            app: e.app.clone(),
            job: e.job.clone(),
            index: e.idx,
            hash: e.hash.clone(),
            last_fire: None,
            last_status: None,
        })
        .collect();
    if let Some(since) = query.history_since {
        for row in &mut out {
            let path = history_file::history_path(&ctx.paths.state_dir, &row.app, &row.job);
            let Ok(runs) = history_file::read_records(&path) else {
                continue;
            };
            let newest = Filter {
                since: Some(since),
                limit: Some(1),
                ..Default::default()
            };
            if let Some(run) = history::filter(runs, &newest).pop() {
                row.last_fire = Some(run.started_at.clone());
                row.last_status = Some(run.status.to_string());
            }
        }
    }
    Ok(out)
}

fn print_table(report: &Report, with_history: bool) {
    let mut header = vec!["BACKEND", "TYPE", "APP", "JOB", "IDX", "HASH", "STATUS"];
    if with_history {
        header.extend(["LAST_FIRE", "LAST_STATUS"]);
    }
    let mut table = crate::printer::Grid::with_header(header);
    let dash = || "-".to_string();
    for backend in &report.backends {
        let mut rows: Vec<[String; 9]> = Vec::new();
        let status = match &backend.error {
            Some(error) => format!("ERROR: {error}"),
            None => "EMPTY".to_string(),
        };
        if backend.entries.is_empty() {
            rows.push([
                backend.name.clone(),
                backend.kind.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                status,
                dash(),
                dash(),
            ]);
        }
        for e in &backend.entries {
            rows.push([
                backend.name.clone(),
                backend.kind.clone(),
                e.app.clone(),
                e.job.clone(),
                e.index.to_string(),
                e.hash.chars().take(16).collect(),
                "OK".to_string(),
                e.last_fire.clone().unwrap_or_else(dash),
                e.last_status.clone().unwrap_or_else(dash),
            ]);
        }
        let mark = if backend.error.is_some() {
            crate::printer::Mark::Failed
        } else {
            crate::printer::Mark::Plain
        };
        for cells in rows {
            let mut row = cells.to_vec();
            if !with_history {
                row.truncate(7);
            }
            table.add_cells(mark, row);
        }
    }
    table.print();
}
