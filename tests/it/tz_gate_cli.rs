//! Per-job time zones through the real binary: apply renders a gated entry for a job in a zone other
//! than the host's, the shim started from that line stays silent at a minute that is not a fire
//! (no request, no lock, no history, not even the config read) and fires at a real one with the
//! schedule instant as its intended fire time; plan reports the wake-ups and the DST changes.

use crate::reconcile_support;
use crate::support;

use assert_cmd::Command;
use reconcile_support::{Env, json_of, owned_lines, stdout_of};
use serde_json::{Value, json};
use support::{Reply, SECRET_ENV, SENTINEL, Server};

const APP: &str = "billing";
const JOB: &str = "settle";

fn manifest(url: &str, schedules: &[&str], timezone: &str) -> Value {
    json!({"version": 1, "app": APP, "jobs": [{
        "name": JOB, "schedules": schedules, "timezone": timezone,
        "request": {"url": url},
        "policy": {"retries": {"max_attempts": 1}},
    }]})
}

fn unix(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// Apply with cron's zone set to `host_zone` and return the entry line.
fn apply_in(env: &Env, host_zone: &str, doc: &Value) -> String {
    let path = env.manifest("m.json", doc);
    env.cmd("apply", &["--manifest", &path])
        .env("TZ", host_zone)
        .assert()
        .code(0);
    let text = env.crontab_text();
    let lines = owned_lines(&text, APP);
    assert_eq!(lines.len(), 2, "{text}");
    lines[0].to_string()
}

/// The words of an entry line after `trigger`: what cron passes to the shim.
fn trigger_words(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "trigger").unwrap();
    words[at..].iter().map(|w| w.to_string()).collect()
}

/// The shim as cron starts it from `line`, at the minute `now`, with `config` as its config file.
fn shim(env: &Env, line: &str, now: &str, config: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    cmd.arg("--config")
        .arg(config)
        .args(trigger_words(line))
        .env("CRONIX_TEST_NOW", unix(now).to_string())
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .env(SECRET_ENV, SENTINEL);
    cmd
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    support::all_files(dir)
        .into_iter()
        .map(|(p, _)| p.display().to_string())
        .collect()
}

#[test]
fn a_paris_job_on_a_utc_host_gets_a_gated_line_with_its_spec_dir() {
    let env = Env::new();
    let line = apply_in(
        &env,
        "UTC",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "Europe/Paris",
        ),
    );
    let expected_tail = format!(
        "/usr/local/bin/cronix trigger --spec-dir {} --gate 0 {APP}.{JOB}",
        env.spec_dir().display()
    );
    assert!(line.starts_with("0,30 0,1 * * * "), "{line}");
    assert!(line.ends_with(&expected_tail), "{line}");
    // Applying again changes nothing: the line is owned and its hash covers the gate.
    let path = env.manifest(
        "m.json",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "Europe/Paris",
        ),
    );
    let again = env.cmd("apply", &["--manifest", &path]).assert().code(0);
    assert!(
        stdout_of(&again).contains("nothing changed"),
        "{}",
        stdout_of(&again)
    );
}

#[test]
fn on_a_new_york_host_the_entry_is_a_wildcard_one_and_same_zone_jobs_are_not_gated() {
    let env = Env::new();
    let line = apply_in(
        &env,
        "America/New_York",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "Europe/Paris",
        ),
    );
    assert!(line.starts_with("*/30 20,21 * * * "), "{line}");
    assert!(line.contains(" --gate 0 "), "{line}");

    let env = Env::new();
    let line = apply_in(
        &env,
        "America/New_York",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "US/Eastern",
        ),
    );
    assert!(line.starts_with("30 2 * * * "), "{line}");
    assert!(!line.contains("--gate"), "{line}");

    let env = Env::new();
    let line = apply_in(
        &env,
        "UTC",
        &manifest("https://billing.example.com/x", &["@daily"], "Etc/UTC"),
    );
    assert!(
        line.starts_with("0 0 * * * ") && !line.contains("--gate"),
        "{line}"
    );
}

#[test]
fn the_gate_sends_nothing_at_a_minute_that_is_not_a_fire_and_the_instant_at_one_that_is() {
    let server = Server::start(vec![Reply::status(200)]);
    let env = Env::new();
    let url = server.url("/cron/settle");
    let line = apply_in(
        &env,
        "UTC",
        &manifest(&url, &["30 2 * * *"], "Europe/Paris"),
    );
    // A config that does not parse: a shim that read it would exit 3.
    let broken_config = env.root().join("broken.yaml");
    std::fs::write(&broken_config, "version: [not yaml").unwrap();

    // 00:30Z on 15 January is 01:30 in Paris: the line wakes the shim, the gate says no.
    let quiet = shim(&env, &line, "2026-01-15T00:30:00Z", &broken_config)
        .env_remove(SECRET_ENV)
        .assert()
        .code(0);
    let out = quiet.get_output();
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(server.received().is_empty());
    assert_eq!(files_under(&env.lock_dir()), Vec::<String>::new());
    assert_eq!(
        files_under(&env.state_dir().join("history")),
        Vec::<String>::new()
    );

    // 01:30:40Z is 02:30 in Paris: a fire, whose intended fire time is the minute.
    let config = env.root().join("cronix.yaml");
    shim(&env, &line, "2026-01-15T01:30:40Z", &config)
        .assert()
        .code(0);
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].verified, Ok(0));
    let intended = unix("2026-01-15T01:30:00Z").to_string();
    assert_eq!(got[0].header("x-cron-fire-time"), Some(intended.as_str()));
    let history =
        std::fs::read_to_string(env.state_dir().join(format!("history/{APP}.{JOB}.jsonl")))
            .unwrap();
    assert_eq!(history.lines().count(), 1);
    assert!(
        history.contains("\"fire_time\":\"2026-01-15T01:30:00Z\""),
        "{history}"
    );
}

#[test]
fn the_spring_forward_run_happens_once_right_after_the_jump() {
    let server = Server::start(vec![Reply::status(200)]);
    let env = Env::new();
    let line = apply_in(
        &env,
        "UTC",
        &manifest(&server.url("/cron/settle"), &["30 2 * * *"], "Europe/Paris"),
    );
    let config = env.root().join("cronix.yaml");
    // 29 March 2026: Paris jumps from 02:00 to 03:00 at 01:00Z; 02:30 never happens.
    for (minute, sent_so_far) in [
        ("2026-03-29T00:30:00Z", 0),
        ("2026-03-29T01:00:00Z", 1),
        ("2026-03-29T01:30:00Z", 1),
    ] {
        shim(&env, &line, minute, &config).assert().code(0);
        assert_eq!(server.received().len(), sent_so_far, "at {minute}");
    }
    let intended = unix("2026-03-29T01:00:00Z").to_string();
    assert_eq!(
        server.received()[0].header("x-cron-fire-time"),
        Some(intended.as_str())
    );
}

#[test]
fn a_gate_that_names_no_schedule_is_an_internal_error() {
    let env = Env::new();
    let line = apply_in(
        &env,
        "UTC",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "Asia/Kolkata",
        ),
    );
    let broken = line.replace("--gate 0", "--gate 7");
    let out = shim(
        &env,
        &broken,
        "2026-01-15T00:30:00Z",
        &env.root().join("cronix.yaml"),
    )
    .assert()
    .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("--gate 7") && stderr.contains("cronix apply"),
        "{stderr}"
    );
}

#[test]
fn plan_reports_wake_ups_and_the_dst_changes_of_the_coming_year() {
    let env = Env::new();
    let path = env.manifest(
        "m.json",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *", "0 9 * * *"],
            "Europe/Paris",
        ),
    );
    let plan = env
        .cmd("plan", &["--manifest", &path, "-o", "json"])
        .assert()
        .code(0);
    let doc = json_of(&plan);
    let zones = doc["timezones"].as_array().unwrap();
    assert_eq!(zones.len(), 2, "{doc}");
    let first = &zones[0];
    assert_eq!(first["job"], JOB);
    assert_eq!(first["idx"], 0);
    assert_eq!(first["timezone"], "Europe/Paris");
    assert_eq!(first["host_zone"], "UTC");
    assert_eq!(first["gated"], true);
    assert_eq!(first["crontab"], "0,30 0,1 * * *");
    assert_eq!(first["wakeups_per_day"], 4);
    assert_eq!(first["fires_per_day"], 1.0);
    assert_eq!(first["extra_wakeups_per_day"], 3.0);
    let effects = dst_effects(first);
    // Any year holds one spring-forward (02:30 skipped, run at the jump) and one fall-back
    // (02:30 happens twice, run once).
    assert!(
        effects.contains(&"shifted") && effects.contains(&"deduplicated"),
        "{effects:?}"
    );
    assert_eq!(zones[1]["crontab"], "0 7,8 * * *");
    assert_eq!(zones[1]["dst"], json!([]));

    let table = env.cmd("plan", &["--manifest", &path]).assert().code(0);
    let text = stdout_of(&table);
    assert!(text.contains("time zones (cron runs in UTC):"), "{text}");
    assert!(
        text.contains("wakes the shim 4 times a day for 1.00 fires a day"),
        "{text}"
    );
    assert!(text.contains("runs once right after the jump"), "{text}");
}

#[test]
fn plan_warns_about_dst_for_a_job_in_the_hosts_own_zone_without_gating_it() {
    let env = Env::new();
    let path = env.manifest(
        "m.json",
        &manifest(
            "https://billing.example.com/x",
            &["*/20 * * * *"],
            "America/New_York",
        ),
    );
    let plan = env
        .cmd("plan", &["--manifest", &path, "-o", "json"])
        .env("TZ", "America/New_York")
        .assert()
        .code(0);
    let doc = json_of(&plan);
    let zone = &doc["timezones"][0];
    assert_eq!(zone["gated"], false);
    assert!(zone.get("wakeups_per_day").is_none());
    let effects = dst_effects(zone);
    assert!(
        effects.contains(&"skipped") && effects.contains(&"repeated"),
        "{effects:?}"
    );
}

#[test]
fn list_shows_a_gated_entrys_schedule_zone_and_next_real_fire() {
    let env = Env::new();
    apply_in(
        &env,
        "UTC",
        &manifest(
            "https://billing.example.com/x",
            &["30 2 * * *"],
            "Europe/Paris",
        ),
    );
    let list = env.cmd("list", &["-o", "json"]).assert().code(0);
    let entry = &json_of(&list)["entries"][0];
    assert_eq!(entry["schedule"], "0,30 0,1 * * *");
    assert_eq!(
        entry["gate"],
        json!({"schedule": "30 2 * * *", "timezone": "Europe/Paris"})
    );
    let next: jiff::Timestamp = entry["next_fire"].as_str().unwrap().parse().unwrap();
    let wall = next.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap());
    // 02:30 in Paris, or 03:00 on the night 02:30 is skipped.
    assert!(
        matches!((wall.hour(), wall.minute()), (2, 30) | (3, 0)),
        "{wall}"
    );
}

/// The `effect` of each DST event in a plan's time-zone report.
fn dst_effects(zone: &serde_json::Value) -> Vec<&str> {
    zone["dst"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["effect"].as_str().unwrap())
        .collect()
}
