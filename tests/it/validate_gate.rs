//! `validate` is the CI gate for `plan`: with the same config it refuses every manifest-level thing
//! plan refuses (plain http to a remote host, a fire's worst case over the bound, global scope
//! without `locks.redis`, a `raw:` or `file:` ref the operator did not allow, a ref of an unknown
//! scheme), and `validate --canonical` still prints its warnings on stderr.

use crate::reconcile_support;

use reconcile_support::*;
use serde_json::{Value, json};

fn one_job(patch: Value) -> Value {
    let mut job = json!({"name": "settle", "schedules": ["0 2 * * *"],
                         "request": {"url": "https://billing.example.com/cron/settle"}});
    for (k, v) in patch.as_object().unwrap() {
        job[k] = v.clone();
    }
    json!({"version": 1, "app": "billing", "jobs": [job]})
}

/// validate and plan, same config and flags: both exit 1 and both name `needle`.
fn both_refuse(env: &Env, doc: &Value, needle: &str) {
    let m = env.manifest("m.json", doc);
    let validate = env.cmd_plain(&["validate", &m]).assert().code(1);
    assert!(
        stderr_of(&validate).contains(needle),
        "validate: {}",
        stderr_of(&validate)
    );
    let plan = env.cmd("plan", &["--manifest", &m]).assert().code(1);
    assert!(
        stderr_of(&plan).contains(needle),
        "plan: {}",
        stderr_of(&plan)
    );
}

#[test]
fn validate_refuses_what_plan_refuses_for_manifest_level_reasons() {
    let env = Env::new();
    both_refuse(
        &env,
        &one_job(json!({"request": {"url": "http://billing.example.com/x"}})),
        "plain http://",
    );
    both_refuse(
        &env,
        &one_job(json!({"policy": {"timeout_seconds": 600,
            "retries": {"max_attempts": 10, "min_seconds": 1, "max_seconds": 60}}})),
        "more than the 3600 s a fire may take",
    );
    both_refuse(
        &env,
        &one_job(json!({"policy": {"concurrency_scope": "global"}})),
        "locks.redis",
    );
    both_refuse(
        &env,
        &one_job(json!({"auth": {"secret_refs": ["file:/etc/cronix/billing.key"]}})),
        "file:/etc/cronix/billing.key is not allowed",
    );
    both_refuse(
        &env,
        &one_job(json!({"auth": {"secret_refs": ["raw:dev-secret"]}})),
        "raw:[redacted] is not allowed",
    );
    let json = env
        .cmd_plain(&[
            "validate",
            &env.manifest(
                "m.json",
                &one_job(json!({"request": {"url": "http://billing.example.com/x"}})),
            ),
            "-o",
            "json",
        ])
        .assert()
        .code(1);
    let doc = json_of(&json);
    assert_eq!(
        (&doc["ok"], &doc["valid"]),
        (&json!(false), &json!(false)),
        "{doc}"
    );
}

#[test]
fn what_the_config_allows_validate_allows_too() {
    let env = Env::new();
    std::fs::write(
        env.root().join("cronix.yaml"),
        "allow_http_hosts: [billing.example.com]\nsecret_refs: [\"file:/etc/cronix/billing.key\"]\n",
    )
    .unwrap();
    let m = env.manifest(
        "m.json",
        &one_job(json!({"request": {"url": "http://billing.example.com/x"},
                        "auth": {"secret_refs": ["file:/etc/cronix/billing.key"]}})),
    );
    env.cmd_plain(&["validate", &m]).assert().success();
}

#[test]
fn canonical_still_prints_the_warnings_on_stderr() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &one_job(
            json!({"request": {"url": "https://billing.example.com/x", "body": "{}"},
                        "auth": {"secret_refs": ["env:CRON_SECRET"]}}),
        ),
    );
    let out = env
        .cmd_plain(&["validate", "--canonical", &m])
        .assert()
        .success();
    assert!(stdout_of(&out).starts_with('{'), "{}", stdout_of(&out));
    assert!(
        stderr_of(&out).contains("Content-Type"),
        "{}",
        stderr_of(&out)
    );
}
