//! Per-app scope (DESIGN §6, §7, §11): the operator's `manifest_sources` fix which app a source may
//! speak for and which secret refs that app may use. Real binary, temp-dir crontab and spec dir, and a
//! local server that verifies every signature (fires and manifest fetches).

use crate::reconcile_support;
use crate::support;

use std::path::Path;

use assert_cmd::Command;
use reconcile_support::{Env, names_in, stderr_of};
use serde_json::{Value, json};
use support::{Reply, SENTINEL, Server};

const BILLING_KEY: &str = "BILLING_KEY";
const REPORTS_KEY: &str = "REPORTS_KEY";
const BILLING_SECRET: &str = "billing-secret-never-for-reports-77";

/// The env's config declaring two apps, each with its own source file and ref (and a top-level ref
/// that no app is granted).
fn declare_apps(env: &Env) {
    let config = format!(
        "secret_refs: [env:{BILLING_KEY}]\nmanifest_sources:\n  - app: billing-service\n    url: {}\n    secret_refs: [env:{BILLING_KEY}]\n  - app: reports\n    url: {}\n    secret_refs: [env:{REPORTS_KEY}]\n",
        env.root().join("billing.json").display(),
        env.root().join("reports.json").display()
    );
    std::fs::write(env.root().join("cronix.yaml"), config).unwrap();
}

/// `cronix SUB ARGS` with the env's target flags but no `--secret-ref` (the apps' refs come from the
/// config), and both apps' secrets in the environment.
fn scoped(env: &Env, sub: &str, args: &[&str]) -> Command {
    let flags = env.target_flags();
    let flags: Vec<&String> = flags
        .chunks(2)
        .filter(|pair| pair[0] != "--secret-ref")
        .flatten()
        .collect();
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    cmd.arg(sub).args(args).args(flags);
    env.environment(&mut cmd);
    cmd.env(BILLING_KEY, BILLING_SECRET)
        .env(REPORTS_KEY, SENTINEL);
    cmd
}

/// `cronix` with the env's environment and both secrets, and no flags.
fn bare(env: &Env) -> Command {
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    env.environment(&mut cmd);
    cmd.env(BILLING_KEY, BILLING_SECRET)
        .env(REPORTS_KEY, SENTINEL);
    cmd
}

fn job(name: &str, url: &str, refs: &[&str]) -> Value {
    let mut job = json!({"name": name, "schedule": "0 3 * * *", "request": {"url": url}});
    if !refs.is_empty() {
        job["auth"] = json!({"secret_refs": refs});
    }
    job
}

fn manifest(app: &str, jobs: Vec<Value>) -> Value {
    json!({"version": 1, "app": app, "jobs": jobs})
}

/// Everything apply could have written: crontab bytes, spec files, audit lines.
fn written(env: &Env) -> (Vec<u8>, Vec<String>, usize) {
    (
        env.read_crontab(),
        names_in(&env.spec_dir()),
        env.audit_lines(),
    )
}

#[test]
fn a_source_serving_another_apps_name_is_refused_with_nothing_written() {
    let env = Env::new();
    declare_apps(&env);
    let billing = env.manifest(
        "billing.json",
        &manifest(
            "billing-service",
            vec![job("settle", "https://billing.example/settle", &[])],
        ),
    );
    scoped(&env, "apply", &["--manifest", &billing])
        .assert()
        .success();
    let before = written(&env);
    let impostor = env.manifest(
        "reports.json",
        &manifest(
            "billing-service",
            vec![job("settle", "https://attacker.example/steal", &[])],
        ),
    );
    let out = scoped(&env, "apply", &["--manifest", &impostor])
        .assert()
        .code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("names app \"billing-service\"") && err.contains("only for app \"reports\""),
        "{err}"
    );
    assert_eq!(written(&env), before, "nothing may change");
    scoped(&env, "plan", &["--manifest", &impostor])
        .assert()
        .code(1);
    scoped(&env, "drift", &["--manifest", &impostor])
        .assert()
        .code(1);
}

#[test]
fn app_flag_fixes_the_expected_app_and_must_be_declared() {
    let env = Env::new();
    declare_apps(&env);
    let other = env.manifest(
        "elsewhere.json",
        &manifest(
            "billing-service",
            vec![job("settle", "https://billing.example/settle", &[])],
        ),
    );
    let out = scoped(&env, "apply", &["--app", "reports", "--manifest", &other])
        .assert()
        .code(1);
    assert!(stderr_of(&out).contains("only for app \"reports\""));
    let out = scoped(&env, "apply", &["--manifest", &other])
        .assert()
        .code(1);
    assert!(
        stderr_of(&out).contains("no manifest_sources entry has this url"),
        "{}",
        stderr_of(&out)
    );
    let out = scoped(&env, "apply", &["--app", "payroll", "--manifest", &other])
        .assert()
        .code(1);
    assert!(stderr_of(&out).contains("no manifest_sources entry declares app payroll"));
    let out = scoped(
        &env,
        "apply",
        &[
            "--app",
            "billing-service",
            "--secret-ref",
            "env:X",
            "--manifest",
            &other,
        ],
    )
    .assert()
    .code(1);
    assert!(stderr_of(&out).contains("--secret-ref cannot be combined"));
    scoped(
        &env,
        "apply",
        &["--app", "billing-service", "--manifest", &other],
    )
    .assert()
    .success();
    let out = bare(&env)
        .args(["validate", "--app", "reports", &other])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("only for app"));
    assert_eq!(written(&env).1.len(), 1);
}

#[test]
fn a_job_listing_another_apps_secret_is_refused_with_nothing_written() {
    let env = Env::new();
    declare_apps(&env);
    let borrowing = env.manifest(
        "reports.json",
        &manifest(
            "reports",
            vec![job(
                "daily",
                "https://reports.example/daily",
                &[&format!("env:{BILLING_KEY}")],
            )],
        ),
    );
    let out = scoped(&env, "apply", &["--manifest", &borrowing])
        .assert()
        .code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("secret reference env:BILLING_KEY is not allowed for this app")
            && err.contains("manifest_sources entry of app reports"),
        "{err}"
    );
    assert_eq!(written(&env), (Vec::new(), Vec::new(), 0));
}

#[test]
fn a_job_without_refs_gets_only_its_apps_refs_and_signs_with_them() {
    let server = Server::start(vec![Reply::status(204)]);
    let env = Env::new();
    declare_apps(&env);
    let url = server.url("/cron/daily");
    let reports = env.manifest(
        "reports.json",
        &manifest("reports", vec![job("daily", &url, &[])]),
    );
    scoped(&env, "apply", &["--manifest", &reports])
        .assert()
        .success();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(env.spec_dir().join("reports.daily.json")).unwrap())
            .unwrap();
    assert_eq!(spec["secret_refs"], json!([format!("env:{REPORTS_KEY}")]));
    bare(&env)
        .args(["trigger", "--spec-dir"])
        .arg(env.spec_dir())
        .arg("reports.daily")
        .assert()
        .success();
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].verified,
        Ok(0),
        "signed with reports' secret (the server knows only that one)"
    );
}

#[test]
fn the_manifest_fetch_is_signed_with_the_apps_ref() {
    let env = Env::new();
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    let body = manifest(
        "reports",
        vec![job("daily", "https://reports.example/daily", &[])],
    )
    .to_string();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let header = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Cron-Signature"))
                .map(|h| h.value.as_str().to_string());
            let verified = cronix::core::signature::verify(
                &[cronix::core::secret::Secret::new(
                    SENTINEL.as_bytes().to_vec(),
                )],
                header.as_deref(),
                "GET",
                request.url(),
                b"",
                jiff::Timestamp::now().as_second(),
                300,
            );
            let status = if verified.is_ok() { 200 } else { 401 };
            let _ = request
                .respond(tiny_http::Response::from_string(body.clone()).with_status_code(status));
        }
    });
    let source = format!("{base}/.well-known/cron-manifest");
    let config = format!(
        "secret_refs: [env:{BILLING_KEY}]\nmanifest_sources:\n  - app: reports\n    url: {source}\n    secret_refs: [env:{REPORTS_KEY}]\n"
    );
    std::fs::write(env.root().join("cronix.yaml"), config).unwrap();
    scoped(&env, "apply", &["--manifest", &source])
        .assert()
        .success();
    assert!(env.spec_dir().join("reports.daily.json").exists());
}

#[test]
fn link_local_and_metadata_hosts_are_refused_at_their_path() {
    let env = Env::new();
    for (i, host) in ["169.254.169.254", "[fe80::1]", "[fd00:ec2::254]"]
        .iter()
        .enumerate()
    {
        let path = env.manifest(
            &format!("m{i}.json"),
            &manifest(
                "reports",
                vec![job(
                    "daily",
                    &format!("https://{host}/latest/meta-data"),
                    &[],
                )],
            ),
        );
        let out = bare(&env)
            .args(["validate", "-o", "json", &path])
            .assert()
            .code(1);
        let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(doc["errors"][0]["path"], "jobs/0/request/url", "{doc}");
        assert!(
            doc["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("link-local or cloud metadata"),
            "{doc}"
        );
        env.apply(&path).code(1);
    }
    assert!(!Path::new(&env.crontab()).exists());
}
