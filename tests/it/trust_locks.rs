//! No lock a stranger can hold, no wait without end: job locks and side locks are 0600, the apply
//! lock wait is bounded, and the shim never hangs on a held history lock.

use crate::reconcile_support;
use crate::support;
use crate::trust_support;

use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Fixture, Reply, Server};
use trust_support::{Stranger, exit_within, open_up};

const PATH: &str = "/api/v1/scheduled/settle";

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn another_user_cannot_hold_a_jobs_lock() {
    let Some(stranger) = Stranger::create("another_user_cannot_hold_a_jobs_lock") else {
        return;
    };
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    open_up(fx.dir.path(), 0o755);
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    fx.trigger().assert().code(0);
    let lock = fx.lock_path();
    let side = fx.path("state/history/billing.settle.jsonl.lock");
    for path in [&lock, &side] {
        assert_eq!(
            std::fs::metadata(path).unwrap().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
    }

    // The stranger tries to hold the job lock (and the history lock) for a long time.
    let mut holders = Vec::new();
    for path in [&lock, &side] {
        let shown = path.display().to_string();
        let mut held = stranger
            .command("flock")
            .args([shown.as_str(), "sleep", "30"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = exit_within(&mut held, Duration::from_secs(5));
        assert!(
            status.is_some_and(|s| !s.success()),
            "the stranger could open {shown}"
        );
        holders.push(held);
    }
    let started = Instant::now();
    fx.trigger().assert().code(0);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.received().len(), 2, "both fires went out");
    for mut held in holders {
        trust_support::stop(&mut held);
    }
}

#[test]
fn an_old_readable_lock_file_is_made_private_by_the_next_fire() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    std::fs::write(fx.lock_path(), b"").unwrap();
    trust_support::open_up(&fx.lock_path(), 0o644);
    fx.trigger().assert().code(0);
    assert_eq!(
        std::fs::metadata(fx.lock_path()).unwrap().mode() & 0o777,
        0o600
    );
}

#[test]
fn the_shim_gives_up_on_a_held_history_lock_instead_of_hanging() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    std::fs::create_dir_all(fx.path("state/history")).unwrap();
    let side = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(fx.path("state/history/billing.settle.jsonl.lock"))
        .unwrap();
    trust_support::open_up(&fx.path("state/history/billing.settle.jsonl.lock"), 0o600);
    side.lock().unwrap();

    let mut child = fx.spawn_trigger();
    let status =
        exit_within(&mut child, Duration::from_secs(10)).expect("the shim hung on history");
    assert_eq!(status.code(), Some(0), "the fire itself succeeded");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot record the run in history") && stderr.contains("history lock"),
        "{stderr}"
    );
    assert_eq!(server.received().len(), 1);
    drop(side);
}

#[test]
fn an_apply_waits_a_bounded_time_for_the_apply_lock() {
    let env = reconcile_support::Env::new();
    std::fs::write(
        env.root().join("cronix.yaml"),
        "apply_lock_wait_seconds: 1\n",
    )
    .unwrap();
    let manifest = env.manifest(
        "m.json",
        &reconcile_support::manifest("shop", &[("sweep", &["@hourly"])]),
    );
    let lock_path = env.crontab().parent().unwrap().join(".cronix.lock");
    let held = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    trust_support::open_up(&lock_path, 0o600);
    held.lock().unwrap();

    let started = Instant::now();
    let assert = env.apply(&manifest).code(3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(
        stderr.contains("held by another apply or prune for more than 1 s"),
        "{stderr}"
    );
    assert!(env.read_crontab().is_empty());
    drop(held);
    env.apply(&manifest).success();
    assert_eq!(std::fs::metadata(&lock_path).unwrap().mode() & 0o777, 0o600);
}
