//! The reference tool's flags and meanings on the shim and on show/version/validate: `trigger
//! --lock-dir` wins over the spec's lock dir, `trigger --backend` labels the log lines,
//! `$CRONIX_JOB_SPEC_DIR` is the spec dir when `--spec-dir` is absent, `show --manifest` says in sync
//! or drifted, `version` prints the build, `validate` explains a step past its field's range.

use crate::reconcile_support;
use crate::support;

use std::fs::OpenOptions;

use serde_json::json;
use support::{APP, Fixture, JOB, Reply, SECRET_ENV, SENTINEL, Server};

const PATH: &str = "/api/v1/scheduled/settle";

fn trigger(fx: &Fixture, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    cmd.args(["--config", &fx.config().display().to_string(), "trigger"])
        .args(args)
        .env(SECRET_ENV, SENTINEL)
        .env("HOME", fx.dir.path())
        .env_remove("CRONIX_JOB_SPEC_DIR");
    cmd
}

#[test]
fn trigger_lock_dir_wins_over_the_lock_dir_in_the_spec() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    let other = fx.path("other-locks");
    std::fs::create_dir_all(&other).unwrap();
    let held = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(other.join(format!("{APP}.{JOB}.lock")))
        .unwrap();
    held.try_lock().unwrap();
    let spec_dir = fx.spec_dir().display().to_string();
    let id = format!("{APP}.{JOB}");
    let other_dir = other.display().to_string();
    trigger(
        &fx,
        &["--spec-dir", &spec_dir, "--lock-dir", &other_dir, &id],
    )
    .assert()
    .code(4);
    assert!(server.received().is_empty());
    // Without the flag the spec's lock dir is used, which nobody holds.
    trigger(&fx, &["--spec-dir", &spec_dir, &id])
        .assert()
        .code(0);
    assert_eq!(server.wait_for(1, std::time::Duration::from_secs(5)), 1);
}

#[test]
fn trigger_backend_is_a_label_in_the_log_lines_and_a_bad_name_exits_3() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    let spec_dir = fx.spec_dir().display().to_string();
    let id = format!("{APP}.{JOB}");
    let out = trigger(&fx, &["--spec-dir", &spec_dir, "--backend", "crontab", &id])
        .args(["--log-level", "info"])
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(lines.iter().all(|l| l["backend"] == "crontab"), "{stderr}");
    let bad = trigger(&fx, &["--spec-dir", &spec_dir, "--backend", "cronjob", &id])
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&bad.get_output().stderr).into_owned();
    assert!(
        err.contains("unknown backend \"cronjob\"; built: crontab"),
        "{err}"
    );
    assert_eq!(server.received().len(), 1, "the bad name sent nothing");
}

#[test]
fn the_spec_dir_comes_from_cronix_job_spec_dir_when_the_flag_is_absent() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    let spec = fx.spec(&server.url(PATH), json!({}));
    let elsewhere = fx.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join(format!("{APP}.{JOB}.json")),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let id = format!("{APP}.{JOB}");
    trigger(&fx, &[&id])
        .env("CRONIX_JOB_SPEC_DIR", &elsewhere)
        .assert()
        .code(0);
    assert_eq!(server.wait_for(1, std::time::Duration::from_secs(5)), 1);
    // Without it (and no spec dir in the config) the default dir has no such spec: internal, 3.
    trigger(&fx, &[&id]).assert().code(3);
}

#[test]
fn show_with_a_manifest_says_in_sync_or_drifted() {
    use reconcile_support::*;
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&m).success();
    let shown = env
        .cmd("show", &["billing.settle", "--manifest", &m])
        .assert()
        .success();
    assert!(
        stdout_of(&shown).contains(&format!("manifest {m}: in sync")),
        "{}",
        stdout_of(&shown)
    );
    let changed = env.manifest(
        "c.json",
        &manifest("billing", &[("settle", &["0 3 * * *"])]),
    );
    let drifted = env
        .cmd(
            "show",
            &[
                "crontab",
                "billing.settle",
                "--manifest",
                &changed,
                "-o",
                "json",
            ],
        )
        .assert()
        .success();
    let doc = json_of(&drifted);
    assert_eq!(doc["sync"]["in_sync"], false);
    let kinds: Vec<&str> = doc["sync"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["entry", "spec"]);
    let table = env
        .cmd("show", &["billing.settle", "--manifest", &changed])
        .assert()
        .success();
    assert!(
        stdout_of(&table).contains("drifted (2 changes on apply)"),
        "{}",
        stdout_of(&table)
    );
}

#[test]
fn version_prints_the_commit_the_build_date_and_the_target() {
    let out = assert_cmd::Command::cargo_bin("cronix")
        .unwrap()
        .args(["-o", "json", "version"])
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let commit = doc["commit"].as_str().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    let date = doc["build_date"].as_str().unwrap();
    assert!(
        jiff::civil::Date::strptime("%Y-%m-%d", date).is_ok(),
        "{date}"
    );
    let target = doc["target"].as_str().unwrap();
    assert!(target.contains("linux") || target.contains('-'), "{target}");
    let table = assert_cmd::Command::cargo_bin("cronix")
        .unwrap()
        .arg("version")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
    assert!(
        text.contains(&format!("commit {commit}, built {date}, {target}")),
        "{text}"
    );
}

#[test]
fn validate_explains_a_step_past_the_end_of_its_field() {
    use reconcile_support::*;
    let env = Env::new();
    let m = env.manifest(
        "s.json",
        &manifest("billing", &[("settle", &["*/90 * * * *", "0 9 * * */15"])]),
    );
    let out = env
        .cmd_plain(&["validate", "--secret-ref", SECRET_REF, &m])
        .assert()
        .success();
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "minute field \"*/90\" steps past the end of its range, so cron runs it only at 0"
        ),
        "{err}"
    );
    assert!(err.contains("day-of-week field \"*/15\""), "{err}");
    let json = env
        .cmd_plain(&["-o", "json", "validate", "--secret-ref", SECRET_REF, &m])
        .assert()
        .success();
    assert_eq!(json_of(&json)["warnings"].as_array().unwrap().len(), 2);
}
