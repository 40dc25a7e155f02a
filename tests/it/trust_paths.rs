//! The trust model (DESIGN §11) on the paths root uses: specs, locks, history, audit, the crontab and
//! the operator config are refused when another user could have planted or changed them, and links
//! are never followed. Tests that need a second user run as root and create one.

use crate::reconcile_support;
use crate::support;
use crate::trust_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::{Fixture, Reply, Server};
use trust_support::{Stranger, exit_within, open_up};

const PATH: &str = "/api/v1/scheduled/settle";

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
}

fn stderr_of(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn another_users_spec_in_a_group_writable_spec_dir_is_refused() {
    let Some(stranger) =
        Stranger::create("another_users_spec_in_a_group_writable_spec_dir_is_refused")
    else {
        return;
    };
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    let spec = fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    stranger.own(&spec);
    std::os::unix::fs::chown(fx.spec_dir(), None, Some(stranger.gid)).unwrap();
    open_up(&fx.spec_dir(), 0o775);

    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("spec dir {}", fx.spec_dir().display()))
            && stderr.contains("chmod go-w"),
        "{stderr}"
    );

    // With the directory fixed, the stranger's file itself is still refused.
    open_up(&fx.spec_dir(), 0o755);
    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("owned by uid {}", stranger.uid)) && stderr.contains("chown root"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.received().is_empty(),
        "root signed the stranger's spec"
    );
}

#[test]
fn a_fifo_spec_fails_at_once_in_the_shim() {
    let fx = Fixture::new();
    mkfifo(&fx.spec_dir().join("billing.settle.json"));
    let mut child = fx.spawn_trigger();
    let status = exit_within(&mut child, Duration::from_secs(5)).expect("the shim hung on a FIFO");
    assert_eq!(status.code(), Some(3));
    assert!(stderr_of(child).contains("a FIFO"));
}

/// `cronix <sub> <args…>` with the env's target flags, spawned with its output piped.
fn spawn(env: &reconcile_support::Env, sub: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_cronix"))
        .arg(sub)
        .args(args)
        .args(env.target_flags())
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_fifo_spec_fails_at_once_in_apply_and_global_status() {
    let env = reconcile_support::Env::new();
    let manifest = env.manifest(
        "m.json",
        &reconcile_support::manifest("shop", &[("sweep", &["@hourly"])]),
    );
    std::fs::create_dir_all(env.spec_dir()).unwrap();
    mkfifo(&env.spec_dir().join("shop.sweep.json"));

    let mut apply = spawn(&env, "apply", &["--manifest", &manifest]);
    let status = exit_within(&mut apply, Duration::from_secs(5)).expect("apply hung on a FIFO");
    assert_eq!(status.code(), Some(3));
    assert!(stderr_of(apply).contains("a FIFO"));
    assert!(env.read_crontab().is_empty(), "nothing is written");

    let mut status_cmd = spawn(&env, "global-status", &["-o", "json"]);
    let status =
        exit_within(&mut status_cmd, Duration::from_secs(5)).expect("global-status hung on a FIFO");
    assert_eq!(status.code(), Some(0));
    let out = status_cmd.wait_with_output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rows["jobs"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("a FIFO"),
        "{rows}"
    );
}

#[test]
fn a_symlinked_lock_file_is_not_followed() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Forbid"})));
    let victim = fx.path("victim");
    std::fs::write(&victim, b"precious").unwrap();
    symlink(&victim, fx.lock_path()).unwrap();

    let out = fx.trigger().assert().code(3).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(server.received().is_empty());
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_planted_lock_file_never_gets_a_victim_sigtermed_by_replace() {
    let Some(stranger) =
        Stranger::create("a_planted_lock_file_never_gets_a_victim_sigtermed_by_replace")
    else {
        return;
    };
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    open_up(fx.dir.path(), 0o755);
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency": "Replace"})));
    let mut victim = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let pid = victim.id() as i32;
    let start_time = cronix::shell::lock::process_start_time(pid).unwrap();
    let holder = json!({"pid": pid, "start_time": start_time, "run_id": "planted"});
    let mut holders = Vec::new();
    // First the stranger plants it in a loosened lock dir, then in a tight one (a file left over).
    for dir_mode in [0o777, 0o755] {
        open_up(&fx.path("locks"), dir_mode);
        std::fs::write(fx.lock_path(), holder.to_string()).unwrap();
        open_up(&fx.lock_path(), 0o644);
        stranger.own(&fx.lock_path());
        let lock = fx.lock_path().display().to_string();
        let held = stranger
            .command("flock")
            .args(["-n", &lock, "sleep", "30"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        holders.push(held);

        let out = fx.trigger().assert().code(3).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("lock"), "{stderr}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the victim was signalled (lock dir mode {dir_mode:o})"
        );
    }
    for mut held in holders {
        trust_support::stop(&mut held);
    }
    let _ = victim.kill();
    let _ = victim.wait();
}

#[test]
fn history_files_and_their_side_locks_that_are_symlinks_are_not_followed() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    std::fs::create_dir_all(fx.path("state/history")).unwrap();
    let victim = fx.path("victim");
    std::fs::write(&victim, b"precious").unwrap();
    for link in [
        fx.history_path(),
        fx.path("state/history/billing.settle.jsonl.lock"),
    ] {
        let _ = std::fs::remove_file(&link);
        symlink(&victim, &link).unwrap();
        let out = fx.trigger().assert().code(0).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot record the run in history") && stderr.contains("symbolic link"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        std::fs::remove_file(&link).unwrap();
    }
    assert_eq!(server.received().len(), 2, "the fires themselves went out");
}

#[test]
fn an_audit_journal_that_is_a_symlink_is_refused_before_anything_is_written() {
    let env = reconcile_support::Env::new();
    let manifest = env.manifest(
        "m.json",
        &reconcile_support::manifest("shop", &[("sweep", &["@hourly"])]),
    );
    std::fs::create_dir_all(env.state_dir()).unwrap();
    let victim = env.root().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    symlink(&victim, env.state_dir().join("audit.jsonl")).unwrap();

    let assert = env.apply(&manifest).code(3);
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(
        stderr.contains("audit journal") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(env.read_crontab().is_empty(), "nothing is written");
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_crontab_that_is_a_symlink_to_another_users_file_is_refused() {
    let Some(stranger) =
        Stranger::create("a_crontab_that_is_a_symlink_to_another_users_file_is_refused")
    else {
        return;
    };
    let env = reconcile_support::Env::new();
    let manifest = env.manifest(
        "m.json",
        &reconcile_support::manifest("shop", &[("sweep", &["@hourly"])]),
    );
    let theirs = env.root().join("theirs");
    std::fs::write(&theirs, b"# the stranger's crontab\n").unwrap();
    stranger.own(&theirs);
    symlink(&theirs, env.crontab()).unwrap();

    let assert = env.apply(&manifest).code(3);
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        b"# the stranger's crontab\n"
    );
    let meta = std::fs::symlink_metadata(env.crontab()).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was not replaced");
    let owned_by_stranger = std::fs::read_dir(env.crontab().parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.metadata().unwrap().uid() == stranger.uid)
        .count();
    assert_eq!(
        owned_by_stranger, 0,
        "no file of root's entries belongs to the stranger"
    );
}

/// `cronix apply` of `env` with HOME pointing at `home`, no `$CRONIX_CONFIG` and no `--trigger-bin`.
fn apply_from_home(
    env: &reconcile_support::Env,
    home: &Path,
    manifest: &str,
) -> assert_cmd::assert::Assert {
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    let flags: Vec<String> = env
        .target_flags()
        .chunks(2)
        .filter(|pair| pair[0] != "--trigger-bin")
        .flatten()
        .cloned()
        .collect();
    cmd.args(["apply", "--manifest", manifest])
        .args(flags)
        .env_remove("CRONIX_CONFIG")
        .env("HOME", home)
        .env("TZ", "UTC");
    cmd.assert()
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_home_config_of_another_user_is_refused() {
    let Some(stranger) = Stranger::create("a_home_config_of_another_user_is_refused") else {
        return;
    };
    let env = reconcile_support::Env::new();
    let manifest = env.manifest(
        "m.json",
        &reconcile_support::manifest("shop", &[("sweep", &["@hourly"])]),
    );
    let home = env.root().join("home");
    std::fs::create_dir_all(home.join(".cronix")).unwrap();
    let config = home.join(".cronix/cronix.yaml");
    std::fs::write(&config, "trigger_bin: /usr/local/bin/cronix-evil\n").unwrap();
    stranger.own(&config);

    let assert = apply_from_home(&env, &home, &manifest).code(1);
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(
        stderr.contains(&config.display().to_string())
            && stderr.contains("found in $HOME")
            && stderr.contains("chown root"),
        "{stderr}"
    );
    assert!(!env.crontab_text().contains("evil"));
    assert!(env.read_crontab().is_empty());

    // The same file owned by root is the operator's and is used. (Its trigger_bin is a path no other
    // user can create: one under the world-writable /tmp would now be refused by apply itself.)
    std::os::unix::fs::chown(&config, Some(0), Some(0)).unwrap();
    apply_from_home(&env, &home, &manifest).success();
    assert!(
        env.crontab_text()
            .contains("/usr/local/bin/cronix-evil trigger")
    );
}

#[test]
fn a_group_writable_config_is_refused_with_the_fix() {
    let env = reconcile_support::Env::new();
    let config = env.root().join("cronix.yaml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o664)).unwrap();
    let assert = env.cmd("list", &[]).assert().code(1);
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(
        stderr.contains("named by $CRONIX_CONFIG")
            && stderr.contains(&format!("chmod go-w {}", config.display())),
        "{stderr}"
    );
}

#[test]
fn a_missing_cronix_config_is_an_error() {
    let env = reconcile_support::Env::new();
    let assert = env
        .cmd("list", &[])
        .env("CRONIX_CONFIG", env.root().join("nope.yaml"))
        .assert()
        .code(1);
    let stderr = reconcile_support::stderr_of(&assert);
    assert!(
        stderr.contains("nope.yaml") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// A kubeconfig can name a credential plugin the client runs. Root must not read one another user
/// could write (`sudo -E` hands root the user's `KUBECONFIG`): plan and apply refuse it, naming the
/// file, and the plugin never runs. The same file owned by root is read (and its plugin is the
/// operator's own choice).
#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_kubeconfig_another_user_can_write_is_refused_before_its_plugin_runs() {
    let Some(stranger) =
        Stranger::create("a_kubeconfig_another_user_can_write_is_refused_before_its_plugin_runs")
    else {
        return;
    };
    let env = reconcile_support::Env::new();
    let m = env.manifest(
        "m.json",
        &reconcile_support::manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    let ran = env.root().join("plugin-ran");
    let plugin = env.root().join("plugin.sh");
    std::fs::write(
        &plugin,
        format!("#!/bin/sh\ntouch {}\necho '{{}}'\n", ran.display()),
    )
    .unwrap();
    open_up(&plugin, 0o755);
    let kubeconfig = env.root().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    \
             server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: k\n    \
             user: u\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: \
             client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            plugin.display()
        ),
    )
    .unwrap();
    stranger.own(&kubeconfig);
    let kubeconfig_text = kubeconfig.display().to_string();
    for (sub, extra) in [("plan", &[][..]), ("apply", &["--yes"][..])] {
        let mut args = vec![
            "--backend",
            "kubernetes",
            "--kubeconfig",
            &kubeconfig_text,
            "--k8s-image",
            "cronix.local/cronix:1",
            "--manifest",
            &m,
        ];
        args.extend_from_slice(extra);
        let out = env
            .cmd_plain(&[&[sub][..], &args].concat())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub}: {stderr}");
        assert!(
            stderr.contains(&format!("kubeconfig {kubeconfig_text}"))
                && stderr.contains(&format!("owned by uid {}", stranger.uid)),
            "{sub}: {stderr}"
        );
        assert!(!ran.exists(), "{sub} ran the stranger's credential plugin");
    }
}
