//! Alerts from real fires: a local receiver verifies every alert's X-Cron-Signature with the trigger
//! scheme; streaks alert once at `after_failures` and once on recovery; a command target gets the same
//! event on stdin; concurrent failing fires raise one alert; a hanging endpoint costs at most the
//! alert budget; every attempt carries a well-formed traceparent.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use cronix::core::alert::ALERT_BUDGET_MS;
use cronix::core::trace;
use serde_json::{Value, json};
use support::{Fixture, Reply, SECRET_ENV, Server};

const PATH: &str = "/api/run";

fn one_attempt() -> Value {
    json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}})
}

fn webhook_config(alerts: &Server, extra: &str) -> String {
    format!(
        "version: 1\nhost_id: web-1\nalerts:\n  - webhook: {}\n    secret_ref: env:{SECRET_ENV}\n    after_failures: 2\n{extra}",
        alerts.url("/hooks/cronix?team=ops")
    )
}

fn events(server: &Server) -> Vec<Value> {
    server
        .received()
        .iter()
        .map(|r| {
            assert_eq!(r.verified, Ok(0), "alert signature must verify: {r:?}");
            assert_eq!(r.method, "POST");
            assert_eq!(r.url, "/hooks/cronix?team=ops");
            assert!(r.header("traceparent").is_none());
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect()
}

/// A `/bin/sh` script (0755) that appends its stdin and a newline to `out`.
fn recorder_script(fx: &Fixture, out: &std::path::Path) -> String {
    let script = fx.path("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >> {}\necho >> {}\n",
            out.display(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

#[test]
fn a_streak_alerts_once_at_the_threshold_then_once_on_recovery() {
    let fx = Fixture::new();
    let app = Server::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
        Reply::status(200),
    ]);
    let alerts = Server::start(vec![Reply::status(204)]);
    let out = fx.path("command-events.jsonl");
    let script = recorder_script(&fx, &out);
    fx.write_config(&webhook_config(
        &alerts,
        &format!("  - command: [\"{script}\"]\n    after_failures: 2\n"),
    ));
    fx.write_spec(&fx.spec(&app.url(PATH), one_attempt()));
    let mut counts = Vec::new();
    for expected_exit in [2, 2, 2, 0, 0] {
        fx.trigger().assert().code(expected_exit);
        counts.push(events(&alerts).len());
    }
    assert_eq!(counts, [0, 1, 1, 2, 2], "alerts after each fire");
    let got = events(&alerts);
    let history = fx.history();
    assert_eq!(got[0]["event"], "failing");
    assert_eq!(got[0]["consecutive_failures"], 2);
    assert_eq!(got[0]["run_id"], history[1].run_id.as_str());
    assert_eq!(got[0]["status"], "exhausted");
    assert_eq!(got[0]["exit_code"], 2);
    assert_eq!(got[0]["http_status"], 500);
    assert_eq!(got[0]["attempts"], 1);
    assert_eq!(got[0]["intended_fire_time"], history[1].fire_time.as_str());
    assert_eq!(got[0]["host_id"], "web-1");
    assert_eq!(got[0]["app"], "billing");
    assert_eq!(got[0]["job"], "settle");
    assert_eq!(got[1]["event"], "recovered");
    assert_eq!(got[1]["run_id"], history[3].run_id.as_str());
    assert_eq!(got[1]["status"], "ok");
    assert_eq!(got[1]["consecutive_failures"], 3);
    let command_events: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        command_events, got,
        "the command gets the same events on stdin"
    );
    assert_eq!(history.len(), 5, "alerts never add or change records");
    let alerted = String::from_utf8_lossy(
        &std::fs::read(fx.path("state/alerts/billing.settle.json")).unwrap(),
    )
    .into_owned();
    assert_eq!(alerted, "{\"consecutive_failures\":0}");
    let mode = std::fs::metadata(fx.path("state/alerts/billing.settle.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn every_event_matches_the_alert_schema() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(500), Reply::status(200)]);
    let alerts = Server::start(vec![Reply::status(200)]);
    fx.write_config(&webhook_config(&alerts, "").replace("after_failures: 2", "after_failures: 1"));
    fx.write_spec(&fx.spec(&app.url(PATH), one_attempt()));
    fx.trigger().assert().code(2);
    fx.trigger().assert().code(0);
    let schema: Value =
        serde_json::from_str(include_str!("../../schemas/alert.schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let got = events(&alerts);
    assert_eq!(got.len(), 2);
    for event in &got {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event}: {errors:?}");
    }
    let mut broken = got[0].clone();
    broken["signature"] = json!("t=1,v1=00");
    assert!(!validator.is_valid(&broken), "the schema is strict");
}

#[test]
fn concurrent_failing_fires_raise_one_alert() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(500).after(Duration::from_millis(300))]);
    let alerts = Server::start(vec![Reply::status(200)]);
    fx.write_config(&webhook_config(&alerts, "").replace("after_failures: 2", "after_failures: 1"));
    let mut policy = one_attempt();
    policy["concurrency"] = json!("Allow");
    fx.write_spec(&fx.spec(&app.url(PATH), policy));
    let children: Vec<_> = (0..4).map(|_| fx.spawn_trigger()).collect();
    for child in children {
        assert_eq!(child.wait_with_output().unwrap().status.code(), Some(2));
    }
    assert_eq!(fx.history().len(), 4);
    let got = events(&alerts);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["consecutive_failures"], 1);
}

#[test]
fn a_hanging_endpoint_delays_the_exit_by_at_most_the_budget() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(500)]);
    let alerts = Server::start(vec![Reply::status(200).after(Duration::from_secs(30))]);
    let sleeper = fx.path("hang.sh");
    let pidfile = fx.path("sleep.pid");
    std::fs::write(
        &sleeper,
        format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sleeper, std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.write_config(&format!(
        "{}  - command: [\"{}\"]\n",
        webhook_config(&alerts, "").replace("after_failures: 2", "after_failures: 1"),
        sleeper.display()
    ));
    fx.write_spec(&fx.spec(&app.url(PATH), one_attempt()));
    let started = Instant::now();
    let out = fx
        .trigger()
        .args(["--log-level", "warn"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2), "the fire's own exit code");
    assert_eq!(alerts.wait_for(1, Duration::from_secs(1)), 1);
    let bound = Duration::from_millis(ALERT_BUDGET_MS + 1500);
    assert!(took < bound, "took {took:?}, bound {bound:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("killed after"), "{stderr}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state.rsplit(')').next().unwrap_or("").trim_start();
    assert!(
        state.is_empty() || state.starts_with('Z'),
        "the command's own child was killed too: {state}"
    );
    assert!(!stderr.contains("response body"), "{stderr}");
    assert_eq!(fx.history()[0].status.as_str(), "exhausted");
}

#[test]
fn a_failing_endpoint_is_logged_once_and_not_retried() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(500)]);
    let alerts = Server::start(vec![Reply::status(503)]);
    fx.write_config(&webhook_config(&alerts, "").replace("after_failures: 2", "after_failures: 1"));
    fx.write_spec(&fx.spec(&app.url(PATH), one_attempt()));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(alerts.received().len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("alert not delivered").count(), 1, "{stderr}");
    assert!(stderr.contains("http_503"), "{stderr}");
}

#[test]
fn bad_alert_targets_are_refused_with_their_place() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(200)]);
    fx.write_spec(&fx.spec(&app.url(PATH), one_attempt()));
    for (config, needle) in [
        (
            "alerts:\n  - webhook: http://alerts.example.com/x\n    secret_ref: env:A\n",
            "alerts[0].webhook",
        ),
        ("alerts:\n  - command: [notify]\n", "absolute path"),
        (
            "alerts:\n  - command: [/bin/true]\n    afer_failures: 2\n",
            "afer_failures",
        ),
        ("check_every: 7m\n", "check_every"),
    ] {
        fx.write_config(config);
        let out = fx.trigger().output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{config}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{config}: {stderr}");
    }
    assert_eq!(app.received().len(), 0);
}

#[test]
fn every_attempt_carries_a_well_formed_traceparent_that_is_logged() {
    let fx = Fixture::new();
    let app = Server::start(vec![
        Reply::status(500),
        Reply::status(503),
        Reply::status(200),
    ]);
    fx.write_spec(&fx.spec(&app.url(PATH), json!({})));
    let out = fx.trigger().args(["--log-level", "info"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got = app.received();
    assert_eq!(got.len(), 3);
    let run_id = fx.history()[0].run_id.replace('-', "");
    let values: Vec<String> = got
        .iter()
        .map(|r| r.header("traceparent").unwrap().to_string())
        .collect();
    for value in &values {
        assert!(trace::is_well_formed(value), "{value}");
        assert_eq!(&value[3..35], run_id, "trace id from the run id");
    }
    let spans: std::collections::BTreeSet<&str> = values.iter().map(|v| &v[36..52]).collect();
    assert_eq!(spans.len(), 3, "a span id per attempt");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for value in &values {
        assert!(stderr.contains(value.as_str()), "logged: {value}");
    }
}
