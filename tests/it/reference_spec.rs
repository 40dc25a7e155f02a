//! Spec files the reference tool wrote (issue 19, item 7): a host that swaps the binary before its
//! first `cronix apply` keeps firing. The reference's `apply --spec-dir` writes
//! `<spec-dir>/<app>.<job>.json` with Go's `json.MarshalIndent(spec, "", "  ")`, mode 0640, holding
//! `{app, job, secret_refs, schedule_index}`; its crontab line is `<bin> trigger APP.JOB` (no flags:
//! the spec dir comes from `$CRONIX_JOB_SPEC_DIR` or the default). Real binary, temp dirs, a local
//! server that verifies every signature.

use crate::reconcile_support;
use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use reconcile_support::{Env, json_of, stderr_of};
use support::{APP, Fixture, JOB, Reply, SECRET_ENV, SENTINEL, Server};

/// A spec as the reference's `writeSpecs` + `SpecFile.Save` write it: Go's field order, two-space
/// indent, `&` escaped as `\u0026`, headers `{}`, the operator's `--secret-ref` list (`null` when none
/// was given) and `schedule_index` 0.
fn reference_spec(url: &str, own_refs: &str, operator_refs: &str) -> String {
    let url = url.replace('&', "\\u0026");
    format!(
        r#"{{
  "app": "{APP}",
  "job": {{
    "name": "{JOB}",
    "schedules": [
      "* * * * *"
    ],
    "timezone": "UTC",
    "request": {{
      "method": "POST",
      "url": "{url}",
      "headers": {{}},
      "body": "{{\"invoice\":42}}"
    }},
    "policy": {{
      "concurrency": "Forbid",
      "concurrency_scope": "host",
      "timeout_seconds": 5,
      "retries": {{
        "max_attempts": 1,
        "min_seconds": 1,
        "max_seconds": 60
      }}
    }},
    "auth": {{
      "secret_refs": {own_refs}
    }}
  }},
  "secret_refs": {operator_refs},
  "schedule_index": 0
}}"#
    )
}

fn write_reference_spec(dir: &Path, text: &str, mode: u32) {
    let path = dir.join(format!("{APP}.{JOB}.json"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The reference's crontab line runs `cronix trigger APP.JOB`: the operator config comes from the
/// usual lookup (`~/.cronix/cronix.yaml` under this HOME), the spec dir from `$CRONIX_JOB_SPEC_DIR`.
fn reference_fire(fx: &Fixture) -> std::process::Output {
    std::process::Command::new(support::cronix_bin())
        .args(["trigger", &format!("{APP}.{JOB}")])
        .env("HOME", fx.dir.path())
        .env_remove("CRONIX_CONFIG")
        .env("CRONIX_JOB_SPEC_DIR", fx.spec_dir())
        .env(SECRET_ENV, SENTINEL)
        .output()
        .unwrap()
}

/// The fixture's host config at `~/.cronix/cronix.yaml`: the state and lock dirs in the temp dir.
fn host_config(fx: &Fixture, extra: &str) {
    let dir = fx.path(".cronix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        dir.join("cronix.yaml"),
        format!(
            "version: 1\nstate_dir: {}\nlock_dir: {}\n{extra}",
            fx.path("state").display(),
            fx.path("locks").display()
        ),
    )
    .unwrap();
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_spec_the_reference_wrote_fires_signed_and_verifies() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    host_config(&fx, "");
    let url = server.url("/cron/settle?run=1&src=cron");
    let operator = format!(r#"["env:{SECRET_ENV}"]"#);
    write_reference_spec(
        &fx.spec_dir(),
        &reference_spec(&url, "[]", &operator),
        0o640,
    );

    let out = reference_fire(&fx);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.wait_for(1, Duration::from_secs(5)), 1);
    let got = &server.received()[0];
    assert_eq!(got.verified, Ok(0), "the signature must verify");
    assert_eq!(got.method, "POST");
    assert_eq!(got.url, "/cron/settle?run=1&src=cron");
    assert_eq!(got.body, b"{\"invoice\":42}");
    assert_eq!(got.header("X-Cron-Schedule-Name"), Some(JOB));
    // The run is recorded in the config's state dir (a reference spec records none).
    let last = fx.history().pop().expect("a history record");
    assert_eq!(last.status.as_str(), "ok");
    assert!(!stderr(&out).contains(SENTINEL));
}

#[test]
fn a_reference_spec_signs_with_the_jobs_own_refs_as_apply_would() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    host_config(&fx, "");
    // Written by `apply` without --secret-ref: `secret_refs` is null; the job names its own.
    let own = format!(r#"["env:{SECRET_ENV}"]"#);
    let text = reference_spec(&server.url("/cron/settle"), &own, "null");
    write_reference_spec(&fx.spec_dir(), &text, 0o600);
    let out = reference_fire(&fx);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.received()[0].verified, Ok(0));
}

/// Refused before anything is sent: exit 3, recorded as internal.
fn assert_refused(fx: &Fixture, server: &Server, why: &str) {
    let before = server.received().len();
    let out = reference_fire(fx);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.received().len(), before, "nothing may be sent");
    let err = stderr(&out);
    assert!(err.contains(why), "expected {why:?} in: {err}");
    assert!(!err.contains(SENTINEL));
}

#[test]
fn a_reference_spec_that_breaks_a_trust_rule_is_refused() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    host_config(&fx, "");
    let operator = format!(r#"["env:{SECRET_ENV}"]"#);

    // Plain http to a host that is neither loopback nor in allow_http_hosts.
    let text = reference_spec("http://intranet.example/cron/settle", "[]", &operator);
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    assert_refused(&fx, &server, "allow_http_hosts");
    assert_eq!(fx.history().pop().unwrap().error.as_deref(), Some("spec"));

    // A cloud metadata address.
    let text = reference_spec("http://169.254.169.254/latest/meta-data", "[]", &operator);
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    assert_refused(&fx, &server, "link-local");

    // A ref the config's manifest_sources do not give the app.
    host_config(
        &fx,
        "manifest_sources:\n  - app: billing\n    url: /srv/billing.json\n    secret_refs: [env:BILLING_ONLY]\n",
    );
    let text = reference_spec(&server.url("/cron/settle"), "[]", &operator);
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    assert_refused(
        &fx,
        &server,
        "is not allowed for app billing by manifest_sources",
    );
    host_config(&fx, "");

    // Written without --secret-ref, and the job names no refs: nothing to sign with.
    let text = reference_spec(&server.url("/cron/settle"), "[]", "null");
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    assert_refused(&fx, &server, "cronix apply --secret-ref REF");

    // A spec file others may write is not read at all.
    let text = reference_spec(&server.url("/cron/settle"), "[]", &operator);
    write_reference_spec(&fx.spec_dir(), &text, 0o662);
    assert_refused(&fx, &server, "writable");

    // A field neither format has.
    let text = reference_spec(&server.url("/cron/settle"), "[]", &operator).replace(
        "\"schedule_index\"",
        "\"lock_key\": \"x\",\n  \"schedule_index\"",
    );
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    assert_refused(&fx, &server, "unknown field `lock_key`");

    // The same spec, fixed, fires.
    let text = reference_spec(&server.url("/cron/settle"), "[]", &operator);
    write_reference_spec(&fx.spec_dir(), &text, 0o640);
    let out = reference_fire(&fx);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.received().len(), 1);
}

#[test]
fn apply_rewrites_a_reference_spec_in_cronixs_format() {
    let env = Env::new();
    let manifest = reconcile_support::manifest(APP, &[(JOB, &["0 2 * * *"])]);
    let source = env.manifest("billing.json", &manifest);
    std::fs::create_dir_all(env.spec_dir()).unwrap();
    // The reference's spec of the same job (its normalized form of this manifest).
    let text = reference_spec(
        "https://billing.example.com/cron/settle",
        "[]",
        r#"["env:CRONIX_TEST_SECRET"]"#,
    )
    .replace("\"* * * * *\"", "\"0 2 * * *\"")
    .replace("\"{\\\"invoice\\\":42}\"", "\"\"")
    .replace("\"timeout_seconds\": 5", "\"timeout_seconds\": 60")
    .replace("\"max_attempts\": 1", "\"max_attempts\": 3");
    write_reference_spec(&env.spec_dir(), &text, 0o640);

    // show reads it (and says nothing is wrong with it).
    env.cmd("show", &[&format!("{APP}.{JOB}")])
        .assert()
        .success();

    let plan = env
        .cmd("plan", &["--manifest", &source, "-o", "json"])
        .assert()
        .success();
    let ops = json_of(&plan)["ops"].as_array().unwrap().clone();
    let spec_ops: Vec<_> = ops.iter().filter(|op| op["kind"] == "spec").collect();
    assert_eq!(spec_ops.len(), 1, "{ops:?}");
    assert_eq!(spec_ops[0]["op"], "update", "{ops:?}");
    assert_eq!(spec_ops[0]["job"], JOB);

    let applied = env.apply(&source).success();
    let written =
        std::fs::read_to_string(env.spec_dir().join(format!("{APP}.{JOB}.json"))).unwrap();
    assert!(written.contains("\"format\": 2"), "{written}");
    assert!(!written.contains("schedule_index"), "{written}");
    assert!(stderr_of(&applied).is_empty() || !stderr_of(&applied).contains("error"));

    let again = env
        .cmd("plan", &["--manifest", &source, "-o", "json"])
        .assert()
        .success();
    assert_eq!(json_of(&again)["changed"], false, "{}", json_of(&again));
}
