//! `cronix history` and `cronix global-status` on real history, audit and spec files.

use crate::support;

use cronix::core::history::{RunRecord, RunStatus};
use serde_json::{Value, json};
use support::{Fixture, Reply, Server};

fn record(n: u32, started_at: &str, status: RunStatus) -> RunRecord {
    RunRecord {
        run_id: format!("run-{n}"),
        app: "billing".into(),
        job: "settle".into(),
        fire_time: started_at.into(),
        started_at: started_at.into(),
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

fn write_history(fx: &Fixture, records: &[RunRecord], tail: &str) {
    let path = fx.history_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text: String = records.iter().map(RunRecord::to_line).collect();
    text.push_str(tail);
    std::fs::write(path, text).unwrap();
}

fn cronix(fx: &Fixture, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    cmd.args(["--config", &fx.config().display().to_string()])
        .args(args)
        .env("HOME", fx.dir.path());
    cmd
}

fn json_out(cmd: &mut assert_cmd::Command) -> Value {
    let out = cmd.assert().code(0).get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn sample(fx: &Fixture) {
    write_history(
        fx,
        &[
            record(1, "2026-01-01T00:00:00.000Z", RunStatus::Ok),
            record(2, "2026-01-02T00:00:00.000Z", RunStatus::Exhausted),
            record(3, "2026-01-03T00:00:00.000Z", RunStatus::Ok),
        ],
        "{\"run_id\":\"torn", // a crash mid-append
    );
}

#[test]
fn history_lists_runs_oldest_first_and_skips_a_torn_line() {
    let fx = Fixture::new();
    sample(&fx);
    let state = fx.path("state").display().to_string();
    let runs = json_out(&mut cronix(
        &fx,
        &[
            "-o",
            "json",
            "history",
            "billing.settle",
            "--state-dir",
            &state,
        ],
    ));
    assert_eq!(
        (&runs["app"], &runs["job"]),
        (&json!("billing"), &json!("settle"))
    );
    let runs = runs["runs"].clone();
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["run-1", "run-2", "run-3"]);
    assert_eq!(runs[1]["status"], "exhausted");
    assert_eq!(runs[1]["http_status"], 503);

    let table = cronix(&fx, &["history", "billing.settle", "--state-dir", &state])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(table).unwrap();
    assert!(table.lines().next().unwrap().contains("STATUS"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(
        table.contains("exhausted") && table.contains("run-3"),
        "{table}"
    );
}

#[test]
fn history_filters_by_status_since_and_limit() {
    let fx = Fixture::new();
    sample(&fx);
    let state = fx.path("state").display().to_string();
    let base = [
        "-o",
        "json",
        "history",
        "billing.settle",
        "--state-dir",
        &state,
    ];
    let ids = |extra: &[&str]| -> Vec<String> {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        json_out(&mut cronix(&fx, &args))["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["--status", "ok"]), ["run-1", "run-3"]);
    assert_eq!(
        ids(&["--since", "2026-01-02T00:00:00Z"]),
        ["run-2", "run-3"]
    );
    assert_eq!(ids(&["--limit", "1"]), ["run-3"]);
    assert_eq!(
        ids(&[
            "--status",
            "ok",
            "--limit",
            "1",
            "--since",
            "2026-01-01T00:00:00Z"
        ]),
        ["run-3"]
    );
    let out = cronix(
        &fx,
        &[
            "history",
            "billing.settle",
            "--state-dir",
            &state,
            "--status",
            "fine",
        ],
    )
    .assert()
    .code(2)
    .get_output()
    .stderr
    .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("exhausted"),
        "lists the valid statuses"
    );
}

#[test]
fn history_of_a_job_without_runs_says_so() {
    let fx = Fixture::new();
    fx.write_spec(&fx.spec("https://billing.example.com/settle", json!({})));
    let state = fx.path("state").display().to_string();
    let spec_dir = fx.spec_dir().display().to_string();
    let out = cronix(
        &fx,
        &[
            "history",
            "billing.settle",
            "--state-dir",
            &state,
            "--spec-dir",
            &spec_dir,
        ],
    )
    .assert()
    .code(0)
    .get_output()
    .stdout
    .clone();
    assert!(String::from_utf8_lossy(&out).contains("no runs of billing.settle"));
    assert_eq!(
        json_out(&mut cronix(
            &fx,
            &[
                "-o",
                "json",
                "history",
                "billing.settle",
                "--state-dir",
                &state,
                "--spec-dir",
                &spec_dir
            ]
        )),
        json!({"app": "billing", "job": "settle", "runs": []})
    );
}

#[test]
fn history_audit_reads_the_apply_journal() {
    let fx = Fixture::new();
    let audit = json!({
        "ts": "2026-01-05T10:00:00Z", "command": "apply", "user": "root", "sudo_user": "ada",
        "source": "examples/billing.json", "digest": "ab", "target": "/etc/cron.d/cronix",
        "ops": [{"op": "create", "kind": "entry", "app": "billing", "job": "settle", "idx": 0}]
    });
    std::fs::write(fx.path("state/audit.jsonl"), format!("{audit}\n{{\"ts\":")).unwrap();
    let state = fx.path("state").display().to_string();
    let records = json_out(&mut cronix(
        &fx,
        &["-o", "json", "history", "--audit", "--state-dir", &state],
    ));
    assert_eq!(records, json!({"audit": [audit]}));
    let table = cronix(&fx, &["history", "--audit", "--state-dir", &state])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(table).unwrap();
    assert!(
        table.contains("create entry billing.settle#0") && table.contains("root (sudo ada)"),
        "{table}"
    );
}

#[test]
fn global_status_lists_every_spec_with_its_last_run() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url("/x"), json!({})));
    fx.trigger().assert().code(0);
    let mut other = fx.spec(&server.url("/y"), json!({}));
    other["job"]["name"] = json!("report");
    other["job"]["schedules"] = json!(["0 6 * * *"]);
    std::fs::write(fx.spec_dir().join("billing.report.json"), other.to_string()).unwrap();
    std::fs::write(fx.spec_dir().join("README.txt"), "not a spec").unwrap();
    let jobs = fx.spec_dir().display().to_string();
    let crontab = fx.path("crontab").display().to_string();

    let rows = json_out(&mut cronix(
        &fx,
        &[
            "-o",
            "json",
            "global-status",
            "--spec-dir",
            &jobs,
            "--crontab-path",
            &crontab,
        ],
    ));

    let rows = rows["jobs"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0]["app"].as_str(), rows[0]["job"].as_str()),
        (Some("billing"), Some("report"))
    );
    assert_eq!(rows[0]["last_run"], Value::Null);
    assert_eq!(rows[0]["schedules"], json!(["0 6 * * *"]));
    // Nothing is installed: no next fire as installed, the spec's own next fire beside it.
    assert_eq!(rows[0]["next_fire"], Value::Null);
    let next: jiff::Timestamp = rows[0]["spec_next_fire"].as_str().unwrap().parse().unwrap();
    assert!(next > jiff::Timestamp::now());
    assert!(
        rows[0]["spec_next_fire"]
            .as_str()
            .unwrap()
            .ends_with("T06:00:00Z")
    );
    assert_eq!(rows[1]["job"], "settle");
    assert_eq!(rows[1]["last_run"]["status"], "ok");
    assert_eq!(
        rows[1]["last_run"]["run_id"],
        fx.history()[0].run_id.as_str()
    );

    let table = cronix(
        &fx,
        &[
            "global-status",
            "--spec-dir",
            &jobs,
            "--crontab-path",
            &crontab,
        ],
    )
    .assert()
    .code(0)
    .get_output()
    .stdout
    .clone();
    let table = String::from_utf8(table).unwrap();
    assert!(
        table.contains("billing.report") && table.contains("never"),
        "{table}"
    );
    assert!(
        table.contains("billing.settle") && table.contains(" ok "),
        "{table}"
    );
}

/// The reference tool's history flags: `--until` (a window with `--since`), durations ago such as
/// `90m`, `24h`, `7d`, `--limit 0` for all, and its status names mapped onto ours.
#[test]
fn history_takes_the_reference_tools_window_limit_and_status_names() {
    let fx = Fixture::new();
    let now = jiff::Timestamp::now();
    let ago = |hours: i64| (now - jiff::SignedDuration::from_hours(hours)).to_string();
    let mut timed_out = record(5, &ago(1), RunStatus::Exhausted);
    timed_out.error = Some("timeout".into());
    write_history(
        &fx,
        &[
            record(1, &ago(24 * 10), RunStatus::Ok),
            record(2, &ago(36), RunStatus::Rejected),
            record(3, &ago(30), RunStatus::Contended),
            record(4, &ago(2), RunStatus::Ok),
            timed_out,
        ],
        "",
    );
    let state = fx.path("state").display().to_string();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec![
            "history",
            "billing.settle",
            "-o",
            "json",
            "--state-dir",
            &state,
        ];
        all.extend_from_slice(args);
        json_out(&mut cronix(&fx, &all))["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&["--since", "48h", "--until", "24h"]),
        ["run-2", "run-3"]
    );
    assert_eq!(
        ids(&["--since", "7d"]),
        ["run-2", "run-3", "run-4", "run-5"]
    );
    assert_eq!(ids(&["--since", "90m"]), ["run-5"]);
    assert_eq!(ids(&["--until", &ago(3)]), ["run-1", "run-2", "run-3"]);
    assert_eq!(ids(&["--limit", "0"]).len(), 5);
    assert_eq!(ids(&["--limit", "2"]), ["run-4", "run-5"]);
    assert_eq!(ids(&["--status", "failed"]), ["run-2", "run-5"]);
    assert_eq!(ids(&["--status", "lock-contended"]), ["run-3"]);
    assert_eq!(ids(&["--status", "timeout"]), ["run-5"]);
    assert_eq!(ids(&["--status", "contended"]), ["run-3"]);
    let bad = cronix(
        &fx,
        &[
            "history",
            "billing.settle",
            "--status",
            "nope",
            "--state-dir",
            &state,
        ],
    )
    .assert()
    .code(2);
    let err = String::from_utf8_lossy(&bad.get_output().stderr).into_owned();
    assert!(err.contains("lock-contended"), "{err}");
}

#[test]
fn the_same_kind_of_error_exits_the_same_way_on_every_command() {
    let fx = Fixture::new();
    let state = fx.path("state").display().to_string();
    let spec_dir = fx.spec_dir().display().to_string();
    // A malformed flag value is a usage error (2), whichever command and flag.
    for args in [
        vec!["history", "billing.settle", "--since", "abc"],
        vec!["history", "billing.settle", "--until", "abc"],
        vec!["check", "--grace", "abc"],
        vec!["next", "@daily", "--count", "0"],
    ] {
        let mut all = args.clone();
        all.extend(["--state-dir", &state, "--spec-dir", &spec_dir]);
        if args[0] == "next" {
            all.truncate(args.len());
        }
        cronix(&fx, &all).assert().code(2);
    }
    // A job that has neither history nor a spec does not exist: 1, naming the way to find names.
    let out = cronix(
        &fx,
        &[
            "history",
            "no.such-job",
            "--state-dir",
            &state,
            "--spec-dir",
            &spec_dir,
        ],
    )
    .assert()
    .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("no.such-job") && err.contains("cronix list"),
        "{err}"
    );
    // A job with a spec and no runs yet is not an error.
    let spec = fx.spec("https://billing.example.com/settle", json!({}));
    fx.write_spec(&spec);
    cronix(
        &fx,
        &[
            "history",
            "billing.settle",
            "--state-dir",
            &state,
            "--spec-dir",
            &spec_dir,
        ],
    )
    .assert()
    .success();
}
