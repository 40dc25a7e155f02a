//! Hostile manifests and unsafe target settings: each is refused with a clear error, a non-zero exit,
//! and the crontab and spec dir are byte-identical afterwards (nothing partial is written).

use crate::reconcile_support;

use reconcile_support::*;
use serde_json::{Value, json};

/// An env holding foreign lines and an installed app, plus a snapshot to compare against.
fn installed_env() -> (Env, Vec<u8>, std::collections::BTreeMap<String, Vec<u8>>) {
    let env = Env::new();
    std::fs::write(env.crontab(), b"MAILTO=root\n# foreign\n").unwrap();
    let good = env.manifest("good.json", &base());
    env.apply(&good).success();
    let crontab = env.read_crontab();
    let specs = env.spec_files();
    (env, crontab, specs)
}

fn base() -> Value {
    manifest("app", &[("job", &["0 2 * * *"]), ("other", &["0 3 * * *"])])
}

/// `base()` with the field at `pointer` set (created when missing).
fn with(pointer: &str, value: Value) -> Value {
    let mut doc = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let slot = doc.pointer_mut(parent).unwrap();
    match slot {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        other => panic!("cannot set {pointer} in {other}"),
    }
    doc
}

/// Apply `doc` with extra flags: it must fail with `code`, say `needles`, and change nothing.
fn assert_refused(doc: &[u8], extra: &[&str], code: i32, needles: &[&str]) {
    let (env, crontab, specs) = installed_env();
    let path = env.root().join("hostile.json");
    std::fs::write(&path, doc).unwrap();
    let path = path.to_str().unwrap().to_string();
    let mut args = vec!["--manifest", path.as_str()];
    args.extend_from_slice(extra);
    let out = env.cmd("apply", &args).assert().code(code);
    let stderr = stderr_of(&out);
    for needle in needles {
        assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    }
    assert!(
        stderr.len() < 4000,
        "error too long: {} bytes",
        stderr.len()
    );
    assert_eq!(env.read_crontab(), crontab, "crontab changed");
    assert_eq!(env.spec_files(), specs, "spec dir changed");
    assert_eq!(env.audit_lines(), 1, "a refused apply is not audited");
}

fn json_bytes(doc: &Value) -> Vec<u8> {
    serde_json::to_vec(doc).unwrap()
}

#[test]
fn a_newline_in_a_schedule_is_refused() {
    let doc = with(
        "/jobs/0/schedules/0",
        json!("0 2 * * *\n* * * * * root rm -rf /"),
    );
    assert_refused(&json_bytes(&doc), &[], 1, &["jobs/0/schedules/0"]);
}

#[test]
fn a_percent_sign_in_a_schedule_is_refused() {
    let doc = with("/jobs/0/schedules/0", json!("0 2 * * * %"));
    assert_refused(&json_bytes(&doc), &[], 1, &["jobs/0/schedules/0"]);
}

#[test]
fn a_sixth_field_is_refused() {
    let doc = with("/jobs/0/schedules/0", json!("0 0 2 * * *"));
    assert_refused(&json_bytes(&doc), &[], 1, &["jobs/0/schedules/0"]);
}

#[test]
fn header_injection_is_refused() {
    let doc = with(
        "/jobs/0/request/headers",
        json!({"X-Trace": "a\r\nX-Cron-Signature: forged"}),
    );
    assert_refused(&json_bytes(&doc), &[], 1, &["jobs/0/request/headers"]);
}

#[test]
fn a_path_in_a_name_is_refused() {
    let doc = with("/jobs/0/name", json!("../../etc/cron.d/evil"));
    assert_refused(&json_bytes(&doc), &[], 1, &["jobs/0/name"]);
    let doc = with("/app", json!("../app"));
    assert_refused(&json_bytes(&doc), &[], 1, &["app"]);
}

#[test]
fn a_huge_manifest_is_refused() {
    let mut doc = base();
    doc["jobs"][0]["request"]["body"] = json!("x".repeat(11 * 1024 * 1024));
    assert_refused(&json_bytes(&doc), &[], 1, &["10 MiB"]);
}

#[test]
fn unknown_fields_are_refused() {
    let doc = with("/jobs/0/comand", json!("rm -rf /"));
    assert_refused(&json_bytes(&doc), &[], 1, &["comand"]);
}

#[test]
fn a_secret_file_the_operator_did_not_allow_is_refused() {
    let doc = with("/jobs/0/auth", json!({"secret_refs": ["file:/etc/shadow"]}));
    assert_refused(
        &json_bytes(&doc),
        &[],
        1,
        &["job job", "file:/etc/shadow", "--secret-ref"],
    );
}

#[test]
fn a_job_with_no_secret_at_all_is_refused() {
    let (env, crontab, _) = installed_env();
    let path = env.manifest("m.json", &base());
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    let flags: Vec<String> = env
        .target_flags()
        .into_iter()
        .filter(|f| f != "--secret-ref" && f != SECRET_REF)
        .collect();
    cmd.args(["apply", "--manifest", &path]).args(flags);
    env.environment(&mut cmd);
    let out = cmd.assert().code(1);
    assert!(stderr_of(&out).contains("could never fire"));
    assert_eq!(env.read_crontab(), crontab);
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let doc = with(
        "/jobs/0/request/url",
        json!("http://billing.example.com/cron/job"),
    );
    assert_refused(
        &json_bytes(&doc),
        &[],
        1,
        &["plain http://", "allow_http_hosts"],
    );
}

#[test]
fn a_run_as_user_that_does_not_exist_is_refused() {
    assert_refused(
        &json_bytes(&base()),
        &["--run-as", "no-such-user-cronix"],
        1,
        &["no-such-user-cronix", "does not exist"],
    );
}

#[test]
fn unsafe_paths_never_reach_the_crontab() {
    assert_refused(
        &json_bytes(&base()),
        &["--trigger-bin", "/usr/bin/cronix; rm -rf /"],
        1,
        &["trigger binary", "--trigger-bin"],
    );
    assert_refused(
        &json_bytes(&base()),
        &["--trigger-bin", "cronix"],
        1,
        &["trigger binary"],
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let mut doc = base();
    doc["jobs"][0]["request"]["url"] = json!("http://jobs.example.com/x");
    doc["jobs"][1]["auth"] = json!({"secret_refs": ["file:/etc/cronix/not-allowed.key"]});
    assert_refused(
        &json_bytes(&doc),
        &[],
        1,
        &[
            "job job: request url uses plain http://",
            "job other: secret reference file:/etc/cronix/not-allowed.key",
        ],
    );
}

#[test]
fn a_refused_raw_secret_is_never_echoed() {
    let doc = with(
        "/jobs/0/auth",
        json!({"secret_refs": ["raw:s3cr3t-value-here"]}),
    );
    let (env, _, _) = installed_env();
    let path = env.root().join("m.json");
    std::fs::write(&path, json_bytes(&doc)).unwrap();
    let out = env
        .cmd("apply", &["--manifest", path.to_str().unwrap()])
        .assert()
        .code(1);
    let stderr = stderr_of(&out);
    assert!(stderr.contains("raw:[redacted]"), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}

#[test]
fn a_cred_reference_is_refused_on_the_crontab_backend() {
    let doc = with(
        "/jobs/0/auth",
        json!({ "secret_refs": ["cred:billing-hmac"] }),
    );
    assert_refused(
        &json_bytes(&doc),
        &["--secret-ref", "cred:billing-hmac"],
        1,
        &[
            "job job",
            "cred:billing-hmac",
            "systemd credential",
            "--backend systemd-timer",
        ],
    );
}
