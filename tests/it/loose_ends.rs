//! Loose ends of the trust review, each through the real binary: header control characters,
//! schedules with the same fire set, duplicate JSON keys, torn history lines, compaction that keeps
//! what it cannot parse, `max_age_days: 0`, query strings redacted in `validate`, dead temp files of
//! `crontab(1)` installs, capped error output, and the reference-SDK warnings.

use crate::reconcile_support;
use crate::support;

use assert_cmd::Command;
use reconcile_support::{Env, stderr_of};
use serde_json::{Value, json};
use support::{Fixture, Reply, Server};

/// `cronix validate ARGS` in the env's environment, fetches signed with the test ref.
fn validate(env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    cmd.arg("validate")
        .args(args)
        .args(["--secret-ref", reconcile_support::SECRET_REF]);
    env.environment(&mut cmd);
    cmd
}

fn validate_json(env: &Env, doc: &str) -> (Option<i32>, Value, String) {
    let path = env.root().join("m.json");
    std::fs::write(&path, doc).unwrap();
    let out = validate(env, &["-o", "json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        value,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_job(job: Value) -> String {
    json!({"version": 1, "app": "billing", "jobs": [job]}).to_string()
}

fn first_error(doc: &Value) -> (String, String) {
    let e = &doc["errors"][0];
    (
        e["path"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn header_values_with_control_characters_are_refused_and_a_tab_is_not() {
    let env = Env::new();
    let job = |value: &str| {
        one_job(json!({"name": "settle", "schedule": "@daily",
                       "request": {"url": "https://b.example/x", "headers": {"X-Note": value}}}))
    };
    for bad in ["a\u{1}b", "a\u{7f}", "\u{1b}[31mred"] {
        let (code, doc, _) = validate_json(&env, &job(bad));
        assert_eq!(code, Some(1), "{bad:?}");
        let (path, message) = first_error(&doc);
        assert_eq!(path, "jobs/0/request/headers/X-Note");
        assert!(message.contains("control character"), "{message}");
    }
    let (code, _, err) = validate_json(&env, &job("a\tb"));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn schedules_with_the_same_fire_set_are_refused_like_literal_repeats() {
    let env = Env::new();
    for (first, second) in [
        ("@daily", "@midnight"),
        ("0 0 * * 0", "0 0 * * 7"),
        ("@every 1h", "0 * * * *"),
        ("0 9 * * mon-fri", "0 9 * * 1-5"),
    ] {
        let doc = one_job(json!({"name": "settle", "schedules": [first, second],
                                 "request": {"url": "https://b.example/x"}}));
        let (code, doc, _) = validate_json(&env, &doc);
        assert_eq!(code, Some(1), "{first} / {second}");
        let (path, message) = first_error(&doc);
        assert_eq!(path, "jobs/0/schedules/1");
        assert!(
            message.contains("fires at exactly the times of"),
            "{message}"
        );
    }
    let doc = one_job(
        json!({"name": "settle", "schedules": ["0 0 * * 0", "0 0 * * 1"],
                             "request": {"url": "https://b.example/x"}}),
    );
    assert_eq!(validate_json(&env, &doc).0, Some(0));
}

#[test]
fn duplicate_json_keys_are_refused_at_their_path() {
    let env = Env::new();
    let doc = r#"{"version":1,"app":"reports","app":"billing","jobs":[{"name":"a","name":"b","schedule":"@daily","request":{"url":"https://b.example/x"}}]}"#;
    let (code, doc, _) = validate_json(&env, doc);
    assert_eq!(code, Some(1));
    let paths: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["app", "jobs/0/name"], "{doc}");
    let m = env.root().join("dup.json");
    std::fs::write(&m, r#"{"version":1,"app":"a","app":"b","jobs":[]}"#).unwrap();
    env.apply(m.to_str().unwrap()).code(1);
    assert!(!env.crontab().exists());
}

#[test]
fn a_torn_history_line_never_swallows_the_next_record() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url("/cron/settle"), json!({})));
    fx.trigger().assert().success();
    let path = fx.history_path();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"run_id\":\"torn-by-a-crash");
    std::fs::write(&path, &text).unwrap();
    fx.trigger().assert().success();
    let records: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(records.len(), 2, "both fires are recorded");
    let mut history = Command::cargo_bin("cronix").unwrap();
    let out = history
        .args(["history", "billing.settle", "-o", "json", "--state-dir"])
        .arg(fx.path("state"))
        .env("CRONIX_CONFIG", fx.config())
        .assert()
        .success();
    let shown: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(shown["runs"].as_array().unwrap().len(), 2);
}

#[test]
fn compaction_keeps_lines_it_cannot_parse() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_config("version: 1\nhistory:\n  max_runs: 2\n  max_age_days: 36500\n");
    fx.write_spec(&fx.spec(&server.url("/cron/settle"), json!({})));
    for _ in 0..3 {
        fx.trigger().assert().success();
    }
    let path = fx.history_path();
    let mut text = std::fs::read_to_string(&path).unwrap();
    let one = text.lines().next().unwrap().to_string();
    text.push_str("not a record, written by hand\n");
    for _ in 0..10 {
        text.push_str(&one);
        text.push('\n');
    }
    std::fs::write(&path, &text).unwrap();
    fx.trigger().assert().success();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.contains("not a record, written by hand"), "{after}");
    let records = after
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert_eq!(records, 2, "{after}");
}

#[test]
fn max_age_days_zero_is_refused() {
    let fx = Fixture::new();
    fx.write_config("version: 1\nhistory:\n  max_age_days: 0\n");
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .args(["--config"])
        .arg(fx.config())
        .args(["history", "billing.settle", "--state-dir"])
        .arg(fx.path("state"))
        .assert()
        .code(1);
    assert!(stderr_of(&out).contains("max_age_days must be at least 1"));
}

#[test]
fn validate_shows_a_url_source_without_its_query() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let body = one_job(json!({"name": "settle", "schedule": "@daily",
                                      "request": {"url": "https://b.example/x"}}));
            let _ = request.respond(tiny_http::Response::from_string(body));
        }
    });
    let env = Env::new();
    let source = format!("{base}/manifest?token=hunter2-in-the-query");
    let out = validate(&env, &[&source])
        .env("CRONIX_TEST_SECRET", "s")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned() + &stderr_of(&out);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains(&format!("{base}/manifest")), "{text}");
}

#[test]
fn error_output_is_capped_at_100_problems_and_a_count() {
    let env = Env::new();
    let jobs: Vec<Value> = (0..150)
        .map(|i| {
            json!({"name": format!("Bad{i}"), "schedule": "@daily",
                        "request": {"url": "https://b.example/x"}})
        })
        .collect();
    let doc = json!({"version": 1, "app": "billing", "jobs": jobs}).to_string();
    let (code, value, _) = validate_json(&env, &doc);
    assert_eq!(code, Some(1));
    assert_eq!(value["errors"].as_array().unwrap().len(), 100);
    assert_eq!(value["omitted"], 50);
    let path = env.root().join("m.json");
    let out = validate(&env, &[path.to_str().unwrap()]).assert().code(1);
    let err = stderr_of(&out);
    assert_eq!(
        err.lines().filter(|l| l.contains(": job name")).count(),
        100
    );
    assert!(err.contains("… and 50 more not shown"), "{err}");
    let out = env.apply(path.to_str().unwrap()).code(1);
    assert!(stderr_of(&out).contains("… and 50 more not shown"));
}

#[test]
fn validate_and_plan_warn_about_what_reference_sdk_apps_refuse() {
    let env = Env::new();
    let doc = json!({"version": 1, "app": "billing", "jobs": [
        {"name": "query", "schedule": "@daily", "request": {"url": "https://b.example/x?page=1"}},
        {"name": "getbody", "schedule": "@daily",
         "request": {"method": "GET", "url": "https://b.example/g", "body": "x"}},
        {"name": "literal", "schedule": "@daily",
         "request": {"url": "https://b.example/l", "headers": {"X-Token": "${TOKEN}"}}}
    ]});
    let path = env.manifest("warn.json", &doc);
    for sub in ["validate", "plan"] {
        let out = match sub {
            "validate" => validate(&env, &[&path]).assert().success(),
            _ => env.cmd(sub, &["--manifest", &path]).assert().success(),
        };
        let err = stderr_of(&out);
        assert!(
            err.contains("job query: request.url has a query string"),
            "{sub}: {err}"
        );
        assert!(
            err.contains("job getbody: a GET job has a body"),
            "{sub}: {err}"
        );
        assert!(
            err.contains("job literal: request.headers.X-Token contains"),
            "{sub}: {err}"
        );
    }
}

/// A stand-in `crontab(1)` on PATH that keeps the table in a file (so the test never touches the
/// machine's real crontab): `-l` prints it, `FILE` installs a copy.
fn fake_crontab(env: &Env) -> String {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = env.root().join("user-crontab");
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do last=\"$a\"; done\n\
         case \"$last\" in\n  -l) if [ -f {store} ]; then cat {store}; else echo \"no crontab for $USER\" >&2; exit 1; fi ;;\n\
           *) cp \"$last\" {store} ;;\nesac\n",
        store = store.display()
    );
    let path = bin.join("crontab");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".cronix-tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_killed_crontab_install_leaves_a_temp_file_the_next_apply_removes() {
    let env = Env::new();
    let path = fake_crontab(&env);
    let user = cronix::shell::passwd::current_user();
    let m = env.manifest(
        "m.json",
        &reconcile_support::manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    let apply = |pause: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cronix"));
        cmd.args([
            "apply",
            "--manifest",
            &m,
            "--crontab-user",
            &user,
            "--spec-dir",
        ])
        .arg(env.spec_dir())
        .arg("--state-dir")
        .arg(env.state_dir())
        .arg("--lock-dir")
        .arg(env.lock_dir())
        .args(["--trigger-bin", reconcile_support::TRIGGER_BIN])
        .args(["--secret-ref", reconcile_support::SECRET_REF])
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("PATH", &path)
        .env_remove("CRONIX_TEST_PAUSE_AT");
        if let Some(step) = pause {
            cmd.env("CRONIX_TEST_PAUSE_AT", step);
        }
        cmd
    };
    let mut child = apply(Some("temp_written:crontab(1)")).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while temp_files(&env.lock_dir()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        temp_files(&env.lock_dir()).len(),
        1,
        "the killed install left its temp file in the lock dir"
    );
    let again = apply(None).output().unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        temp_files(&env.lock_dir()).is_empty(),
        "{:?}",
        temp_files(&env.lock_dir())
    );
}
