//! `cronix check` against real applies: a job whose crontab line was deleted by hand is reported once
//! its next instant (plus grace) has passed, a job just installed is not; each episode of missed
//! fires raises one signed `missed` alert; `check_every` makes apply keep an owned check entry.

use crate::reconcile_support;
use crate::support;

use std::time::UNIX_EPOCH;

use assert_cmd::Command;
use reconcile_support::{Env, identity, owned_lines};
use serde_json::{Value, json};
use support::{Reply, SECRET_ENV, SENTINEL, Server};

fn manifest(env: &Env) -> String {
    let doc = json!({"version": 1, "app": "billing", "jobs": [{
        "name": "settle", "schedule": "* * * * *",
        "request": {"url": "https://billing.example.com/cron/settle"},
        "policy": {"timeout_seconds": 5, "retries": {"max_attempts": 1}}
    }]});
    env.manifest("billing.json", &doc)
}

fn write_config(env: &Env, text: &str) {
    std::fs::write(env.root().join("cronix.yaml"), text).unwrap();
}

/// `cronix check` on the env's dirs, at `now` (unix seconds) when given.
fn check(env: &Env, now: Option<i64>, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    cmd.arg("check")
        .args(args)
        .arg("--spec-dir")
        .arg(env.spec_dir())
        .arg("--state-dir")
        .arg(env.state_dir())
        .env(SECRET_ENV, SENTINEL);
    env.environment(&mut cmd);
    match now {
        Some(t) => cmd.env("CRONIX_TEST_NOW", t.to_string()),
        None => cmd.env_remove("CRONIX_TEST_NOW"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

fn spec_mtime(env: &Env) -> i64 {
    let modified = std::fs::metadata(env.spec_dir().join("billing.settle.json"))
        .unwrap()
        .modified()
        .unwrap();
    modified.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn delete_entry_by_hand(env: &Env) {
    let text = env.crontab_text();
    let owned = owned_lines(&text, "billing");
    let kept: String = text
        .lines()
        .filter(|l| !owned.contains(l))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(env.crontab(), kept).unwrap();
}

#[test]
fn a_deleted_entry_is_reported_once_its_instant_passed_and_a_fresh_install_is_not() {
    let env = Env::new();
    env.apply(&manifest(&env)).success();
    let (code, out) = check(&env, None, &["--grace", "1m"]);
    assert_eq!(code, 0, "just installed: {out}");
    assert!(out.contains("no missed fires in 1 jobs"), "{out}");
    delete_entry_by_hand(&env);
    let installed = spec_mtime(&env);
    let (code, out) = check(&env, Some(installed + 30), &["--grace", "1m"]);
    assert_eq!(code, 0, "no instant older than the grace yet: {out}");
    let now = installed + 240;
    let (code, out) = check(&env, Some(now), &["--grace", "1m", "-o", "json"]);
    assert_eq!(code, 1, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let job = &report["jobs"][0];
    assert_eq!(job["app"], "billing");
    assert_eq!(job["job"], "settle");
    let missed: Vec<i64> = job["missed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        })
        .collect();
    let first = (installed / 60 + 1) * 60;
    let expected: Vec<i64> = (0..)
        .map(|n| first + 60 * n)
        .take_while(|t| *t <= now - 60)
        .collect();
    assert_eq!(missed, expected);
    let (_, table) = check(&env, Some(now), &["--grace", "1m"]);
    assert!(table.contains("billing.settle\t"), "{table}");
}

#[test]
fn recorded_instants_are_not_missed() {
    let env = Env::new();
    env.apply(&manifest(&env)).success();
    let installed = spec_mtime(&env);
    let first = (installed / 60 + 1) * 60;
    let history = env.state_dir().join("history/billing.settle.jsonl");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    let lines: String = (0..3)
        .map(|n| {
            let t = jiff::Timestamp::from_second(first + 60 * n).unwrap();
            format!(
                "{}\n",
                json!({"run_id": format!("r{n}"), "app": "billing", "job": "settle",
                       "fire_time": format!("{t:.0}"), "started_at": format!("{t:.3}"),
                       "duration_ms": 3, "attempts": 1, "status": "ok", "http_status": 200,
                       "exit_code": 0, "error": null})
            )
        })
        .collect();
    std::fs::write(&history, lines).unwrap();
    let (code, out) = check(&env, Some(first + 120 + 60), &["--grace", "1m"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn each_episode_of_missed_fires_raises_one_signed_alert() {
    let env = Env::new();
    let alerts = Server::start(vec![Reply::status(200)]);
    write_config(
        &env,
        &format!(
            "version: 1\nhost_id: web-1\nalerts:\n  - webhook: {}\n    secret_ref: env:{SECRET_ENV}\n",
            alerts.url("/alerts")
        ),
    );
    env.apply(&manifest(&env)).success();
    let installed = spec_mtime(&env);
    let first = (installed / 60 + 1) * 60;
    let now = first + 300;
    assert_eq!(check(&env, Some(now), &["--grace", "1m"]).0, 1);
    assert_eq!(check(&env, Some(now + 60), &["--grace", "1m"]).0, 1);
    let got = alerts.received();
    assert_eq!(got.len(), 1, "one alert for the episode");
    assert_eq!(got[0].verified, Ok(0));
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["event"], "missed");
    assert_eq!(event["status"], "missed");
    assert_eq!(event["run_id"], Value::Null);
    assert_eq!(event["host_id"], "web-1");
    let first_text = format!("{:.0}", jiff::Timestamp::from_second(first).unwrap());
    assert_eq!(event["intended_fire_time"], first_text.as_str());
    assert_eq!(event["consecutive_failures"], 5);

    // The job fires again (a record), then stops: a new episode, a new alert.
    let recorded = jiff::Timestamp::from_second(first + 420).unwrap();
    let history = env.state_dir().join("history/billing.settle.jsonl");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    std::fs::write(
        &history,
        format!(
            "{}\n",
            json!({"run_id": "r", "app": "billing", "job": "settle",
                   "fire_time": format!("{recorded:.0}"), "started_at": format!("{recorded:.3}"),
                   "duration_ms": 3, "attempts": 1, "status": "ok", "http_status": 200,
                   "exit_code": 0, "error": null})
        ),
    )
    .unwrap();
    assert_eq!(check(&env, Some(first + 720), &["--grace", "1m"]).0, 1);
    let got = alerts.received();
    assert_eq!(got.len(), 2);
    let second: Value = serde_json::from_slice(&got[1].body).unwrap();
    let after = format!("{:.0}", jiff::Timestamp::from_second(first + 480).unwrap());
    assert_eq!(second["intended_fire_time"], after.as_str());
}

#[test]
fn check_every_installs_one_owned_entry_that_app_reconciles_leave_alone() {
    let env = Env::new();
    let foreign = "MAILTO=ops\n17 3 * * * root /usr/bin/backup\n";
    std::fs::write(env.crontab(), foreign).unwrap();
    write_config(&env, "version: 1\ncheck_every: 5m\n");
    env.apply(&manifest(&env)).success();
    let text = env.crontab_text();
    assert!(text.starts_with(foreign), "{text}");
    let check_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" check --spec-dir "))
        .collect();
    assert_eq!(check_lines.len(), 1, "{text}");
    let config = env.root().join("cronix.yaml");
    assert!(
        check_lines[0].starts_with(&format!(
            "*/5 * * * * {} /usr/local/bin/cronix --config {} check --spec-dir {} --state-dir {} >/dev/null",
            cronix::shell::passwd::current_user(),
            config.display(),
            env.spec_dir().display(),
            env.state_dir().display()
        )),
        "{}",
        check_lines[0]
    );
    assert_eq!(text.matches("# cronix:check hash=").count(), 1);
    assert_eq!(owned_lines(&text, "billing").len(), 2);

    let before = identity(&env.crontab());
    env.apply(&manifest(&env)).success();
    assert_eq!(
        identity(&env.crontab()),
        before,
        "a no-op apply writes nothing"
    );

    let other = json!({"version": 1, "app": "search", "jobs": [{
        "name": "reindex", "schedule": "0 * * * *",
        "request": {"url": "https://search.example.com/cron/reindex"}}]});
    env.apply(&env.manifest("search.json", &other)).success();
    let text = env.crontab_text();
    assert_eq!(text.matches("# cronix:check hash=").count(), 1, "{text}");
    let listed = reconcile_support::stdout_of(&env.cmd("list", &[]).assert().success());
    assert!(!listed.contains("check"), "{listed}");

    write_config(&env, "version: 1\ncheck_every: 1h\n");
    env.apply(&manifest(&env)).success();
    let text = env.crontab_text();
    assert_eq!(text.matches("# cronix:check hash=").count(), 1);
    assert!(text.contains("\n0 */1 * * * "), "{text}");

    write_config(&env, "version: 1\n");
    env.apply(&manifest(&env)).success();
    let text = env.crontab_text();
    assert!(!text.contains("cronix:check"), "{text}");
    assert!(!text.contains(" check --spec-dir "), "{text}");
    assert!(text.starts_with(foreign));
    assert_eq!(owned_lines(&text, "billing").len(), 2);
    assert_eq!(owned_lines(&text, "search").len(), 2);
}
