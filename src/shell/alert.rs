//! Delivering alert events: a signed webhook POST or a command fed the event on standard input, all
//! targets of one batch in parallel under one deadline (`ALERT_BUDGET_MS`).
//!
//! One attempt per target, never retried; a failure is logged once. The shim's exit code and history
//! are never touched from here. Must not log or pass on the secret, the signature, a response body or
//! a command's output; commands run with a cleared environment and are killed at the deadline.

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
pub fn dispatch(items: Vec<Item<'_>>, env_file: Option<&Path>, log: &Logger) {
    if items.is_empty() {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(ALERT_BUDGET_MS);
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
        let event = item.event;
        let owned = OwnedDelivery::from(&delivery);
        std::thread::spawn(move || {
            owned.deliver(&event, env_file.as_deref(), deadline, &log);
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
        deadline: Instant,
        log: &Logger,
    ) {
        let result = match self {
            OwnedDelivery::Webhook { url, secret_ref } => {
                webhook(url, secret_ref, event, env_file, deadline)
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
    let client = http::shim_client(&url, left)?;
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

/// The program passes the binary rule of `trusted_path`: a regular, executable file, and neither it
/// nor any directory on its path replaceable by a user other than root or this one (root runs it).
fn check_program(path: &Path) -> Result<(), String> {
    crate::shell::trusted_path::check_binary(path, None)
}
