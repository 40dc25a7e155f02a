//! The trigger shim against a local server that verifies every request: headers, signatures, retries,
//! rejections, redirects, timeouts, and the history record each fire leaves.

use crate::support;

use std::time::Duration;

use cronix::core::history::RunStatus;
use serde_json::json;
use support::{APP, Fixture, JOB, Reply, Server};

const PATH: &str = "/api/v1/scheduled/settle?region=eu";

#[test]
fn a_fire_sends_one_signed_request_with_every_header_and_prints_nothing() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    let before = jiff::Timestamp::now().as_second();

    let out = fx.trigger().assert().code(0).get_output().clone();

    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = server.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(
        req.verified,
        Ok(0),
        "the project's verifier accepts the signature"
    );
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, PATH);
    assert_eq!(req.body, br#"{"invoice":42}"#);
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("x-cron-schedule-name"), Some(JOB));
    assert_eq!(req.header("x-cron-attempt"), Some("1"));
    assert_eq!(
        req.header("user-agent"),
        Some(concat!("cronix/", env!("CARGO_PKG_VERSION")))
    );
    let run_id = uuid::Uuid::parse_str(req.header("x-cron-run-id").unwrap()).unwrap();
    assert_eq!(run_id.get_version_num(), 7);
    let actual: i64 = req
        .header("x-cron-fire-time-actual")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        actual >= before && actual <= before + 5,
        "{actual} vs {before}"
    );
    let intended: i64 = req.header("x-cron-fire-time").unwrap().parse().unwrap();
    assert_eq!(intended % 60, 0, "a `* * * * *` job fires on the minute");
    assert!(intended <= actual && actual - intended < 60);
    assert_eq!(req.header("x-cron-previous-success-time"), None);

    let history = fx.history();
    assert_eq!(history.len(), 1);
    let run = &history[0];
    assert_eq!(run.run_id, run_id.to_string());
    assert_eq!((run.app.as_str(), run.job.as_str()), (APP, JOB));
    assert_eq!(run.status, RunStatus::Ok);
    assert_eq!(run.http_status, Some(200));
    assert_eq!((run.attempts, run.exit_code), (1, 0));
    assert_eq!(run.fired().unwrap().as_second(), intended);
}

#[test]
fn the_next_fire_carries_the_previous_success_time() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    fx.trigger().assert().code(0);
    fx.trigger().assert().code(0);
    let got = server.received();
    assert_eq!(got.len(), 2);
    let first_fire_time = got[0].header("x-cron-fire-time").unwrap();
    assert_eq!(
        got[1].header("x-cron-previous-success-time"),
        Some(first_fire_time)
    );
    assert_ne!(
        got[0].header("x-cron-run-id"),
        got[1].header("x-cron-run-id")
    );
}

#[test]
fn a_500_then_200_succeeds_on_attempt_2_with_the_same_run_id() {
    let server = Server::start(vec![Reply::status(500), Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    fx.trigger().assert().code(0);

    let got = server.received();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.verified == Ok(0)));
    assert_eq!(got[0].header("x-cron-attempt"), Some("1"));
    assert_eq!(got[1].header("x-cron-attempt"), Some("2"));
    assert_eq!(
        got[0].header("x-cron-run-id"),
        got[1].header("x-cron-run-id")
    );
    let run = &fx.history()[0];
    assert_eq!(
        (run.status, run.attempts, run.http_status),
        (RunStatus::Ok, 2, Some(200))
    );
}

#[test]
fn a_503_with_retry_after_2_waits_at_least_2_seconds() {
    let server = Server::start(vec![
        Reply::status(503).header("Retry-After", "2"),
        Reply::status(200),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"retries": {"min_seconds": 0, "max_seconds": 10}}),
    ));

    fx.trigger().assert().code(0);

    let got = server.received();
    assert_eq!(got.len(), 2);
    let waited = got[1].at.duration_since(got[0].at);
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
    assert_eq!(got[1].verified, Ok(0), "the retry is signed afresh");
}

#[test]
fn a_400_is_a_rejection_without_retry() {
    let server = Server::start(vec![Reply::status(400)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = fx.trigger().assert().code(1).get_output().clone();

    assert_eq!(server.received().len(), 1);
    let run = &fx.history()[0];
    assert_eq!(run.status, RunStatus::Rejected);
    assert_eq!((run.http_status, run.exit_code), (Some(400), 1));
    assert_eq!(run.error.as_deref(), Some("http_400"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["status"], "rejected");
}

#[test]
fn a_redirect_is_not_followed() {
    let server = Server::start(vec![
        Reply::status(302).header("Location", "/elsewhere"),
        Reply::status(200),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    fx.trigger().assert().code(1);

    std::thread::sleep(Duration::from_millis(200));
    let got = server.received();
    assert_eq!(got.len(), 1, "the Location was not requested");
    assert_eq!(got[0].url, PATH);
    assert_eq!(fx.history()[0].http_status, Some(302));
}

#[test]
fn a_hanging_server_times_out_each_attempt_and_exhausts_the_retries() {
    let server = Server::start(vec![Reply::status(200).after(Duration::from_secs(4))]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"timeout_seconds": 1, "retries": {"max_attempts": 2, "min_seconds": 0, "max_seconds": 1}}),
    ));

    fx.trigger().assert().code(2);

    assert_eq!(server.received().len(), 2);
    let run = &fx.history()[0];
    assert_eq!(run.status, RunStatus::Exhausted);
    assert_eq!((run.attempts, run.exit_code), (2, 2));
    assert_eq!(run.error.as_deref(), Some("timeout"));
    assert_eq!(run.http_status, None);
}

#[test]
fn nothing_listening_is_a_retried_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&format!("http://127.0.0.1:{port}/x"), json!({})));

    fx.trigger().assert().code(2);

    let run = &fx.history()[0];
    assert_eq!((run.status, run.attempts), (RunStatus::Exhausted, 3));
    assert_eq!(run.error.as_deref(), Some("connect"));
}

#[test]
fn an_unset_secret_exits_3_and_sends_nothing() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = fx
        .trigger()
        .env_remove(support::SECRET_ENV)
        .assert()
        .code(3)
        .get_output()
        .clone();

    std::thread::sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("CRONIX_TEST_SECRET is not set"), "{stderr}");
    let run = &fx.history()[0];
    assert_eq!(
        (run.status, run.attempts, run.exit_code),
        (RunStatus::Internal, 0, 3)
    );
    assert_eq!(run.error.as_deref(), Some("secrets"));
}

#[test]
fn empty_secrets_are_skipped_and_none_left_exits_3_and_sends_nothing() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = fx
        .trigger()
        .env(support::SECRET_ENV, "")
        .assert()
        .code(3)
        .get_output()
        .clone();

    std::thread::sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("skipped"), "{stderr}");
    assert!(stderr.contains("env:CRONIX_TEST_SECRET"), "{stderr}");
    assert!(stderr.contains("nothing sent"), "{stderr}");
    assert_eq!(fx.history()[0].status, RunStatus::Internal);
}

#[test]
fn an_empty_first_secret_is_skipped_and_the_next_one_signs() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    let mut spec = fx.spec(&server.url(PATH), json!({}));
    spec["secret_refs"] = json!([
        "env:CRONIX_TEST_EMPTY",
        format!("env:{}", support::SECRET_ENV)
    ]);
    spec["job"]["auth"]["secret_refs"] = spec["secret_refs"].clone();
    fx.write_spec(&spec);

    fx.trigger().env("CRONIX_TEST_EMPTY", "").assert().code(0);

    assert_eq!(server.received()[0].verified, Ok(0));
}

#[test]
fn a_missing_spec_is_an_internal_error_naming_the_file() {
    let fx = Fixture::new();
    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("billing.settle.json"), "{stderr}");
    assert!(stderr.contains("cronix apply"), "{stderr}");
}

#[test]
fn an_invalid_spec_is_an_internal_error() {
    let fx = Fixture::new();
    std::fs::write(fx.spec_dir().join("billing.settle.json"), "{\"format\":1,").unwrap();
    let out = fx.trigger().assert().code(3).get_output().clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid spec file"));
}

#[test]
fn a_malformed_job_id_exits_3() {
    let fx = Fixture::new();
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    let out = cmd
        .args([
            "--config",
            &fx.config().display().to_string(),
            "trigger",
            "no-dot",
        ])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP.JOB"));
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    cmd.args(["trigger", "--no-such-flag", "a.b"])
        .assert()
        .code(3);
}

#[test]
fn info_logs_are_json_lines_with_the_fire_identity() {
    let server = Server::start(vec![Reply::status(500), Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_config("version: 1\nlog_level: info\n");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = fx.trigger().assert().code(0).get_output().clone();

    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    let run_id = server.received()[0]
        .header("x-cron-run-id")
        .unwrap()
        .to_string();
    for line in &lines {
        for key in ["ts", "level", "msg", "app", "job", "run_id"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!(line["run_id"], run_id.as_str());
        assert_eq!(line["app"], APP);
    }
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "response" && l["status"] == 500 && l["attempt"] == 1)
    );
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "fire succeeded" && l["attempts"] == 2)
    );
    // The flag wins over the config.
    let quiet = fx
        .trigger()
        .args(["--log-level", "error"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(quiet.stderr.is_empty());
}

#[test]
fn retention_compacts_history_to_max_runs() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_config("version: 1\nhistory:\n  max_runs: 1\n  max_age_days: 30\n");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Allow"})));
    // Margin for max_runs 1 is 10 records: the 12th fire's file has 12 lines and triggers compaction.
    for _ in 0..12 {
        fx.trigger().assert().code(0);
    }
    let history = fx.history();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].run_id,
        server
            .received()
            .last()
            .unwrap()
            .header("x-cron-run-id")
            .unwrap()
    );
}
