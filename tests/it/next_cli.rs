//! `cronix next` through the real binary: table and JSON output, errors and exit codes.

use assert_cmd::Command;
use predicates::prelude::*;

fn cronix() -> Command {
    let mut command = Command::cargo_bin("cronix").unwrap();
    command.env_remove("CRONIX_CONFIG").env("NO_COLOR", "1");
    command
}

fn stdout_of(args: &[&str]) -> String {
    let output = cronix().args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn table_prints_one_rfc3339_time_per_line_with_the_zone_offset() {
    let out = stdout_of(&[
        "next",
        "30 2 * * *",
        "--after",
        "2026-03-07T12:00:00Z",
        "--timezone",
        "America/New_York",
        "--count",
        "3",
    ]);
    assert_eq!(
        out,
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n2026-03-10T02:30:00-04:00\n"
    );
}

#[test]
fn fires_are_strictly_after_the_given_instant() {
    let out = stdout_of(&[
        "next",
        "@hourly",
        "--after",
        "2026-01-01T10:00:00Z",
        "--count",
        "2",
    ]);
    assert_eq!(
        out,
        "2026-01-01T11:00:00+00:00\n2026-01-01T12:00:00+00:00\n"
    );
}

#[test]
fn after_accepts_any_offset_and_count_defaults_to_five() {
    let out = stdout_of(&[
        "next",
        "0 9 * * 1-5",
        "--after",
        "2026-06-05T10:00:00+02:00",
        "--timezone",
        "Europe/Paris",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "2026-06-08T09:00:00+02:00",
            "2026-06-09T09:00:00+02:00",
            "2026-06-10T09:00:00+02:00",
            "2026-06-11T09:00:00+02:00",
            "2026-06-12T09:00:00+02:00",
        ]
    );
}

#[test]
fn json_names_the_expression_its_crontab_form_the_zone_and_the_fires() {
    let out = stdout_of(&[
        "next",
        "@every 2h",
        "--after",
        "2026-11-01T04:30:00Z",
        "--timezone",
        "America/New_York",
        "--count",
        "3",
        "-o",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "expression": "@every 2h",
            "crontab": "0 */2 * * *",
            "timezone": "America/New_York",
            "next": [
                "2026-11-01T02:00:00-05:00",
                "2026-11-01T04:00:00-05:00",
                "2026-11-01T06:00:00-05:00",
            ],
            "next_unix": [1_793_516_400, 1_793_523_600, 1_793_530_800],
        })
    );
}

#[test]
fn without_after_the_fires_start_from_now() {
    let before = jiff::Timestamp::now();
    let out = stdout_of(&["next", "* * * * *", "--count", "2"]);
    let fires: Vec<jiff::Timestamp> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(fires.len(), 2);
    assert!(fires[0] > before - jiff::SignedDuration::from_secs(60));
    assert!(fires[0] <= jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60));
    assert_eq!(
        fires[1].duration_since(fires[0]),
        jiff::SignedDuration::from_secs(60)
    );
}

#[test]
fn a_bad_expression_exits_1_with_the_reason() {
    cronix()
        .args(["next", "0 2 * *"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "schedule \"0 2 * *\" has 4 fields, cron needs 5",
        ));
    cronix()
        .args(["next", "@every 7m"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nearest: @every 6m (*/6 * * * *)"));
}

#[test]
fn a_zone_name_must_be_spelled_exactly() {
    cronix()
        .args(["next", "@daily", "--timezone", "europe/paris"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("--timezone \"europe/paris\""));
    cronix()
        .args(["next", "@daily", "--timezone", "Mars/Olympus_Mons"])
        .assert()
        .code(1);
}

#[test]
fn after_must_be_rfc3339_with_an_offset() {
    for after in ["yesterday", "2026-03-08T01:30:00", "2026-13-01T00:00:00Z"] {
        cronix()
            .args(["next", "@daily", "--after", after])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is not an RFC 3339 timestamp"));
    }
}

#[test]
fn count_is_limited_to_1_through_1000() {
    for count in ["0", "1001"] {
        cronix()
            .args(["next", "@daily", "--count", count])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("use 1 to 1000"));
    }
    let out = stdout_of(&[
        "next",
        "* * * * *",
        "--after",
        "2026-01-01T00:00:00Z",
        "--count",
        "1000",
    ]);
    assert_eq!(out.lines().count(), 1000);
    assert_eq!(out.lines().last(), Some("2026-01-01T16:40:00+00:00"));
}

#[test]
fn hostile_expressions_are_refused_without_echoing_control_characters() {
    let long = "1,".repeat(5_000);
    for expr in [
        "0 0 * * *\n* * * * * root sh",
        "0 0 * * * %",
        "\u{1b}[31m",
        long.as_str(),
    ] {
        let output = cronix().args(["next", expr]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{expr:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "{stderr}");
        assert!(stderr.len() < 400, "{stderr}");
    }
}
