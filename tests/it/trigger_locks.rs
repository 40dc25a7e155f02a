//! Overlap policies of the trigger shim: `Forbid` refuses while the lock is held, `Replace` stops the
//! earlier fire (which records `replaced`), `Allow` takes no lock, and SIGTERM is recorded.

use crate::support;

use std::fs::OpenOptions;
use std::time::{Duration, Instant};

use cronix::core::history::RunStatus;
use serde_json::json;
use support::{Fixture, Reply, Server, wait_exit};

const PATH: &str = "/api/v1/scheduled/settle";

fn hold_lock(fx: &Fixture) -> std::fs::File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(fx.lock_path())
        .unwrap();
    file.try_lock().unwrap();
    file
}

#[test]
fn forbid_with_a_held_lock_exits_4_and_sends_nothing() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    let held = hold_lock(&fx);

    let out = fx.trigger().assert().code(4).get_output().clone();

    std::thread::sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
    let run = &fx.history()[0];
    assert_eq!(
        (run.status, run.attempts, run.exit_code),
        (RunStatus::Contended, 0, 4)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("holds the lock"), "{stderr}");

    drop(held);
    fx.trigger().assert().code(0);
    assert!(fx.lock_path().exists(), "lock files are never unlinked");
}

#[test]
fn a_global_scope_fire_without_locks_redis_sends_nothing_and_exits_3() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"concurrency": "Forbid", "concurrency_scope": "global"}),
    ));
    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no locks.redis"), "{stderr}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.received().is_empty());
    let run = &fx.history()[0];
    assert_eq!(
        (run.status, run.error.as_deref()),
        (RunStatus::Internal, Some("no_global_lock"))
    );
}

#[test]
fn allow_ignores_a_held_lock() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Allow"})));
    let _held = hold_lock(&fx);
    fx.trigger().assert().code(0);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn a_running_forbid_fire_holds_the_lock_against_the_next_one() {
    let server = Server::start(vec![Reply::status(200).after(Duration::from_secs(3))]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    let mut slow = fx.spawn_trigger();
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);

    fx.trigger().assert().code(4);

    assert_eq!(
        wait_exit(&mut slow, Duration::from_secs(10))
            .unwrap()
            .code(),
        Some(0)
    );
    assert_eq!(server.received().len(), 1);
    let statuses: Vec<RunStatus> = fx.history().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RunStatus::Contended, RunStatus::Ok]);
}

#[test]
fn replace_stops_the_slow_earlier_fire_which_records_replaced() {
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(30)),
        Reply::status(200),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"concurrency": "Replace", "timeout_seconds": 60}),
    ));
    let mut slow = fx.spawn_trigger();
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);
    let started = Instant::now();

    fx.trigger().assert().code(0);

    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not wait for the slow fire's timeout"
    );
    let status = wait_exit(&mut slow, Duration::from_secs(5)).expect("the slow fire exited");
    assert_eq!(status.code(), Some(143));
    let got = server.received();
    assert_eq!(got.len(), 2);
    let history = fx.history();
    assert_eq!(history.len(), 2);
    let slow_run = history
        .iter()
        .find(|r| Some(r.run_id.as_str()) == got[0].header("x-cron-run-id"))
        .unwrap();
    assert_eq!(slow_run.status, RunStatus::Replaced);
    assert_eq!(slow_run.exit_code, 143);
    let new_run = history
        .iter()
        .find(|r| Some(r.run_id.as_str()) == got[1].header("x-cron-run-id"))
        .unwrap();
    assert_eq!(new_run.status, RunStatus::Ok);
}

#[test]
fn replace_never_signals_a_lock_holder_it_cannot_verify() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"concurrency": "Replace", "timeout_seconds": 1}),
    ));
    // The test process holds the lock, and the recorded holder is a process that no longer exists.
    let held = hold_lock(&fx);
    std::fs::write(
        fx.lock_path(),
        r#"{"pid":999999,"start_time":12345,"run_id":"gone"}"#,
    )
    .unwrap();
    let started = Instant::now();

    fx.trigger().assert().code(4);

    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "waits max(timeout/2, 5 s)"
    );
    assert!(server.received().is_empty());
    drop(held);
}

#[test]
fn sigterm_from_elsewhere_is_recorded_as_terminated() {
    let server = Server::start(vec![Reply::status(200).after(Duration::from_secs(30))]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"timeout_seconds": 60})));
    let mut slow = fx.spawn_trigger();
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);

    let pid = rustix::process::Pid::from_raw(slow.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();

    let status = wait_exit(&mut slow, Duration::from_secs(5)).expect("the fire exited");
    assert_eq!(status.code(), Some(143));
    let run = &fx.history()[0];
    assert_eq!((run.status, run.attempts), (RunStatus::Terminated, 1));
    // The lock was released with the process.
    let file = OpenOptions::new().write(true).open(fx.lock_path()).unwrap();
    assert!(file.try_lock().is_ok());
}

#[test]
fn a_panic_holding_the_lock_is_recorded_exits_3_and_frees_the_lock() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    let out = fx
        .trigger()
        .env("CRONIX_TEST_PANIC_AT", "job_locked")
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("internal error"));
    assert!(server.received().is_empty());
    let run = &fx.history()[0];
    assert_eq!((run.status, run.exit_code), (RunStatus::Internal, 3));
    assert_eq!(run.error.as_deref(), Some("panic"));
    // The flock died with the process: the next fire takes the lock and sends.
    let _free = hold_lock(&fx);
    drop(_free);
    fx.trigger().assert().code(0);
    assert_eq!(server.received().len(), 1);
}
