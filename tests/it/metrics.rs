//! Metrics from real fires: the shim keeps the textfile current after every fire (atomically, from
//! the history tails), `promtool check metrics` accepts it, its values match the history, and
//! `cronix metrics` prints the same exposition from the whole histories.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::json;
use support::{Fixture, Reply, Server};

const PATH: &str = "/api/run";

/// `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn key(name: &str, extra: &str) -> String {
    format!("{name}{{app=\"billing\",job=\"settle\",host=\"web-1\"{extra}}}")
}

fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "SKIP: promtool is not installed (Debian package prometheus); textfile not linted"
        );
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn configure(fx: &Fixture) -> std::path::PathBuf {
    let textfile = fx.path("textfile/cronix.prom");
    std::fs::create_dir_all(textfile.parent().unwrap()).unwrap();
    fx.write_config(&format!(
        "version: 1\nhost_id: web-1\nmetrics:\n  textfile: {}\n",
        textfile.display()
    ));
    textfile
}

#[test]
#[cfg_attr(
    not(cronix_test_promtool),
    ignore = "needs promtool (apt-get install prometheus) to lint the textfile"
)]
fn the_textfile_follows_every_fire_passes_promtool_and_matches_the_history() {
    let fx = Fixture::new();
    let textfile = configure(&fx);
    let app = Server::start(vec![
        Reply::status(200),
        Reply::status(500),
        Reply::status(404),
        Reply::status(500),
    ]);
    fx.write_spec(&fx.spec(
        &app.url(PATH),
        json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}}),
    ));
    for (n, code) in [0, 2, 1, 2].into_iter().enumerate() {
        fx.trigger().assert().code(code);
        let text = std::fs::read_to_string(&textfile).unwrap();
        let s = samples(&text);
        assert_eq!(
            s[&key("cronix_runs_total", ",status=\"ok\"")]
                + s[&key("cronix_runs_total", ",status=\"exhausted\"")]
                + s[&key("cronix_runs_total", ",status=\"rejected\"")],
            (n + 1) as f64,
            "after fire {n}"
        );
    }
    let text = std::fs::read_to_string(&textfile).unwrap();
    promtool_check(&text);
    let history = fx.history();
    let s = samples(&text);
    let count = |status: &str| {
        history
            .iter()
            .filter(|r| r.status.as_str() == status)
            .count() as f64
    };
    for status in ["ok", "exhausted", "rejected", "internal", "contended"] {
        assert_eq!(
            s[&key("cronix_runs_total", &format!(",status=\"{status}\""))],
            count(status),
            "{status}"
        );
    }
    let last = history.last().unwrap();
    let started = |r: &cronix::core::history::RunRecord| r.started().unwrap().as_second() as f64;
    assert_eq!(
        s[&key("cronix_last_run_timestamp_seconds", "")],
        started(last)
    );
    assert_eq!(
        s[&key("cronix_last_success_timestamp_seconds", "")],
        started(&history[0])
    );
    assert_eq!(s[&key("cronix_consecutive_failures", "")], 3.0);
    assert_eq!(
        s[&key("cronix_last_duration_seconds", "")],
        last.duration_ms as f64 / 1000.0
    );
    assert_eq!(s[&key("cronix_last_status", ",status=\"exhausted\"")], 1.0);
    assert_eq!(s[&key("cronix_last_status", ",status=\"ok\"")], 0.0);
    let next = s[&key("cronix_next_fire_timestamp_seconds", "")];
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(next > now - 1.0 && next <= now + 61.0, "{next} vs {now}");

    let printed = cronix_metrics(&fx);
    promtool_check(&printed);
    let mut p = samples(&printed);
    let mut t = s.clone();
    p.remove(&key("cronix_next_fire_timestamp_seconds", ""));
    t.remove(&key("cronix_next_fire_timestamp_seconds", ""));
    assert_eq!(p, t, "cronix metrics prints what the textfile holds");
    let leftovers: Vec<String> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["cronix.prom"], "no temp files left");
}

#[test]
fn a_history_rewritten_by_compaction_is_folded_again() {
    let fx = Fixture::new();
    let textfile = configure(&fx);
    let app = Server::start(vec![Reply::status(200)]);
    fx.write_spec(&fx.spec(&app.url(PATH), json!({})));
    for _ in 0..3 {
        fx.trigger().assert().code(0);
    }
    let text = std::fs::read_to_string(fx.history_path()).unwrap();
    let kept: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
    let replacement = fx.path("state/history/.new");
    std::fs::write(&replacement, kept).unwrap();
    std::fs::rename(&replacement, fx.history_path()).unwrap();
    fx.trigger().assert().code(0);
    let s = samples(&std::fs::read_to_string(&textfile).unwrap());
    assert_eq!(s[&key("cronix_runs_total", ",status=\"ok\"")], 2.0);
}

#[test]
fn without_metrics_or_alerts_the_shim_writes_no_state_files() {
    let fx = Fixture::new();
    let app = Server::start(vec![Reply::status(200)]);
    fx.write_spec(&fx.spec(&app.url(PATH), json!({})));
    fx.trigger().assert().code(0);
    let names: Vec<String> = std::fs::read_dir(fx.path("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["history"]);
}

/// `cronix metrics` against the fixture's spec dir.
fn cronix_metrics(fx: &Fixture) -> String {
    let out = assert_cmd::Command::cargo_bin("cronix")
        .unwrap()
        .args([
            "--config",
            fx.config().to_str().unwrap(),
            "metrics",
            "--spec-dir",
        ])
        .arg(fx.spec_dir())
        .env("HOME", fx.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
