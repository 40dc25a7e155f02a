//! Issue 16, finding 19: metadata endpoints hidden in NAT64, 6to4, Teredo and IPv4-mapped addresses
//! or named by their well-known host names are refused; a process an alert command starts in a new
//! session does not outlive the alert deadline; cronix processes are not dumpable (no core file, no
//! ptrace by other users) while they hold secrets. Real binary, temp dirs, local servers.

use crate::reconcile_support;
use crate::support;

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use cronix::core::alert::ALERT_BUDGET_MS;
use serde_json::{Value, json};
use support::{Fixture, Reply, SECRET_ENV, SENTINEL, Server};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn metadata_addresses_in_other_forms_and_metadata_names_are_refused_at_their_path() {
    let env = reconcile_support::Env::new();
    for (i, host) in [
        "[64:ff9b::a9fe:a9fe]",
        "[64:ff9b::169.254.169.254]",
        "[::ffff:169.254.169.254]",
        "[2002:a9fe:a9fe::1]",
        "100.100.100.200",
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "Metadata.Google.Internal.",
    ]
    .iter()
    .enumerate()
    {
        let doc = json!({"version": 1, "app": "reports", "jobs": [{
            "name": "daily", "schedule": "@hourly",
            "request": {"url": format!("http://{host}/latest/meta-data")}
        }]});
        let path = env.manifest(&format!("m{i}.json"), &doc);
        let out = env
            .cmd_plain(&["validate", "-o", "json", &path])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{host}: {}", stderr(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["errors"][0]["path"], "jobs/0/request/url",
            "{host}: {doc}"
        );
        assert!(
            doc["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("link-local or cloud metadata"),
            "{host}: {doc}"
        );
    }
}

#[test]
fn the_shim_refuses_a_spec_aimed_at_nat64_metadata_before_sending() {
    let fx = Fixture::new();
    fx.write_spec(&fx.spec("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", json!({})));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("link-local or cloud metadata"),
        "{}",
        stderr(&out)
    );
    let last = fx.history().pop().unwrap();
    assert_eq!(last.error.as_deref(), Some("spec"));
}

/// Whether `pid` is still a process running `sleep 61` (the marker the stray runs).
fn marker_alive(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = state
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    cmdline == b"sleep\x0061\x00" && !zombie
}

#[test]
fn a_process_an_alert_command_starts_in_a_new_session_dies_at_the_deadline() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(500)]);
    let pidfile = fx.path("stray.pid");
    let script = fx.path("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsetsid sh -c 'echo $$ > {}; exec sleep 61' </dev/null >/dev/null 2>&1 &\nsleep 62\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.write_config(&format!(
        "version: 1\nalerts:\n  - command: [\"{}\"]\n    after_failures: 1\n",
        script.display()
    ));
    fx.write_spec(&fx.spec(
        &app.url("/api/run"),
        json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}}),
    ));
    let started = Instant::now();
    let out = fx.trigger().output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        took < Duration::from_millis(ALERT_BUDGET_MS + 3000),
        "the fire is bounded by the alert budget: {took:?}"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the alert command ran and its child wrote its pid")
        .trim()
        .parse()
        .unwrap();
    let gone_by = Instant::now() + Duration::from_secs(2);
    while marker_alive(pid) && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    let alive = marker_alive(pid);
    if alive {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(
        !alive,
        "the setsid grandchild {pid} outlived the alert deadline"
    );
}

/// The group owning `/proc/PID/status`: the process's effective group while it is dumpable, root's
/// once it is not (the kernel hands a non-dumpable process's /proc files, but not the directory
/// itself, to root).
fn proc_gid(pid: u32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .gid()
}

/// Spawn `cmd` with effective group 65534 (nogroup), wait until `ready` says it is mid-work, and
/// return the group owning its /proc directory then.
fn gid_while_running(mut cmd: std::process::Command, ready: impl Fn() -> bool) -> u32 {
    cmd.gid(65534)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(ready(), "the command never reached its peer");
    let gid = proc_gid(child.id());
    let _ = child.kill();
    let _ = child.wait();
    gid
}

#[test]
fn the_shim_is_not_dumpable_while_it_fires() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run the shim with another group");
        return;
    }
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(204).after(Duration::from_secs(5))]);
    fx.write_spec(&fx.spec(&app.url("/api/run"), json!({})));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cronix"));
    cmd.args(fx.trigger_args())
        .env(SECRET_ENV, SENTINEL)
        .env("HOME", fx.dir.path());
    let gid = gid_while_running(cmd, || !app.received().is_empty());
    assert_eq!(
        gid, 0,
        "a dumpable shim's /proc files belong to its group (65534)"
    );
}

#[test]
fn a_manifest_fetch_is_not_dumpable_while_it_holds_the_signing_secret() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run cronix with another group");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        // Accept and never answer: the fetch waits with the secret resolved.
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let env = reconcile_support::Env::new();
    let source = format!("http://127.0.0.1:{port}/.well-known/cron-manifest");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cronix"));
    cmd.args(["validate", "--secret-ref", "env:FETCH_KEY", &source])
        .env("FETCH_KEY", SENTINEL)
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root());
    let gid = gid_while_running(cmd, || accepted.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(gid, 0, "validate must not be dumpable while it signs");
}
