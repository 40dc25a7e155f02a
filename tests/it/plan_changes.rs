//! `plan`, `apply` and `drift` say what changes: the installed and the new line of an edited entry,
//! the fields of a changed spec (header names, never their values; body sizes, never bodies), and
//! `-o json` carries `before`/`after`/`changes` per op.

use crate::reconcile_support;

use reconcile_support::*;
use serde_json::json;

fn with_request(url: &str, header: &str) -> serde_json::Value {
    json!({"version": 1, "app": "billing", "jobs": [{
        "name": "settle", "schedules": ["*/15 * * * *"],
        "request": {"url": url, "headers": {"Content-Type": "application/json", "X-Key": header},
                    "body": "{\"token\":\"body-secret-77\"}"}}]})
}

#[test]
fn a_hand_edit_shows_the_installed_line_and_the_line_apply_writes() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &with_request("https://billing.example.com/a", "k1"),
    );
    env.apply(&m).success();
    let edited = env
        .crontab_text()
        .replacen("*/15 * * * *", "*/20 * * * *", 1);
    std::fs::write(env.crontab(), edited).unwrap();
    for sub in ["plan", "drift"] {
        let out = stdout_of(&env.cmd(sub, &["--manifest", &m]).assert().success());
        let minus = out
            .lines()
            .find(|l| l.trim_start().starts_with("- */20 * * * *"));
        let plus = out
            .lines()
            .find(|l| l.trim_start().starts_with("+ */15 * * * *"));
        assert!(minus.is_some() && plus.is_some(), "{sub}: {out}");
        assert!(out.contains("billing.settle idx 0 entry (edited)"), "{out}");
    }
    let doc = json_of(
        &env.cmd("plan", &["--manifest", &m, "-o", "json"])
            .assert()
            .success(),
    );
    let op = &doc["ops"][0];
    assert!(
        op["before"].as_str().unwrap().starts_with("*/20")
            && op["after"].as_str().unwrap().starts_with("*/15"),
        "{op}"
    );
}

#[test]
fn a_url_change_names_the_field_and_never_shows_a_header_value_or_the_body() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &with_request("https://billing.example.com/a", "header-secret-1"),
    );
    env.apply(&m).success();
    let m2 = env.manifest(
        "m2.json",
        &with_request("https://billing.example.com/b", "header-secret-2"),
    );
    let out = env.cmd("apply", &["--manifest", &m2]).assert().success();
    let text = stdout_of(&out);
    assert!(
        text.contains(
            "job.request.url: \"https://billing.example.com/a\" → \"https://billing.example.com/b\""
        ),
        "{text}"
    );
    assert!(
        text.contains("header X-Key: value changed (not shown)"),
        "{text}"
    );
    assert!(
        text.contains("same line; its marker's hash changes"),
        "{text}"
    );
    let back = env.manifest(
        "m3.json",
        &with_request("https://billing.example.com/a", "header-secret-3"),
    );
    let json = env
        .cmd("plan", &["--manifest", &back, "-o", "json"])
        .assert()
        .success();
    for secret in ["header-secret", "body-secret-77"] {
        assert!(!stdout_of(&out).contains(secret), "{secret}: {text}");
        assert!(!stdout_of(&json).contains(secret), "{secret} in JSON");
    }
    let doc = json_of(&json);
    let spec_op = doc["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "spec")
        .unwrap();
    assert!(
        spec_op["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("job.request.url:")),
        "{spec_op}"
    );
}
