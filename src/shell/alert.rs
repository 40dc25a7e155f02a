//! Delivering alert events: a signed webhook POST or a command fed the event on standard input, all
//! targets of one batch in parallel under one deadline (`ALERT_BUDGET_MS`).
//!
//! One attempt per target, never retried; a failure is logged once. The shim's exit code and history
//! are never touched from here. Must not log or pass on the secret, the signature, a response body or
//! a command's output; commands run with a cleared environment and are killed at the deadline.
//!
//! What "killed" covers: each command leads its own process group, and the whole group gets SIGKILL
//! at the deadline. Before commands start, this process becomes a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so a descendant that leaves the group (`setsid`, a double fork) is
//! re-parented here instead of to init; when the batch is done, such strays get until the deadline
//! to exit and are then killed, round after round, until none is left (bounded). Not covered: work
//! a command hands to another service (`systemd-run`, `at`, a daemon over a socket), which never was
//! its descendant.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use slog::{Logger, info, warn};

use crate::core::alert::{ALERT_BUDGET_MS, AlertEvent, AlertTarget, Delivery};
use crate::core::manifest::Method;
use crate::core::signature;
use crate::shell::http::{self, Outgoing};
use crate::shell::secrets;
use crate::shell::source;

/// The environment an alert command gets (nothing of the shim's own, which may hold secrets).
const COMMAND_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One event for one target.
pub struct Item<'a> {
    pub target: &'a AlertTarget,
    pub event: AlertEvent,
}

/// Deliver every item in parallel and return when all are done or the budget is spent.
pub fn dispatch(
    items: Vec<Item<'_>>,
    env_file: Option<&Path>,
    transport: &http::Transport,
    log: &Logger,
) {
    if items.is_empty() {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(ALERT_BUDGET_MS);
    let commands = items
        .iter()
        .any(|i| matches!(i.target.delivery(), Some(Delivery::Command { .. })));
    if commands {
        // Orphans of the commands come back to us instead of init (see the module doc).
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    wait_for_deliveries(items, env_file, transport, deadline, log);
    if commands {
        let killed = end_strays(deadline);
        if killed > 0 {
            warn!(log, "alert command left processes running past the deadline; killed";
                  "budget_ms" => ALERT_BUDGET_MS, "killed" => killed);
        }
    }
}

fn wait_for_deliveries(
    items: Vec<Item<'_>>,
    env_file: Option<&Path>,
    transport: &http::Transport,
    deadline: Instant,
    log: &Logger,
) {
    let (tx, rx) = mpsc::channel::<()>();
    let count = items.len();
    for item in items {
        let Some(delivery) = item.target.delivery() else {
            let _ = tx.send(());
            continue;
        };
        let tx = tx.clone();
        let log = log.new(slog::o!("alert_event" => item.event.event.as_str()));
        let env_file = env_file.map(Path::to_path_buf);
        let transport = transport.clone();
        let event = item.event;
        let owned = OwnedDelivery::from(&delivery);
        std::thread::spawn(move || {
            owned.deliver(&event, env_file.as_deref(), &transport, deadline, &log);
            let _ = tx.send(());
        });
    }
    drop(tx);
    let mut done = 0;
    while done < count {
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100);
        match rx.recv_timeout(left) {
            Ok(()) => done += 1,
            Err(_) => {
                warn!(log, "alert delivery still running at the deadline; abandoned";
                      "budget_ms" => ALERT_BUDGET_MS, "pending" => count - done);
                return;
            }
        }
    }
}

/// A delivery the worker thread owns.
enum OwnedDelivery {
    Webhook { url: String, secret_ref: String },
    Command { argv: Vec<String> },
}

impl OwnedDelivery {
    fn from(d: &Delivery<'_>) -> OwnedDelivery {
        match d {
            Delivery::Webhook { url, secret_ref } => OwnedDelivery::Webhook {
                url: url.to_string(),
                secret_ref: secret_ref.to_string(),
            },
            Delivery::Command { argv } => OwnedDelivery::Command {
                argv: argv.to_vec(),
            },
        }
    }

    fn deliver(
        &self,
        event: &AlertEvent,
        env_file: Option<&Path>,
        transport: &http::Transport,
        deadline: Instant,
        log: &Logger,
    ) {
        let result = match self {
            OwnedDelivery::Webhook { url, secret_ref } => {
                webhook(url, secret_ref, event, env_file, transport, deadline)
                    .map_err(|e| (format!("webhook {}", display_url(url)), e))
            }
            OwnedDelivery::Command { argv } => command(argv, event, deadline).map_err(|e| {
                (
                    format!("command {}", argv.first().map_or("", String::as_str)),
                    e,
                )
            }),
        };
        match result {
            Ok(what) => info!(log, "alert delivered"; "to" => what),
            Err((to, why)) => {
                warn!(log, "alert not delivered (not retried)"; "to" => to, "error" => why)
            }
        }
    }
}

/// The URL without query or userinfo, for logs.
fn display_url(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| "(invalid url)".into(), |u| source::display_url(&u))
}

fn webhook(
    url: &str,
    secret_ref: &str,
    event: &AlertEvent,
    env_file: Option<&Path>,
    transport: &http::Transport,
    deadline: Instant,
) -> Result<String, String> {
    let resolved = secrets::resolve(&[secret_ref.to_string()], env_file)?;
    let secret = resolved
        .secrets
        .first()
        .ok_or_else(|| format!("secret {secret_ref} resolved to nothing; nothing sent"))?;
    let url = url::Url::parse(url).map_err(|e| format!("invalid url ({e})"))?;
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("no time left in the alert budget".into());
    }
    let client = http::shim_client(&url, left, transport)?;
    let body = event.to_json();
    let path = http::path_and_query(&url);
    let signed = signature::sign(
        secret,
        Timestamp::now().as_second(),
        "POST",
        &path,
        body.as_bytes(),
    );
    let outgoing = Outgoing {
        method: Method::Post,
        url: &url,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Cron-Event".into(), event.event.as_str().into()),
        ],
        sensitive: vec![("X-Cron-Signature".into(), signed.expose().to_string())],
        body: body.as_bytes(),
    };
    match client.send(&outgoing) {
        Ok(reply) if (200..300).contains(&reply.status) => Ok(format!("http_{}", reply.status)),
        Ok(reply) => Err(format!("answered http_{}", reply.status)),
        Err(e) => Err(e.class().to_string()),
    }
}

/// Run the command with the event on stdin; killed at the deadline.
fn command(argv: &[String], event: &AlertEvent, deadline: Instant) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    check_program(Path::new(program))?;
    let mut child = Command::new(program)
        .args(args)
        .process_group(0)
        .env_clear()
        .env("PATH", COMMAND_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start it ({e})"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is not an error; it still ran.
        let _ = stdin.write_all(event.to_json().as_bytes());
    }
    wait_until(&mut child, deadline)
}

fn wait_until(child: &mut Child, deadline: Instant) -> Result<String, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok("exit 0".into()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                kill_group(child);
                let _ = child.wait();
                return Err(format!(
                    "killed after the {ALERT_BUDGET_MS} ms alert budget"
                ));
            }
            Err(e) => return Err(format!("cannot wait for it ({e})")),
        }
    }
}

/// SIGKILL the command and everything it started (it leads its own process group).
fn kill_group(child: &mut Child) {
    let group = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    match group {
        Some(pid) => {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        None => {
            let _ = child.kill();
        }
    }
}

/// Most rounds of killing strays (each round catches the orphans of the one before).
const STRAY_ROUNDS: usize = 32;

/// Wait until `deadline` for this process's children to exit (reaping them), then SIGKILL those
/// left, round after round. Only called after every command of the batch was waited for or killed,
/// so a child found here is a stray a command left behind. Returns how many were killed.
fn end_strays(deadline: Instant) -> usize {
    let me = rustix::process::getpid();
    loop {
        if reap_exited(children_of(me)).is_empty() {
            return 0;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut killed = std::collections::BTreeSet::new();
    for _ in 0..STRAY_ROUNDS {
        let strays = reap_exited(children_of(me));
        if strays.is_empty() {
            break;
        }
        for pid in strays {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            killed.insert(pid.as_raw_nonzero());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = reap_exited(children_of(me));
    killed.len()
}

/// The children that have not exited; the ones that have are reaped.
fn reap_exited(children: Vec<rustix::process::Pid>) -> Vec<rustix::process::Pid> {
    children
        .into_iter()
        .filter(|pid| {
            !matches!(
                rustix::process::waitpid(Some(*pid), rustix::process::WaitOptions::NOHANG),
                Ok(Some(_)) | Err(_)
            )
        })
        .collect()
}

/// The processes whose parent is `parent`, from `/proc/PID/stat` (field 4, after the command name
/// in parentheses, which may itself hold spaces and parentheses).
fn children_of(parent: rustix::process::Pid) -> Vec<rustix::process::Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                == Some(parent.as_raw_nonzero().get())
        })
        .filter_map(rustix::process::Pid::from_raw)
        .collect()
}

/// The program passes the binary rule of `trusted_path`: a regular, executable file, and neither it
/// nor any directory on its path replaceable by a user other than root or this one (root runs it).
fn check_program(path: &Path) -> Result<(), String> {
    crate::shell::trusted_path::check_binary(path, None)
}
