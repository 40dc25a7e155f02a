//! Spec files hold a job's URL, headers and body, which may carry credentials (`X-Api-Key`, a query
//! token): no other user can read them unless the operator says so (config `spec_mode`). A system
//! crontab whose entries run as another user (`run_as`) gives that user's group read access, so its
//! fires can read their spec, and nobody else. A user who cannot read the specs is told why by
//! `drift`/`show`. Privilege boundaries are checked with a real second user (root only).

use crate::reconcile_support;
use crate::trust_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use reconcile_support::{Env, manifest};
use serde_json::json;
use trust_support::{Stranger, open_up};

/// A job whose request carries credential-looking headers, a query token and a body.
fn with_credentials() -> serde_json::Value {
    let mut doc = manifest("billing", &[("settle", &["0 2 * * *"])]);
    doc["jobs"][0]["request"] = json!({
        "url": "https://billing.example.com/cron/settle?token=q-secret-789",
        "method": "POST",
        "headers": {"X-Api-Key": "k-secret-123", "X-Auth-Token": "t-secret-456"},
        "body": "{\"password\":\"b-secret\"}",
    });
    doc
}

fn spec_path(env: &Env) -> std::path::PathBuf {
    env.spec_dir().join("billing.settle.json")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

/// The dirs from `/` to the spec file traversable by others, so only the file's own mode decides.
fn open_the_way(env: &Env) {
    open_up(env.root(), 0o755);
    open_up(&env.spec_dir(), 0o755);
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_spec_with_credentials_is_not_readable_by_another_user() {
    let env = Env::new();
    let m = env.manifest("m.json", &with_credentials());
    env.apply(&m).success();
    let spec = spec_path(&env);
    assert!(
        std::fs::read_to_string(&spec)
            .unwrap()
            .contains("k-secret-123")
    );
    assert_eq!(mode(&spec), 0o600, "the default spec mode");

    let Some(stranger) =
        Stranger::create("a_spec_with_credentials_is_not_readable_by_another_user")
    else {
        return;
    };
    open_the_way(&env);
    let read = stranger.run("cat", &[spec.to_str().unwrap()]);
    assert!(
        !read.status.success() && !String::from_utf8_lossy(&read.stdout).contains("secret"),
        "another user read the spec: {}",
        String::from_utf8_lossy(&read.stdout)
    );
}

#[test]
fn the_operator_may_open_specs_with_spec_mode_and_apply_moves_existing_files_to_it() {
    let env = Env::new();
    let m = env.manifest("m.json", &with_credentials());
    // A spec installed world-readable (as before this setting existed) is an update to 0600.
    env.apply(&m).success();
    let spec = spec_path(&env);
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(5);
    env.apply(&m).success();
    assert_eq!(mode(&spec), 0o600);

    std::fs::write(env.root().join("cronix.yaml"), "spec_mode: \"0644\"\n").unwrap();
    env.apply(&m).success();
    assert_eq!(
        mode(&spec),
        0o644,
        "the operator asked for world-readable specs"
    );
    env.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(0);

    std::fs::write(env.root().join("cronix.yaml"), "spec_mode: 0666\n").unwrap();
    let out = env.apply(&m).failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("spec_mode") && stderr.contains("\"0600\""),
        "{stderr}"
    );
    assert_eq!(mode(&spec), 0o644, "a refused config changes nothing");
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn entries_run_as_another_user_get_specs_that_user_and_root_only_can_read() {
    let Some(runner) =
        Stranger::create("entries_run_as_another_user_get_specs_that_user_and_root_only_can_read")
    else {
        return;
    };
    let Some(other) = Stranger::create("entries_run_as_another_user_other") else {
        return;
    };
    let env = Env::new();
    let m = env.manifest("m.json", &with_credentials());
    env.cmd("apply", &["--manifest", &m, "--run-as", &runner.name])
        .assert()
        .success();
    let spec = spec_path(&env);
    let meta = std::fs::metadata(&spec).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (0, runner.gid));
    open_the_way(&env);
    let by_runner = runner.run("cat", &[spec.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&by_runner.stdout).contains("k-secret-123"),
        "the user the fires run as must read its spec: {}",
        String::from_utf8_lossy(&by_runner.stderr)
    );
    let by_other = other.run("cat", &[spec.to_str().unwrap()]);
    assert!(!by_other.status.success(), "a third user read the spec");
    // Re-applying changes nothing: the group is part of the installed state.
    env.cmd(
        "drift",
        &[
            "--manifest",
            &m,
            "--run-as",
            &runner.name,
            "--exit-on-drift",
        ],
    )
    .assert()
    .code(0);
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_user_who_cannot_read_the_specs_is_told_why_by_drift_and_show() {
    let Some(stranger) =
        Stranger::create("a_user_who_cannot_read_the_specs_is_told_why_by_drift_and_show")
    else {
        return;
    };
    let env = Env::new();
    let m = env.manifest("m.json", &with_credentials());
    env.apply(&m).success();
    open_the_way(&env);
    for dir in ["cron.d", "state", "locks"] {
        let _ = std::fs::create_dir_all(env.root().join(dir));
        open_up(&env.root().join(dir), 0o755);
    }
    open_up(Path::new(&m), 0o644);
    let bin = env!("CARGO_BIN_EXE_cronix");
    let flags = env.target_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    for args in [
        vec!["drift", "--manifest", m.as_str()],
        vec!["show", "billing.settle"],
    ] {
        let mut cmd = stranger.command(bin);
        cmd.args(&args)
            .args(&flags)
            .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
            .env("TZ", "UTC");
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("billing.settle.json")
                && stderr.contains("run this command as root")
                && stderr.contains("spec_mode"),
            "{args:?}: {stderr}"
        );
        assert!(!stdout.contains("secret") && !stderr.contains("secret"));
    }
    // `list` reads the crontab, not the specs: it still works for that user.
    let out = stranger
        .command(bin)
        .arg("list")
        .args(&flags)
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("settle"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
