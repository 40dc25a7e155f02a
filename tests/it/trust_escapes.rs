//! Issue 16, finding 12: nothing cronix prints from outside data reaches the terminal raw. Manifests,
//! spec files, history records and crontab lines carrying ESC sequences, other C0 and C1 controls,
//! bidirectional overrides and line separators are fed to the real binary; its stdout and stderr
//! must hold no such character (newlines, and tabs, are the only controls it writes).

use crate::reconcile_support;
use crate::support;

use reconcile_support::Env;
use serde_json::{Value, json};

/// Hostile fragments: OSC title change, CSI clear screen, 8-bit CSI, bell, DEL, bidi override,
/// line separator, and a newline that would forge a line of output.
const OSC: &str = "\u{1b}]0;owned\u{7}";
const CSI: &str = "\u{1b}[2J";
const C1: &str = "\u{9b}31m";
const BIDI: &str = "\u{202e}";
const FORGED_LINE: &str = "\nFORGED: all good";

fn hostile(tag: &str) -> String {
    format!("{tag}{OSC}{CSI}{C1}\u{7f}{BIDI}\u{2028}{FORGED_LINE}")
}

/// The first character a terminal could act on, with its offset.
fn first_unsafe(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| {
        (c < ' ' && c != '\n' && c != '\t')
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

fn assert_clean(what: &str, out: &std::process::Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        if let Some((at, c)) = first_unsafe(&text) {
            panic!("{what}: {stream} holds a raw {c:?} at byte {at}:\n{text}");
        }
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("FORGED")),
            "{what}: {stream} has a line forged by outside text:\n{text}"
        );
    }
}

/// A manifest whose keys and values carry the hostile text where the parser meets it: an unknown
/// top-level key, a header name, a job name, a URL and a schedule.
fn hostile_manifest() -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert(hostile("X-Hdr"), json!("v"));
    let mut doc = json!({
        "version": 1,
        "app": "reports",
        "jobs": [
            {"name": hostile("job"), "schedule": "@hourly",
             "request": {"url": "https://reports.example/a"}},
            {"name": "headers", "schedule": "@hourly",
             "request": {"url": "https://reports.example/b", "headers": headers}},
            {"name": "url", "schedule": "@hourly",
             "request": {"url": format!("https://reports.example/{}", hostile("u"))}},
            {"name": "schedule", "schedule": hostile("*/5 * * * *"),
             "request": {"url": "https://reports.example/c"}},
        ]
    });
    doc.as_object_mut()
        .unwrap()
        .insert(hostile("unknown"), json!(1));
    doc
}

#[test]
fn validate_plan_and_apply_escape_manifest_keys_and_values() {
    let env = Env::new();
    let path = env.manifest("hostile.json", &hostile_manifest());
    for output in ["table", "json"] {
        let out = env
            .cmd_plain(&["-o", output, "validate", &path])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "validate -o {output}");
        assert_clean(&format!("validate -o {output}"), &out);
        for sub in ["plan", "apply"] {
            let out = env
                .cmd(sub, &["-o", output, "--manifest", &path])
                .output()
                .unwrap();
            assert_ne!(out.status.code(), Some(0), "{sub} -o {output}");
            assert_clean(&format!("{sub} -o {output}"), &out);
        }
    }
    let out = env.cmd_plain(&["validate", &path]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\\u001b]0;owned\\u0007"),
        "the escape is shown, visibly: {err}"
    );
}

#[test]
fn validate_json_output_stays_parseable_with_the_same_strings() {
    let env = Env::new();
    let path = env.manifest("hostile.json", &hostile_manifest());
    let out = env
        .cmd_plain(&["-o", "json", "validate", &path])
        .output()
        .unwrap();
    assert_clean("validate -o json", &out);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let text = doc.to_string();
    assert!(
        text.contains("\\u001b") || doc["errors"].to_string().contains('\u{1b}'),
        "{text}"
    );
}

/// A spec as apply writes it, then edited: values a hand or another tool put there.
#[test]
fn show_and_history_escape_spec_and_history_values() {
    let fx = support::Fixture::new();
    let server = support::Server::start(vec![support::Reply::status(204)]);
    let spec = fx.spec(&server.url("/api/run"), json!({}));
    fx.write_spec(&spec);
    fx.trigger().assert().success();
    let history = fx.history_path();
    let mut line: Value = serde_json::from_str(
        std::fs::read_to_string(&history)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    line["error"] = json!(hostile("err"));
    line["host_id"] = json!(hostile("host"));
    line["status"] = json!("exhausted");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str(&format!("{line}\n"));
    std::fs::write(&history, text).unwrap();
    let config = fx.config().display().to_string();
    let spec_dir = fx.spec_dir().display().to_string();
    let state_dir = fx.path("state").display().to_string();
    let crontab = fx.path("crontab");
    std::fs::write(&crontab, "").unwrap();
    let crontab = crontab.display().to_string();
    for output in ["table", "json"] {
        for args in [
            vec![
                "--config",
                &config,
                "-o",
                output,
                "history",
                "--state-dir",
                &state_dir,
                "billing.settle",
            ],
            vec![
                "--config",
                &config,
                "-o",
                output,
                "show",
                "--spec-dir",
                &spec_dir,
                "--state-dir",
                &state_dir,
                "--crontab-path",
                &crontab,
                "billing.settle",
            ],
        ] {
            let out = assert_cmd::Command::cargo_bin("cronix")
                .unwrap()
                .args(&args)
                .env("HOME", fx.dir.path())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_clean(&format!("{args:?}"), &out);
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("]0;owned"),
                "{args:?} shows the value, escaped: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

use crate::redis_support;

#[test]
fn show_global_status_and_the_shim_escape_a_hand_edited_spec() {
    let fx = support::Fixture::new();
    let mut spec = fx.spec("https://billing.example/api/run", json!({}));
    spec["job"]["request"]["url"] = json!(format!("https://billing.example/{}", hostile("u")));
    spec["job"]["timezone"] = json!(hostile("tz"));
    spec["secret_refs"] = json!([hostile("env:X")]);
    fx.write_spec(&spec);
    let crontab = fx.path("crontab");
    std::fs::write(&crontab, "").unwrap();
    let config = fx.config().display().to_string();
    let spec_dir = fx.spec_dir().display().to_string();
    let crontab = crontab.display().to_string();
    for output in ["table", "json"] {
        for args in [
            vec!["-o", output, "global-status", "--spec-dir", &spec_dir],
            vec![
                "-o",
                output,
                "show",
                "--spec-dir",
                &spec_dir,
                "--crontab-path",
                &crontab,
                "billing.settle",
            ],
        ] {
            let out = assert_cmd::Command::cargo_bin("cronix")
                .unwrap()
                .arg("--config")
                .arg(&config)
                .args(&args)
                .env("HOME", fx.dir.path())
                .output()
                .unwrap();
            assert_clean(&format!("{args:?}"), &out);
        }
    }
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_clean("trigger with a hand-edited spec", &out);
}

/// A lease planted in Redis by any client: global-status and show print its holder escaped.
#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn global_status_and_show_escape_a_lease_planted_in_redis() {
    if !redis_support::available("global_status_and_show_escape_a_lease_planted_in_redis") {
        return;
    }
    let redis = redis_support::RedisServer::start_with(Some("lease-test-pw"));
    let fx = support::Fixture::new();
    fx.write_config(&format!(
        "version: 1\nlocks:\n  redis:\n    addr: {}\n    password_ref: env:REDIS_PW\n    key_prefix: \"t:\"\n",
        redis.addr()
    ));
    let mut spec = fx.spec("https://billing.example/api/run", json!({}));
    spec["job"]["policy"]["concurrency_scope"] = json!("global");
    fx.write_spec(&spec);
    let lease = json!({
        "token": "planted", "host_id": hostile("host"), "run_id": hostile("run"),
        "since": hostile("since")
    });
    redis.cli(&["SET", "t:lock:billing.settle", &lease.to_string()]);
    let crontab = fx.path("crontab");
    std::fs::write(&crontab, "").unwrap();
    let config = fx.config().display().to_string();
    let spec_dir = fx.spec_dir().display().to_string();
    let crontab = crontab.display().to_string();
    for output in ["table", "json"] {
        for args in [
            vec!["-o", output, "global-status", "--spec-dir", &spec_dir],
            vec![
                "-o",
                output,
                "show",
                "--spec-dir",
                &spec_dir,
                "--crontab-path",
                &crontab,
                "billing.settle",
            ],
        ] {
            let out = assert_cmd::Command::cargo_bin("cronix")
                .unwrap()
                .arg("--config")
                .arg(&config)
                .args(&args)
                .env("HOME", fx.dir.path())
                .env("REDIS_PW", "lease-test-pw")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                stdout.contains("]0;owned"),
                "{args:?} shows the holder: {stdout}"
            );
            assert_clean(&format!("{args:?}"), &out);
        }
    }
}
