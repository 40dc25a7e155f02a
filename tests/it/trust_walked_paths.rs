//! Paths root trusts are walked from `/` (docs/trust-model.md): the trigger binary, alert commands,
//! the config found through `$HOME`, the directories `init` writes into, the metrics textfile's
//! directory and the lock dir are refused when another user owns, or can replace, any directory or
//! link on the way. Each test plays the second user with `Stranger` and runs as root.

use crate::reconcile_support;
use crate::support;
use crate::trust_support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reconcile_support::{Env, check, json_of, manifest, stderr_of};
use serde_json::json;
use support::{Fixture, Reply, Server};
use trust_support::Stranger;

const PATH: &str = "/api/v1/scheduled/settle";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A directory `name` under `parent`, owned by the stranger (as a user's home is).
fn stranger_dir(stranger: &Stranger, parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    stranger.own(&dir);
    dir
}

/// A root-owned 0755 shell script at `path` that appends a line to `marker` when run.
fn root_script(path: &Path, marker: &Path) {
    std::fs::write(
        path,
        format!("#!/bin/sh\necho ran >> {}\n", marker.display()),
    )
    .unwrap();
    set_mode(path, 0o755);
}

fn sweep_manifest(env: &Env) -> String {
    env.manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]))
}

// ---- 2. the trigger binary ---------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_root_owned_trigger_binary_in_a_users_directory_is_refused_by_plan_apply_and_doctor() {
    let Some(stranger) = Stranger::create("trigger_binary_in_a_users_directory") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    let home = stranger_dir(&stranger, env.root(), "home");
    let bin = home.join("cronix");
    root_script(&bin, &env.root().join("ran"));
    let bin_arg = bin.display().to_string();

    for sub in ["plan", "apply"] {
        let refused = env
            .cmd(sub, &["--manifest", &m, "--trigger-bin", &bin_arg])
            .assert()
            .code(1);
        let stderr = stderr_of(&refused);
        assert!(
            stderr.contains(&format!(
                "trigger binary {bin_arg} goes through {}",
                home.display()
            )) && stderr.contains(&format!("owned by uid {}", stranger.uid))
                && stderr.contains(&format!("chown root {}", home.display()))
                && stderr.contains("/usr/local/bin/cronix"),
            "{sub}: {stderr}"
        );
    }
    assert!(env.read_crontab().is_empty(), "nothing was installed");
    assert!(env.spec_files().is_empty(), "no spec was written");

    let doctor = env
        .cmd("doctor", &["-o", "json", "--trigger-bin", &bin_arg])
        .assert()
        .code(1);
    let doc = json_of(&doctor);
    let trigger = check(&doc, &format!("trigger_bin {bin_arg}"));
    assert_eq!(trigger["status"], "fail", "{doc}");
    assert!(
        trigger["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("goes through {}", home.display())),
        "{doc}"
    );

    // The same file in a root-owned directory is fine.
    let root_bin_dir = env.root().join("bin");
    std::fs::create_dir(&root_bin_dir).unwrap();
    set_mode(&root_bin_dir, 0o755);
    let good = root_bin_dir.join("cronix");
    std::fs::rename(&bin, &good).unwrap();
    env.cmd(
        "apply",
        &[
            "--manifest",
            &m,
            "--trigger-bin",
            &good.display().to_string(),
        ],
    )
    .assert()
    .success();
    assert!(
        env.crontab_text()
            .contains(&format!("{} trigger", good.display()))
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_trigger_binary_owned_or_writable_by_another_user_is_refused_unless_it_runs_as_that_user() {
    let Some(stranger) = Stranger::create("trigger_binary_owned_by_another_user") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    let bin = env.root().join("cronix");
    root_script(&bin, &env.root().join("ran"));
    let bin_arg = bin.display().to_string();

    set_mode(&bin, 0o757);
    let refused = env
        .cmd("apply", &["--manifest", &m, "--trigger-bin", &bin_arg])
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("chmod go-w {bin_arg}")),
        "{}",
        stderr_of(&refused)
    );

    set_mode(&bin, 0o755);
    stranger.own(&bin);
    let refused = env
        .cmd("apply", &["--manifest", &m, "--trigger-bin", &bin_arg])
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("owned by uid {}", stranger.uid))
            && stderr_of(&refused).contains("cron runs it as root"),
        "{}",
        stderr_of(&refused)
    );
    assert!(env.read_crontab().is_empty());

    // Entries that run as the stranger may use the stranger's binary: they run with its rights.
    env.cmd(
        "apply",
        &[
            "--manifest",
            &m,
            "--trigger-bin",
            &bin_arg,
            "--run-as",
            &stranger.name,
        ],
    )
    .assert()
    .success();
    assert!(
        env.crontab_text()
            .contains(&format!(" {} {bin_arg} trigger", stranger.name)),
        "{}",
        env.crontab_text()
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_user_owned_copy_of_cronix_run_as_root_does_not_install_itself() {
    let Some(stranger) = Stranger::create("a_user_owned_copy_of_cronix_run_as_root") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    let bin_dir = env.root().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    set_mode(&bin_dir, 0o755);
    let copy = bin_dir.join("cronix");
    std::fs::copy(env!("CARGO_BIN_EXE_cronix"), &copy).unwrap();
    stranger.own(&copy);
    // No --trigger-bin: the default is the running binary, the stranger's copy.
    let flags: Vec<String> = env
        .target_flags()
        .chunks(2)
        .filter(|pair| pair[0] != "--trigger-bin")
        .flatten()
        .cloned()
        .collect();
    let out = std::process::Command::new(&copy)
        .args(["apply", "--manifest", &m])
        .args(&flags)
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("trigger binary {}", copy.display()))
            && stderr.contains(&format!("owned by uid {}", stranger.uid)),
        "{stderr}"
    );
    assert!(env.read_crontab().is_empty());
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn adopt_refuses_an_untrusted_trigger_binary() {
    let Some(stranger) = Stranger::create("adopt_refuses_an_untrusted_trigger_binary") else {
        return;
    };
    let env = Env::new();
    let user = cronix::shell::passwd::current_user();
    let hand_written = format!("0 3 * * * {user} /usr/local/bin/cronix trigger shop.sweep\n");
    std::fs::write(env.crontab(), &hand_written).unwrap();
    let m = env.manifest("m.json", &manifest("shop", &[("sweep", &["0 3 * * *"])]));
    let home = stranger_dir(&stranger, env.root(), "home");
    let bin = home.join("cronix");
    root_script(&bin, &env.root().join("ran"));
    let refused = env
        .cmd(
            "adopt",
            &[
                "shop.sweep",
                "--manifest",
                &m,
                "--trigger-bin",
                &bin.display().to_string(),
            ],
        )
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("goes through {}", home.display())),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(env.crontab_text(), hand_written, "the crontab is unchanged");
}

#[test]
fn a_sticky_root_directory_keeps_a_root_binary_but_not_the_place_of_a_missing_one() {
    let env = Env::new();
    let m = sweep_manifest(&env);
    let shared = env.root().join("shared");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let bin = shared.join("cronix");
    let bin_arg = bin.display().to_string();
    let refused = env
        .cmd("plan", &["--manifest", &m, "--trigger-bin", &bin_arg])
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains("any user may create"),
        "{}",
        stderr_of(&refused)
    );
    root_script(&bin, &env.root().join("ran"));
    env.cmd("apply", &["--manifest", &m, "--trigger-bin", &bin_arg])
        .assert()
        .success();
}

// ---- 2. alert commands -------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn an_alert_command_in_a_users_directory_is_not_run() {
    let Some(stranger) = Stranger::create("an_alert_command_in_a_users_directory") else {
        return;
    };
    let fx = Fixture::new();
    let home = stranger_dir(&stranger, fx.dir.path(), "home");
    let script = home.join("notify");
    let marker = fx.path("ran");
    root_script(&script, &marker);
    fx.write_config(&format!(
        "version: 1\nalerts:\n  - command: [\"{}\"]\n    after_failures: 1\n",
        script.display()
    ));
    let app = Server::start(vec![Reply::status(500)]);
    fx.write_spec(&fx.spec(
        &app.url(PATH),
        json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}}),
    ));
    let out = fx.trigger().assert().code(2).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !marker.exists(),
        "root ran a command the stranger can replace"
    );
    assert!(
        stderr.contains("alert not delivered") && stderr.contains(&home.display().to_string()),
        "{stderr}"
    );
}

// ---- 6. init under a user's $HOME --------------------------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn init_as_root_never_writes_through_a_users_home_or_a_planted_link() {
    let Some(stranger) = Stranger::create("init_as_root_never_writes_through_a_users_home") else {
        return;
    };
    let env = Env::new();
    let victim = env.root().join("victim");
    std::fs::create_dir(&victim).unwrap();
    set_mode(&victim, 0o755);

    // A user's home with ~/.cronix linked to a root directory.
    let home = stranger_dir(&stranger, env.root(), "home");
    symlink(&victim, home.join(".cronix")).unwrap();
    std::os::unix::fs::lchown(home.join(".cronix"), Some(stranger.uid), None).unwrap();
    let refused = env
        .cmd_plain(&["init"])
        .env_remove("CRONIX_CONFIG")
        .env("HOME", &home)
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("goes through {}", home.display()))
            && stderr_of(&refused).contains(&format!("owned by uid {}", stranger.uid)),
        "{}",
        stderr_of(&refused)
    );
    assert!(
        !victim.join("cronix.yaml").exists(),
        "root wrote through the link"
    );

    // A root-owned home, but ~/.cronix is the stranger's link: still refused.
    let root_home = env.root().join("root-home");
    std::fs::create_dir(&root_home).unwrap();
    set_mode(&root_home, 0o755);
    symlink(&victim, root_home.join(".cronix")).unwrap();
    std::os::unix::fs::lchown(root_home.join(".cronix"), Some(stranger.uid), None).unwrap();
    env.cmd_plain(&["init"])
        .env_remove("CRONIX_CONFIG")
        .env("HOME", &root_home)
        .assert()
        .code(1);
    assert!(
        !victim.join("cronix.yaml").exists(),
        "root wrote through the link"
    );

    // A root-owned home and no link: written 0600.
    std::fs::remove_file(root_home.join(".cronix")).unwrap();
    env.cmd_plain(&["init"])
        .env_remove("CRONIX_CONFIG")
        .env("HOME", &root_home)
        .assert()
        .success();
    let written = root_home.join(".cronix/cronix.yaml");
    assert_eq!(
        std::fs::metadata(&written).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn init_force_replaces_a_link_at_the_config_path_and_leaves_its_target_alone() {
    let env = Env::new();
    let victim = env.root().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    set_mode(&victim, 0o644);
    let dir = env.root().join("etc");
    std::fs::create_dir(&dir).unwrap();
    let config = dir.join("cronix.yaml");
    symlink(&victim, &config).unwrap();
    let path = config.display().to_string();
    env.cmd_plain(&["init", "--config", &path]).assert().code(1);
    env.cmd_plain(&["init", "--config", &path, "--force"])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644,
        "the link's target was not chmod-ed"
    );
    assert!(std::fs::symlink_metadata(&config).unwrap().is_file());
}

// ---- 9. the config found through $HOME under sudo -E -------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_home_cronix_link_in_a_users_home_does_not_steer_root_to_another_config() {
    let Some(stranger) = Stranger::create("a_home_cronix_link_in_a_users_home") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    // A root-owned config somewhere else on the host, with a trigger_bin root must not install.
    let other = env.root().join("other");
    std::fs::create_dir(&other).unwrap();
    set_mode(&other, 0o755);
    std::fs::write(
        other.join("cronix.yaml"),
        "trigger_bin: /usr/local/bin/cronix-other\n",
    )
    .unwrap();
    let home = stranger_dir(&stranger, env.root(), "home");
    symlink(&other, home.join(".cronix")).unwrap();
    std::os::unix::fs::lchown(home.join(".cronix"), Some(stranger.uid), None).unwrap();

    let apply = |home: &Path| {
        let flags: Vec<String> = env
            .target_flags()
            .chunks(2)
            .filter(|pair| pair[0] != "--trigger-bin")
            .flatten()
            .cloned()
            .collect();
        let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
        cmd.args(["apply", "--manifest", &m])
            .args(flags)
            .env_remove("CRONIX_CONFIG")
            .env("HOME", home)
            .env("TZ", "UTC");
        cmd.assert()
    };
    let refused = apply(&home).code(1);
    let stderr = stderr_of(&refused);
    assert!(
        stderr.contains("found in $HOME")
            && stderr.contains(&format!("goes through {}", home.display()))
            && stderr.contains("sudo without -E"),
        "{stderr}"
    );
    assert!(env.read_crontab().is_empty(), "{}", env.crontab_text());
    assert!(env.spec_files().is_empty());

    // Without a config in the user's home, `sudo -E` goes on as it would without -E.
    std::fs::remove_file(home.join(".cronix")).unwrap();
    apply(&home).success();
    assert!(!env.crontab_text().contains("cronix-other"));
    let spec = String::from_utf8(env.spec_files()["shop.sweep.json"].clone()).unwrap();
    assert!(!spec.contains(&home.display().to_string()), "{spec}");
}

// ---- 10. the metrics textfile's directory ------------------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_metrics_textfile_behind_a_users_link_or_in_a_users_directory_is_not_written() {
    let Some(stranger) = Stranger::create("a_metrics_textfile_behind_a_users_link") else {
        return;
    };
    let fx = Fixture::new();
    let victim = fx.path("victim");
    std::fs::create_dir(&victim).unwrap();
    set_mode(&victim, 0o755);
    let collectors = fx.path("collectors");
    std::fs::create_dir(&collectors).unwrap();
    set_mode(&collectors, 0o755);
    let linked = collectors.join("linked");
    symlink(&victim, &linked).unwrap();
    std::os::unix::fs::lchown(&linked, Some(stranger.uid), None).unwrap();
    let owned = stranger_dir(&stranger, &collectors, "owned");
    let app = Server::start(vec![Reply::status(200)]);
    fx.write_spec(&fx.spec(&app.url(PATH), json!({})));

    for dir in [&linked, &owned] {
        let textfile = dir.join("cronix.prom");
        fx.write_config(&format!(
            "version: 1\nmetrics:\n  textfile: {}\n",
            textfile.display()
        ));
        let out = fx.trigger().assert().code(0).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot write the metrics textfile")
                && stderr.contains(&format!("owned by uid {}", stranger.uid)),
            "{stderr}"
        );
        assert!(
            !victim.join("cronix.prom").exists(),
            "root wrote through the link"
        );
        assert!(!owned.join("cronix.prom").exists());
    }
    assert_eq!(fx.history().len(), 2, "the fires themselves are recorded");

    // A root-owned collector directory is written.
    let good = collectors.join("good");
    std::fs::create_dir(&good).unwrap();
    fx.write_config(&format!(
        "version: 1\nmetrics:\n  textfile: {}\n",
        good.join("cronix.prom").display()
    ));
    fx.trigger().assert().code(0);
    assert!(
        std::fs::read_to_string(good.join("cronix.prom"))
            .unwrap()
            .contains("cronix_runs_total")
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn doctor_reports_a_metrics_textfile_directory_behind_a_users_link() {
    let Some(stranger) = Stranger::create("doctor_reports_a_metrics_textfile_directory") else {
        return;
    };
    let env = Env::new();
    let victim = env.root().join("victim");
    std::fs::create_dir(&victim).unwrap();
    set_mode(&victim, 0o755);
    let linked = env.root().join("collector");
    symlink(&victim, &linked).unwrap();
    std::os::unix::fs::lchown(&linked, Some(stranger.uid), None).unwrap();
    std::fs::write(
        env.root().join("cronix.yaml"),
        format!("metrics:\n  textfile: {}/cronix.prom\n", linked.display()),
    )
    .unwrap();
    let doctor = env.cmd("doctor", &["-o", "json"]).assert().code(1);
    let doc = json_of(&doctor);
    let textfile = check(
        &doc,
        &format!("path metrics textfile dir {}", linked.display()),
    );
    assert_eq!(textfile["status"], "fail", "{doc}");
}

// ---- 11. a lock dir in a world-writable directory ----------------------------------------------

#[test]
fn a_lock_dir_in_a_world_writable_directory_is_refused_by_apply_and_doctor() {
    let env = Env::new();
    let m = sweep_manifest(&env);
    // Like /var/lock (= /run/lock): root-owned, sticky, world-writable.
    let shared = env.root().join("lock");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let lock_dir = shared.join("cronix");
    let lock_arg = lock_dir.display().to_string();
    for sub in ["plan", "apply"] {
        let refused = env
            .cmd(sub, &["--manifest", &m, "--lock-dir", &lock_arg])
            .assert()
            .code(1);
        let stderr = stderr_of(&refused);
        assert!(
            stderr.contains(&format!("lock dir {lock_arg}"))
                && stderr.contains("every user may create entries")
                && stderr.contains("/run/cronix"),
            "{sub}: {stderr}"
        );
    }
    assert!(env.read_crontab().is_empty());

    // Created by root beforehand it is still refused: after a reboot (/run/lock is a tmpfs) anyone
    // can create it first.
    std::fs::create_dir(&lock_dir).unwrap();
    env.cmd("apply", &["--manifest", &m, "--lock-dir", &lock_arg])
        .assert()
        .code(1);
    let doctor = env
        .cmd("doctor", &["-o", "json", "--lock-dir", &lock_arg])
        .assert()
        .code(1);
    let doc = json_of(&doctor);
    let place = check(&doc, &format!("path lock_dir {lock_arg} (its place)"));
    assert_eq!(place["status"], "fail", "{doc}");
    assert!(
        place["detail"].as_str().unwrap().contains("/run/cronix"),
        "{doc}"
    );

    // Through a root-owned link (/var/lock -> /run/lock) it is the same.
    let alias = env.root().join("var-lock");
    symlink(&shared, &alias).unwrap();
    let refused = env
        .cmd(
            "apply",
            &[
                "--manifest",
                &m,
                "--lock-dir",
                &alias.join("cronix").display().to_string(),
            ],
        )
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("is in {}", shared.display())),
        "{}",
        stderr_of(&refused)
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn the_shim_never_follows_a_users_link_in_a_world_writable_lock_parent() {
    let Some(stranger) = Stranger::create("the_shim_never_follows_a_users_link") else {
        return;
    };
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    let shared = fx.path("lock");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let victim = fx.path("victim");
    std::fs::create_dir(&victim).unwrap();
    set_mode(&victim, 0o755);
    std::fs::write(victim.join("billing.settle.lock"), "precious").unwrap();
    let lock_dir = shared.join("cronix");
    symlink(&victim, &lock_dir).unwrap();
    std::os::unix::fs::lchown(&lock_dir, Some(stranger.uid), None).unwrap();
    let mut spec = fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"}));
    spec["lock_dir"] = json!(lock_dir.display().to_string());
    fx.write_spec(&spec);

    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("goes through {}", lock_dir.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("billing.settle.lock")).unwrap(),
        "precious",
        "root rewrote a lock file through the link"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.received().is_empty());

    // A lock dir root made there itself is used (its entries cannot be replaced by others).
    std::fs::remove_file(&lock_dir).unwrap();
    std::fs::create_dir(&lock_dir).unwrap();
    set_mode(&lock_dir, 0o755);
    fx.trigger().assert().code(0);
    assert!(lock_dir.join("billing.settle.lock").exists());
}

// ---- 1. the programs root runs: systemctl, crontab ----------------------------------------------

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_systemctl_or_crontab_in_a_users_directory_is_never_run() {
    let Some(stranger) = Stranger::create("programs_in_a_users_directory") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    let home = stranger_dir(&stranger, env.root(), "home");
    let marker = env.root().join("ran");
    for name in ["systemctl", "crontab"] {
        root_script(&home.join(name), &marker);
    }
    std::fs::create_dir(env.root().join("units")).unwrap();
    std::fs::write(
        env.root().join("cronix.yaml"),
        format!(
            "systemctl_bin: {home}/systemctl\ncrontab_bin: {home}/crontab\n",
            home = home.display()
        ),
    )
    .unwrap();
    let units = env.root().join("units").display().to_string();
    let refused = env
        .cmd(
            "apply",
            &[
                "systemd-timer",
                "--manifest",
                &m,
                "--systemd-unit-dir",
                &units,
            ],
        )
        .assert()
        .code(3);
    let stderr = stderr_of(&refused);
    assert!(
        stderr.contains(&format!("systemctl_bin {}/systemctl", home.display()))
            && stderr.contains(&format!("owned by uid {}", stranger.uid)),
        "{stderr}"
    );
    let user = cronix::shell::passwd::current_user();
    let refused = env
        .cmd_plain(&["apply", "--manifest", &m, "--crontab-user", &user])
        .args(["--spec-dir", env.spec_dir().to_str().unwrap()])
        .args(["--lock-dir", env.lock_dir().to_str().unwrap()])
        .args(["--state-dir", env.state_dir().to_str().unwrap()])
        .args(["--secret-ref", "env:CRON_SECRET"])
        .assert()
        .failure();
    let stderr = stderr_of(&refused);
    assert!(
        stderr.contains(&format!("crontab_bin {}/crontab", home.display())),
        "{stderr}"
    );
    assert!(
        !marker.exists(),
        "a program in a user's directory ran as root"
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_root_config_named_through_a_users_directory_is_refused_whoever_names_it() {
    let Some(stranger) = Stranger::create("a_root_config_in_a_users_directory") else {
        return;
    };
    let env = Env::new();
    let m = sweep_manifest(&env);
    // A root-owned file, in a directory the user owns: the user can swap it at any time, and apply
    // would record its path in every spec for later fires to follow.
    let home = stranger_dir(&stranger, env.root(), "home");
    let config = home.join("cronix.yaml");
    std::fs::write(&config, "version: 1\n").unwrap();
    set_mode(&config, 0o644);
    let config_arg = config.display().to_string();
    let by_env = env
        .cmd("apply", &["--manifest", &m])
        .env("CRONIX_CONFIG", &config)
        .assert()
        .code(1);
    let by_flag = env
        .cmd("apply", &["--manifest", &m, "--config", &config_arg])
        .assert()
        .code(1);
    for (how, refused) in [("$CRONIX_CONFIG", by_env), ("--config", by_flag)] {
        let stderr = stderr_of(&refused);
        assert!(
            stderr.contains(&format!("config {config_arg}"))
                && stderr.contains(&format!("goes through {}", home.display()))
                && stderr.contains("for root under /etc/cronix"),
            "{how}: {stderr}"
        );
    }
    assert!(env.read_crontab().is_empty(), "{}", env.crontab_text());
    assert!(env.spec_files().is_empty());
}
