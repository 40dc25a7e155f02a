//! `cronix doctor` on a real temp-dir host: a healthy host exits 0; a reference that resolves only
//! in the operator's shell (not in the shim's env_file plus empty environment) and an untrusted path
//! each fail with exit 1; no secret value is ever printed.

use crate::reconcile_support;

use std::os::unix::fs::PermissionsExt;

use reconcile_support::{Env, check, json_of, manifest, stdout_of};

const VALUE: &str = "doctor-sentinel-value-8c1d";

/// An env with `shop.sweep` applied, the real binary as trigger_bin; `env_file` holds the secret
/// when `with_env_file`.
fn applied(with_env_file: bool) -> Env {
    let env = Env::new();
    if with_env_file {
        let env_file = env.root().join("secrets.env");
        std::fs::write(&env_file, format!("CRONIX_TEST_SECRET={VALUE}\n")).unwrap();
        std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(env.root().join("cronix.yaml"), "env_file: secrets.env\n").unwrap();
    }
    let m = env.manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    env.cmd("apply", &["--manifest", &m, "--trigger-bin", bin()])
        .assert()
        .success();
    env
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cronix")
}

fn doctor(env: &Env, output: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd("doctor", &["-o", output, "--trigger-bin", bin()]);
    cmd.env("CRONIX_TEST_SECRET", VALUE);
    cmd
}

/// Whether a cron daemon runs on this machine (the doctor's `cron_daemon` check looks for one).
fn cron_runs() -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("comm"))
            .is_ok_and(|c| ["cron", "crond", "cronie"].contains(&c.trim()))
    })
}

#[test]
fn a_healthy_host_passes_and_says_which_config_it_loaded() {
    let env = applied(true);
    // Without a cron daemon nothing fires: the doctor fails on exactly that check (and only it).
    let daemon = cron_runs();
    let assert = doctor(&env, "json")
        .assert()
        .code(if daemon { 0 } else { 1 });
    let doc = json_of(&assert);
    assert_eq!(doc["ok"], daemon, "{doc}");
    let failed: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: &[&str] = if daemon { &[] } else { &["cron_daemon"] };
    assert_eq!(failed, expected, "{doc}");
    let config = check(&doc, "config");
    assert_eq!(config["status"], "ok");
    assert!(
        config["detail"]
            .as_str()
            .unwrap()
            .contains("$CRONIX_CONFIG"),
        "{config}"
    );
    assert_eq!(check(&doc, "target")["status"], "ok");
    assert_eq!(check(&doc, "job shop.sweep")["status"], "ok");
    assert_eq!(
        check(&doc, &format!("trigger_bin {}", bin()))["status"],
        "ok"
    );
    assert_eq!(
        check(&doc, &format!("path spec_dir {}", env.spec_dir().display()))["status"],
        "ok"
    );
    assert!(!stdout_of(&assert).contains(VALUE));

    let table = doctor(&env, "table").assert();
    if daemon {
        assert!(stdout_of(&table.code(0)).contains("a fire on this host would work"));
    } else {
        assert!(stdout_of(&table.code(1)).contains("no cron daemon runs"));
    }
}

#[test]
fn a_ref_that_resolves_only_in_the_operators_shell_fails() {
    let env = applied(false);
    let assert = doctor(&env, "json").assert().code(1);
    let doc = json_of(&assert);
    assert_eq!(doc["ok"], false);
    let job = check(&doc, "job shop.sweep");
    assert_eq!(job["status"], "fail", "{job}");
    assert!(
        job["detail"]
            .as_str()
            .unwrap()
            .contains("CRONIX_TEST_SECRET"),
        "{job}"
    );
    assert!(
        !stdout_of(&assert).contains(VALUE),
        "a secret value was printed"
    );
}

#[test]
fn an_untrusted_path_fails_with_the_fix() {
    let env = applied(true);
    std::fs::set_permissions(env.spec_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let assert = doctor(&env, "json").assert().code(1);
    let doc = json_of(&assert);
    let spec_dir = check(&doc, &format!("path spec_dir {}", env.spec_dir().display()));
    assert_eq!(spec_dir["status"], "fail");
    assert!(
        spec_dir["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("chmod go-w {}", env.spec_dir().display())),
        "{spec_dir}"
    );
    assert_eq!(check(&doc, "job shop.sweep")["status"], "fail");
    let table = doctor(&env, "table").assert().code(1);
    assert!(stdout_of(&table).contains("a fire on this host would fail"));
}

#[test]
fn a_missing_trigger_bin_fails() {
    let env = applied(true);
    let assert = env
        .cmd(
            "doctor",
            &["-o", "json", "--trigger-bin", "/nonexistent/cronix"],
        )
        .assert()
        .code(1);
    let doc = json_of(&assert);
    assert_eq!(
        check(&doc, "trigger_bin /nonexistent/cronix")["status"],
        "fail"
    );
}
