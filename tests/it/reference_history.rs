//! The reference's history page (issue 19, item 2): `history` takes every backend flag of the backend
//! it names, like the other reconciler commands. Its examples run as written, with the operator
//! config (`$CRONIX_CONFIG`) putting the state dir in a temp dir; the history is this host's.

use std::path::Path;

use assert_cmd::Command;
use cronix::core::history::{RunRecord, RunStatus};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const ID: &str = "billing.reconcile-payments";

fn record(n: u32, ago_hours: i64, status: RunStatus) -> RunRecord {
    let at = Timestamp::now() - SignedDuration::from_hours(ago_hours);
    let at = format!("{at:.3}");
    RunRecord {
        run_id: format!("run-{n}"),
        app: "billing".into(),
        job: "reconcile-payments".into(),
        fire_time: at.clone(),
        started_at: at,
        duration_ms: 12,
        attempts: 1,
        status,
        http_status: Some(if status == RunStatus::Ok { 200 } else { 503 }),
        exit_code: if status == RunStatus::Ok { 0 } else { 2 },
        error: None,
        host_id: None,
        fallback: None,
        attempt_log: Vec::new(),
    }
}

/// A host in a temp dir: `cronix.yaml` naming `state/`, and three runs 1 h, 30 h and 80 h ago.
fn host() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("history")).unwrap();
    std::fs::write(
        dir.path().join("cronix.yaml"),
        format!("version: 1\nstate_dir: {}\n", state.display()),
    )
    .unwrap();
    let text: String = [
        record(1, 80, RunStatus::Ok),
        record(2, 30, RunStatus::Exhausted),
        record(3, 1, RunStatus::Ok),
    ]
    .iter()
    .map(RunRecord::to_line)
    .collect();
    std::fs::write(state.join(format!("history/{ID}.jsonl")), text).unwrap();
    dir
}

fn cronix(dir: &Path, line: &str) -> assert_cmd::assert::Assert {
    let args: Vec<String> = line
        .split_whitespace()
        .map(|w| w.replace("$TMP", &dir.display().to_string()))
        .collect();
    Command::new(env!("CARGO_BIN_EXE_cronix"))
        .args(&args)
        .env("CRONIX_CONFIG", dir.join("cronix.yaml"))
        .env("HOME", dir)
        .assert()
}

fn run_ids(assert: &assert_cmd::assert::Assert) -> Vec<String> {
    let doc: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

#[test]
fn the_history_pages_systemd_examples_run_as_written() {
    let dir = host();
    // "Last 24 hours of runs from a systemd-timer-backed job"
    let out = cronix(
        dir.path(),
        "history billing.reconcile-payments --backend systemd-timer --since 24h",
    )
    .code(0);
    let text = stdout(&out);
    assert!(text.contains("run-3") && !text.contains("run-2"), "{text}");
    // "A windowed query — yesterday's runs only"
    let out = cronix(
        dir.path(),
        "history billing.reconcile-payments --backend systemd-timer --since 48h --until 24h --limit 0 -o json",
    )
    .code(0);
    assert_eq!(run_ids(&out), ["run-2"]);
}

#[test]
fn every_backend_flag_of_the_backend_it_names_is_accepted() {
    let dir = host();
    for line in [
        // The backend-flags page's crontab flags, the path moved into the temp dir.
        "history billing.reconcile-payments --crontab-path $TMP/tabs/me --trigger-bin /usr/local/bin/cronix",
        "history crontab billing.reconcile-payments --crontab-path $TMP/crontab --crontab-format user --run-as root",
        "history billing.reconcile-payments --crontab-user root --trigger-bin /usr/local/bin/cronix",
        "history billing.reconcile-payments --backend systemd-timer --systemd-unit-dir $TMP/units --trigger-bin /usr/local/bin/cronix",
        "history billing.reconcile-payments --backend crontab --spec-dir $TMP/jobs --lock-dir $TMP/locks",
    ] {
        let out = cronix(dir.path(), &format!("{line} -o json")).code(0);
        assert_eq!(run_ids(&out), ["run-1", "run-2", "run-3"], "{line}");
    }
    // --status failed (the reference's name) with a crontab flag, in JSON.
    let out = cronix(
        dir.path(),
        "history billing.reconcile-payments --crontab-path $TMP/crontab --since 7d --status failed -o json",
    )
    .code(0);
    assert_eq!(run_ids(&out), ["run-2"]);
    // The audit takes them too.
    cronix(
        dir.path(),
        "history --audit --crontab-path $TMP/crontab --trigger-bin /usr/local/bin/cronix",
    )
    .code(0);
}

#[test]
fn the_kubernetes_example_names_the_backend_when_it_is_not_built() {
    // The kubernetes flags parse (they are the reference's); a build without the backend says so.
    let dir = host();
    let out = cronix(
        dir.path(),
        "history billing.reconcile-payments --backend kubernetes --in-cluster --k8s-namespace billing --since 7d --status failed -o json",
    )
    .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("backend kubernetes is not built in this version"),
        "{err}"
    );
}
