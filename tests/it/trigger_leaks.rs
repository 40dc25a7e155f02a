//! Leak sweep: with a sentinel secret, no path of the shim puts the secret, its hex or a signature's
//! `v1` value into stdout, stderr, history, lock or spec files, or the process arguments.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Fixture, Reply, SENTINEL, Server, all_files, contains};

const PATH: &str = "/api/v1/scheduled/settle";

/// Everything that must stay clean, for one fire: the needles it must not contain.
fn needles(server: &Server) -> Vec<String> {
    let mut out = vec![SENTINEL.to_string(), hex::encode(SENTINEL)];
    for req in server.received() {
        let header = req.header("x-cron-signature").unwrap().to_string();
        let v1 = header
            .split(',')
            .find_map(|p| p.strip_prefix("v1="))
            .unwrap();
        out.push(v1.to_string());
    }
    out
}

fn assert_clean(label: &str, fx: &Fixture, server: &Server, stdout: &[u8], stderr: &[u8]) {
    let needles = needles(server);
    assert!(needles.len() >= 2);
    for needle in &needles {
        assert!(!contains(stdout, needle), "{label}: stdout leaks");
        assert!(!contains(stderr, needle), "{label}: stderr leaks");
        for (path, bytes) in all_files(fx.dir.path()) {
            assert!(
                !contains(&bytes, needle),
                "{label}: {} leaks",
                path.display()
            );
        }
    }
}

fn sweep(label: &str, script: Vec<Reply>, policy: Value, expect_code: i32) {
    let server = Server::start(script);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), policy));
    let out = fx
        .trigger()
        .args(["--log-level", "debug"])
        .assert()
        .code(expect_code)
        .get_output()
        .clone();
    assert!(
        !out.stderr.is_empty(),
        "{label}: debug logging produced lines to sweep"
    );
    assert_clean(label, &fx, &server, &out.stdout, &out.stderr);
}

#[test]
fn no_outcome_leaks_the_secret_or_a_signature() {
    sweep("ok", vec![Reply::status(200)], json!({}), 0);
    sweep(
        "retry",
        vec![Reply::status(500), Reply::status(200)],
        json!({}),
        0,
    );
    sweep("rejected", vec![Reply::status(400)], json!({}), 1);
    sweep(
        "redirect",
        vec![Reply::status(302).header("Location", "/x")],
        json!({}),
        1,
    );
    sweep(
        "exhausted",
        vec![Reply::status(200).after(Duration::from_secs(3))],
        json!({"timeout_seconds": 1, "retries": {"max_attempts": 2}}),
        2,
    );
}

#[test]
fn internal_and_contended_outcomes_do_not_leak() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    // An env_file holds a second, empty, secret: skipped with a warning that names only the reference.
    std::fs::write(fx.path("env"), "CRONIX_TEST_EMPTY=\n").unwrap();
    fx.write_config(&format!(
        "version: 1\nenv_file: {}\n",
        fx.path("env").display()
    ));
    let mut spec = fx.spec(&server.url(PATH), json!({}));
    spec["secret_refs"] = json!(["env:CRONIX_TEST_EMPTY"]);
    spec["job"]["auth"]["secret_refs"] = spec["secret_refs"].clone();
    fx.write_spec(&spec);
    let out = fx
        .trigger()
        .args(["--log-level", "debug"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert_clean("no secret", &fx, &server, &out.stdout, &out.stderr);

    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(fx.lock_path())
        .unwrap();
    lock.try_lock().unwrap();
    let out = fx
        .trigger()
        .args(["--log-level", "debug"])
        .assert()
        .code(4)
        .get_output()
        .clone();
    assert_clean("contended", &fx, &server, &out.stdout, &out.stderr);
}

#[test]
fn a_running_shim_has_no_secret_in_its_arguments_and_replace_does_not_leak() {
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(30)),
        Reply::status(200),
    ]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(
        &server.url(PATH),
        json!({"concurrency": "Replace", "timeout_seconds": 60}),
    ));
    let slow = fx.spawn_trigger();
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", slow.id())).unwrap();
    assert!(
        contains(&cmdline, "trigger"),
        "read the shim's own arguments"
    );

    let out = fx
        .trigger()
        .args(["--log-level", "debug"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let slow_out = slow.wait_with_output().unwrap();

    for needle in needles(&server) {
        assert!(!contains(&cmdline, &needle), "argv leaks");
    }
    assert_clean("replace", &fx, &server, &out.stdout, &out.stderr);
    assert_clean("replaced", &fx, &server, &slow_out.stdout, &slow_out.stderr);
}
