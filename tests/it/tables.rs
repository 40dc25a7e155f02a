//! Tables people can read: on a terminal (a pseudo-terminal of 80 columns made by `script(1)`) a table
//! fits the width and long cells end in `…`; `-o wide` and pipes keep every cell whole; failed and
//! drifted rows are coloured on a colour terminal only (never with `NO_COLOR`, never piped); a gated
//! entry shows its job's schedule in its zone; `show` prints runs as rows; `global-status` reads like
//! `systemctl list-timers`, with NEXT from the installed line.

use crate::reconcile_support;

use std::process::Command;

use reconcile_support::{Env, cronix_bin, json_of, manifest, stdout_of};
use serde_json::{Value, json};

const LONG_ERROR: &str = "http_503_service_unavailable_from_the_upstream_gateway_of_billing";

/// An env with `billing.settle` (UTC, 02:00) and `billing.report` (09:00 in Paris, a gated line)
/// installed, and two failed runs of settle in its history.
fn installed() -> Env {
    let env = Env::new();
    let mut m = manifest(
        "billing",
        &[("settle", &["0 2 * * *"]), ("report", &["0 9 * * *"])],
    );
    m["jobs"][1]["timezone"] = json!("Europe/Paris");
    let m = env.manifest("m.json", &m);
    env.apply(&m).success();
    let dir = env.state_dir().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let record = |id: &str| {
        json!({"run_id": id, "app": "billing", "job": "settle",
               "fire_time": "2026-01-02T02:00:00Z", "started_at": "2026-01-02T02:00:00.120Z",
               "duration_ms": 1234, "attempts": 3, "status": "exhausted", "http_status": 503,
               "exit_code": 1, "error": LONG_ERROR})
        .to_string()
    };
    let text = format!(
        "{}\n{}\n",
        record("0193a5b2-7c1e-7d4e-9f00-000000000001"),
        record("0193a5b2-7c1e-7d4e-9f00-000000000002")
    );
    std::fs::write(dir.join("billing.settle.jsonl"), text).unwrap();
    env
}

/// The command line of `cronix <sub> <args…>` with the env's target flags, quoted for `sh -c`.
fn shell_line(env: &Env, sub: &str, args: &[&str]) -> String {
    let mut words = vec![cronix_bin().display().to_string(), sub.to_string()];
    words.extend(args.iter().map(|a| a.to_string()));
    words.extend(env.target_flags());
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `cronix <sub> <args…>` on an 80-column pseudo-terminal; `None` (said on stderr) where
/// `script(1)` is not installed.
fn on_terminal(env: &Env, sub: &str, args: &[&str], vars: &[(&str, &str)]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: script(1) is not installed; the terminal-width checks did not run");
        return None;
    }
    let line = format!("stty rows 24 cols 80; {}", shell_line(env, sub, args));
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .env_remove("CRONIX_TEST_PAUSE_AT")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{line}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"))
}

/// The text without colour codes.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn on_an_80_column_terminal_tables_fit_and_cut_with_an_ellipsis() {
    let env = installed();
    for (sub, args) in [
        ("history", vec!["billing.settle"]),
        ("global-status", vec![]),
        ("show", vec!["billing.settle"]),
    ] {
        let Some(text) = on_terminal(&env, sub, &args, &[]) else {
            return;
        };
        let text = plain(&text);
        let table: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(' ') || l.is_empty())
            .collect();
        for line in &table {
            assert!(
                line.chars().count() <= 80,
                "{sub}: {} columns: {line}\n{text}",
                line.chars().count()
            );
        }
        assert!(text.contains('…'), "{sub}: a long cell is cut: {text}");
        assert!(!text.contains(LONG_ERROR), "{sub}: {text}");
    }
}

#[test]
fn wide_and_pipes_keep_every_cell_whole() {
    let env = installed();
    let piped = stdout_of(&env.cmd("history", &["billing.settle"]).assert().success());
    assert!(
        piped.contains(LONG_ERROR) && !piped.contains('…'),
        "{piped}"
    );
    assert!(!piped.contains('\u{1b}'), "no colour in a pipe: {piped:?}");
    let Some(wide) = on_terminal(&env, "history", &["billing.settle", "-o", "wide"], &[]) else {
        return;
    };
    let wide = plain(&wide);
    assert!(wide.contains(LONG_ERROR) && !wide.contains('…'), "{wide}");
    // A command without a table prints the same text with wide as with table.
    let next = |o: &str| {
        stdout_of(
            &env.cmd_plain(&[
                "-o",
                o,
                "next",
                "0 9 * * *",
                "--after",
                "2026-01-01T00:00:00Z",
            ])
            .assert()
            .success(),
        )
    };
    assert_eq!(next("wide"), next("table"));
}

#[test]
fn failed_and_drifted_rows_are_coloured_on_a_terminal_only() {
    let env = installed();
    let text = std::fs::read_to_string(env.crontab()).unwrap();
    std::fs::write(env.crontab(), text.replacen("0 2 * * *", "30 4 * * *", 1)).unwrap();
    let Some(coloured) = on_terminal(&env, "history", &["billing.settle"], &[]) else {
        return;
    };
    let red = "\u{1b}[31m";
    let failed: Vec<&str> = coloured
        .lines()
        .filter(|l| l.contains("exhausted"))
        .collect();
    assert_eq!(failed.len(), 2, "{coloured}");
    assert!(failed.iter().all(|l| l.starts_with(red)), "{coloured:?}");
    assert!(
        !coloured.lines().next().unwrap().contains('\u{1b}'),
        "the header is plain: {coloured:?}"
    );
    let show = on_terminal(&env, "show", &["billing.settle"], &[]).unwrap();
    assert!(
        show.contains("\u{1b}[33mentry idx 0: edited"),
        "a drifted entry is yellow: {show:?}"
    );
    for sub in ["history", "show", "global-status"] {
        let args: &[&str] = if sub == "global-status" {
            &[]
        } else {
            &["billing.settle"]
        };
        let text = on_terminal(&env, sub, args, &[("NO_COLOR", "1")]).unwrap();
        assert!(!text.contains('\u{1b}'), "{sub} with NO_COLOR: {text:?}");
        let piped = stdout_of(&env.cmd(sub, args).assert().success());
        assert!(!piped.contains('\u{1b}'), "{sub} piped: {piped:?}");
    }
}

#[test]
fn a_gated_entry_shows_its_jobs_schedule_in_its_zone() {
    let env = installed();
    let list = stdout_of(&env.cmd("list", &[]).assert().success());
    let report = list.lines().find(|l| l.contains("report")).unwrap();
    assert!(report.contains("0 9 * * * (Europe/Paris)"), "{list}");
    assert!(!report.contains("7,8"), "not the gate's wider line: {list}");
    let show = stdout_of(&env.cmd("show", &["billing.report"]).assert().success());
    assert!(show.contains("0 9 * * * (Europe/Paris)"), "{show}");

    let fresh = Env::new();
    let mut m = manifest("billing", &[("report", &["0 9 * * *"])]);
    m["jobs"][0]["timezone"] = json!("Europe/Paris");
    let m = fresh.manifest("m.json", &m);
    let plan = stdout_of(&fresh.cmd("plan", &["--manifest", &m]).assert().success());
    let create = plan.lines().find(|l| l.contains("create  entry")).unwrap();
    assert!(create.contains("0 9 * * * (Europe/Paris)"), "{plan}");
}

#[test]
fn show_prints_runs_as_rows() {
    let env = installed();
    let show = stdout_of(&env.cmd("show", &["billing.settle"]).assert().success());
    assert!(!show.contains("{\"run_id\""), "no raw JSON: {show}");
    let header = show
        .lines()
        .find(|l| l.contains("STARTED"))
        .unwrap_or_else(|| panic!("{show}"));
    for column in ["STATUS", "HTTP", "ERROR", "RUN ID"] {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<&str> = show
        .lines()
        .filter(|l| l.contains("0193a5b2-7c1e-7d4e-9f00"))
        .collect();
    assert_eq!(rows.len(), 2, "{show}");
    assert!(
        rows[0].contains("2026-01-02 02:00:00") && rows[0].contains("exhausted"),
        "{show}"
    );
}

#[test]
fn global_status_reads_like_list_timers_with_next_from_the_installed_line() {
    let env = installed();
    let text = std::fs::read_to_string(env.crontab()).unwrap();
    std::fs::write(env.crontab(), text.replacen("0 2 * * *", "30 4 * * *", 1)).unwrap();
    let table = stdout_of(&env.cmd("global-status", &[]).assert().success());
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NEXT", "LEFT", "LAST", "PASSED", "JOB", "STATUS", "ENTRIES"],
        "{table}"
    );
    let settle = table
        .lines()
        .find(|l| l.contains("billing.settle"))
        .unwrap();
    assert!(
        settle.contains(" 04:30 ") && settle.contains("exhausted") && settle.contains("0:edited"),
        "the hand-edited line's own next fire, the last run's status: {table}"
    );
    assert!(
        settle.contains("2026-01-02 02:00") && settle.contains('d'),
        "LAST and PASSED: {table}"
    );

    let doc: Value = json_of(&env.cmd("global-status", &["-o", "json"]).assert().success());
    let job = |name: &str| {
        doc["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == name)
            .unwrap()
            .clone()
    };
    let settle = job("settle");
    assert!(
        settle["next_fire"]
            .as_str()
            .unwrap()
            .ends_with("T04:30:00Z"),
        "{settle}"
    );
    assert!(
        settle["spec_next_fire"]
            .as_str()
            .unwrap()
            .ends_with("T02:00:00Z"),
        "{settle}"
    );
    let next: jiff::Timestamp = settle["next_fire"].as_str().unwrap().parse().unwrap();
    assert_eq!(settle["next_fire_unix"], json!(next.as_second()));
    let report = job("report");
    assert_eq!(
        report["next_fire"], report["spec_next_fire"],
        "a gated line fires at its job's schedule: {report}"
    );
}
