//! `cronix logs`: every attempt of a real fire is kept with its run and printed as readable lines
//! (`-o json`: one object per run and line), for one job or every job merged by time, with `--run`,
//! `--limit`, `--since` and `--follow` (a fire recorded while following shows up).

use crate::support;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Fixture, Reply, SENTINEL, Server, contains, wait_exit};

fn logs(fx: &Fixture, args: &[&str]) -> std::process::Output {
    let state = fx.path("state").display().to_string();
    let jobs = fx.spec_dir().display().to_string();
    assert_cmd::Command::new(support::cronix_bin())
        .args(["--config", &fx.config().display().to_string()])
        .arg("logs")
        .args(args)
        .args(["--state-dir", &state, "--spec-dir", &jobs])
        .env("HOME", fx.dir.path())
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    text(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn each_attempt_of_a_fire_is_kept_and_printed() {
    let server = Server::start(vec![
        Reply::status(503).header("Retry-After", "0"),
        Reply::status(502),
        Reply::status(200).body("ok-body-never-recorded"),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url("/settle?token=q"), json!({})));
    let fire = fx.trigger().output().unwrap();
    assert_eq!(fire.status.code(), Some(0));
    assert!(fire.stdout.is_empty(), "cron mail stays quiet on success");

    let out = logs(&fx, &["billing.settle"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = text(&out);
    assert!(
        lines.contains(" ok (fire ") && lines.contains("3 attempts"),
        "{lines}"
    );
    for expected in [
        "  attempt 1 at ",
        ": http 503 (5xx) in ",
        "  attempt 2 at ",
        ": http 502 (5xx) in ",
        "  attempt 3 at ",
        ": http 200 (ok) in ",
        ", then waited ",
    ] {
        assert!(lines.contains(expected), "{expected:?} in\n{lines}");
    }

    let runs = json_lines(&logs(&fx, &["-o", "json", "billing.settle"]));
    assert_eq!(runs.len(), 1);
    let log = runs[0]["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log.iter()
            .map(|a| (
                a["attempt"].clone(),
                a["http_status"].clone(),
                a["result"].clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (json!(1), json!(503), json!("5xx")),
            (json!(2), json!(502), json!("5xx")),
            (json!(3), json!(200), json!("ok")),
        ]
    );
    assert!(log[0]["wait_ms"].is_u64() && log[1]["wait_ms"].is_u64());
    assert!(
        log[2].get("wait_ms").is_none(),
        "no wait after the last attempt"
    );

    let history = std::fs::read(fx.history_path()).unwrap();
    for secret in [
        SENTINEL,
        "ok-body-never-recorded",
        "application/json",
        "token=q",
    ] {
        assert!(!contains(&history, secret), "{secret} in the history");
        assert!(!contains(&out.stdout, secret), "{secret} in logs");
    }
}

#[test]
fn network_errors_are_classed_and_old_records_still_read() {
    let fx = Fixture::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fx.write_spec(&fx.spec(
        &format!("http://127.0.0.1:{port}/x"),
        json!({"retries": {"max_attempts": 2}}),
    ));
    let fire = fx.trigger().output().unwrap();
    assert_eq!(fire.status.code(), Some(2), "exhausted");
    // A record written before attempts were kept: no attempt_log.
    let old = r#"{"run_id":"old-1","app":"billing","job":"settle","fire_time":"2026-01-01T00:00:00Z","started_at":"2026-01-01T00:00:00.000Z","duration_ms":3,"attempts":1,"status":"ok","http_status":200,"exit_code":0,"error":null}"#;
    let mut text_now = std::fs::read_to_string(fx.history_path()).unwrap();
    text_now.insert_str(0, &format!("{old}\n"));
    std::fs::write(fx.history_path(), text_now).unwrap();

    let runs = json_lines(&logs(&fx, &["-o", "json", "billing.settle"]));
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], "old-1");
    assert!(runs[0].get("attempt_log").is_none());
    let log = runs[1]["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|a| a["result"] == "connect" && a.get("http_status").is_none()),
        "{log:?}"
    );
    let lines = text(&logs(&fx, &["billing.settle"]));
    assert!(
        lines.contains("exhausted (fire") && lines.contains(": connect in "),
        "{lines}"
    );

    let one = logs(&fx, &["billing.settle", "--run", "old-1"]);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(text(&one).lines().count(), 1, "{}", text(&one));
    let none = logs(&fx, &["billing.settle", "--run", "no-such-run"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no-such-run"));
    let recent = json_lines(&logs(
        &fx,
        &["-o", "json", "billing.settle", "--since", "1h"],
    ));
    assert_eq!(recent.len(), 1, "--since drops the 2026-01-01 record");
}

#[test]
fn without_a_job_every_job_is_merged_by_time_newest_last() {
    let server = Server::start(vec![
        Reply::status(200),
        Reply::status(200),
        Reply::status(404),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url("/a"), json!({})));
    let mut other = fx.spec(&server.url("/b"), json!({}));
    other["job"]["name"] = json!("report");
    std::fs::write(fx.spec_dir().join("billing.report.json"), other.to_string()).unwrap();
    fx.trigger().assert().code(0);
    std::thread::sleep(Duration::from_millis(20));
    assert_cmd::Command::new(support::cronix_bin())
        .args(["--config", &fx.config().display().to_string(), "trigger"])
        .args([
            "--spec-dir",
            &fx.spec_dir().display().to_string(),
            "billing.report",
        ])
        .env(support::SECRET_ENV, SENTINEL)
        .env("HOME", fx.dir.path())
        .assert()
        .code(0);
    std::thread::sleep(Duration::from_millis(20));
    fx.trigger().assert().code(1);

    let runs = json_lines(&logs(&fx, &["-o", "json"]));
    let order: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [("settle", "ok"), ("report", "ok"), ("settle", "rejected")]
            .map(|(j, s)| (j.to_string(), s.to_string()))
    );
    let lines = text(&logs(&fx, &["--limit", "1"]));
    assert!(lines.contains(" billing.settle rejected (fire "), "{lines}");
    assert_eq!(lines.lines().filter(|l| !l.starts_with("  ")).count(), 1);
}

#[test]
fn a_job_that_does_not_exist_is_an_error() {
    let fx = Fixture::new();
    let out = logs(&fx, &["billing.nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("billing.nope"));
}

#[test]
fn follow_prints_a_fire_recorded_while_it_runs_and_stops_on_sigterm() {
    let server = Server::start(vec![Reply::status(200), Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url("/x"), json!({})));
    fx.trigger().assert().code(0);
    let mut child = std::process::Command::new(support::cronix_bin())
        .args(["--config", &fx.config().display().to_string()])
        .args(["-o", "json", "logs", "--follow", "--state-dir"])
        .arg(fx.path("state"))
        .env("HOME", fx.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(first["status"], "ok");
    std::thread::sleep(Duration::from_millis(300));
    fx.trigger().assert().code(0);
    let second: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_ne!(
        second["run_id"], first["run_id"],
        "the new fire, printed once"
    );
    assert_eq!(second["attempt_log"][0]["result"], "ok");
    assert!(
        rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "nothing else"
    );

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status =
        wait_exit(&mut child, Duration::from_secs(5)).expect("logs --follow exits on SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_timed_out_attempt_is_classed_timeout() {
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(3)),
        Reply::status(200),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url("/slow"),
        json!({"timeout_seconds": 1, "retries": {"max_attempts": 2}}),
    ));
    fx.trigger().assert().code(0);
    let runs = json_lines(&logs(&fx, &["-o", "json", "billing.settle"]));
    let log = runs[0]["attempt_log"].as_array().unwrap();
    assert_eq!(log[0]["result"], "timeout", "{log:?}");
    assert!(log[0]["duration_ms"].as_u64().unwrap() >= 900, "{log:?}");
    assert!(log[0].get("http_status").is_none());
    assert_eq!(
        (log[1]["http_status"].clone(), log[1]["result"].clone()),
        (json!(200), json!("ok"))
    );
    let lines = text(&logs(&fx, &["billing.settle"]));
    assert!(lines.contains(": timeout in "), "{lines}");
}
