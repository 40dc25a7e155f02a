//! Crash safety: an apply killed with SIGKILL at each named step leaves the crontab as the old or the
//! new complete file (with the systemd-timer backend: every unit file old or new, through the batch
//! write's sync and renames), every installed entry has its spec file, and the next apply cleans
//! leftover temp files and finishes the job. Concurrent applies serialize and lose nothing.
//!
//! The binary stops itself at a step named by `CRONIX_TEST_PAUSE_AT`; the test waits until it is
//! stopped, then kills it there.

use crate::reconcile_support;

use std::process::{Child, Command as StdCommand};

use reconcile_support::*;

/// Old state: `keep` (changed in v2) and `gone` (removed in v2). New state: `keep` updated, `added`.
fn old_manifest() -> serde_json::Value {
    manifest(
        "billing",
        &[
            ("gone", &["0 1 * * *"]),
            ("keep", &["0 2 * * *", "0 3 * * *"]),
        ],
    )
}

fn new_manifest() -> serde_json::Value {
    manifest(
        "billing",
        &[
            ("added", &["0 5 * * *"]),
            ("keep", &["0 4 * * *", "0 3 * * *"]),
        ],
    )
}

fn spawn_paused(env: &Env, args: &[&str], step: &str) -> Child {
    let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("cronix"));
    cmd.args(args)
        .args(env.target_flags())
        .env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .env("CRONIX_TEST_PAUSE_AT", step)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd.spawn().unwrap()
}

/// `spawn_paused` with extra target flags after this env's (another backend's).
fn spawn_paused_on(env: &Env, args: &[&str], target: &[String], step: &str) -> Child {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(target.iter().map(String::as_str));
    spawn_paused(env, &all, step)
}

/// Wait until the child stopped itself (state `T` in /proc) and return true, or exited (false).
fn wait_until_stopped(child: &mut Child) -> bool {
    let stat = format!("/proc/{}/stat", child.id());
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if let Ok(text) = std::fs::read_to_string(&stat) {
            let state = text
                .rsplit(") ")
                .next()
                .and_then(|rest| rest.chars().next());
            if state == Some('T') {
                return true;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every owned entry in the crontab has its spec file.
fn assert_every_entry_has_its_spec(env: &Env) {
    let text = env.crontab_text();
    for line in text.lines().filter(|l| l.starts_with("# cronix:owned")) {
        let job = line
            .split(' ')
            .find_map(|w| w.strip_prefix("job="))
            .unwrap();
        let spec = env.spec_dir().join(format!("billing.{job}.json"));
        assert!(spec.exists(), "entry of {job} without its spec:\n{text}");
    }
}

fn temp_files(env: &Env) -> Vec<String> {
    let mut names = names_in(env.crontab().parent().unwrap());
    names.extend(names_in(&env.spec_dir()));
    names.retain(|n| n.contains(".cronix-tmp"));
    names
}

#[test]
fn a_killed_apply_leaves_the_old_or_the_new_file_and_the_next_apply_finishes() {
    // After the kill, the recovering apply produces the new file; the killed state must be it or
    // the old one.
    let steps = [
        "locked",
        "temp_written:billing.added.json",
        "temp_written:billing.keep.json",
        "specs_synced",
        "renamed:billing.added.json",
        "specs_written",
        "temp_written:cronix",
        "crontab_installed",
        "specs_removed",
    ];
    for step in steps {
        let env = Env::new();
        std::fs::write(env.crontab(), b"# foreign\r\nMAILTO=x").unwrap();
        let old = env.manifest("old.json", &old_manifest());
        let new = env.manifest("new.json", &new_manifest());
        env.apply(&old).success();
        let old_bytes = env.read_crontab();

        let mut child = spawn_paused(&env, &["apply", "--manifest", &new], step);
        assert!(wait_until_stopped(&mut child), "apply never reached {step}");
        child.kill().unwrap();
        child.wait().unwrap();
        let crashed = env.read_crontab();
        assert_every_entry_has_its_spec(&env);

        env.apply(&new).success();
        let new_bytes = env.read_crontab();
        assert!(
            crashed == old_bytes || crashed == new_bytes,
            "killed at {step}: the crontab is neither the old nor the new file:\n{}",
            String::from_utf8_lossy(&crashed)
        );
        assert_eq!(temp_files(&env), Vec::<String>::new(), "after {step}");
        assert_eq!(
            names_in(&env.spec_dir()),
            vec!["billing.added.json", "billing.keep.json"],
            "after {step}"
        );
        env.cmd("drift", &["--manifest", &new, "--exit-on-drift"])
            .assert()
            .code(0);
        assert!(new_bytes.starts_with(b"# foreign\r\nMAILTO=x\n"));
    }
}

#[test]
fn a_killed_prune_leaves_a_complete_file() {
    for step in ["temp_written:cronix", "crontab_installed"] {
        let env = Env::new();
        std::fs::write(env.crontab(), b"# foreign\n").unwrap();
        let old = env.manifest("old.json", &old_manifest());
        env.apply(&old).success();
        let before = env.read_crontab();
        let mut child = spawn_paused(&env, &["prune", "--yes"], step);
        assert!(wait_until_stopped(&mut child), "prune never reached {step}");
        child.kill().unwrap();
        child.wait().unwrap();
        let crashed = env.read_crontab();
        assert!(crashed == before || crashed == b"# foreign\n", "{step}");
        env.cmd("prune", &["--yes"]).assert().success();
        assert_eq!(env.read_crontab(), b"# foreign\n");
        assert_eq!(temp_files(&env), Vec::<String>::new());
        assert!(names_in(&env.spec_dir()).is_empty());
    }
}

#[test]
fn concurrent_applies_of_one_app_end_in_the_state_of_one_of_them() {
    for round in 0..5 {
        let env = Env::new();
        std::fs::write(env.crontab(), b"# foreign\n").unwrap();
        let old = env.manifest("old.json", &old_manifest());
        let new = env.manifest("new.json", &new_manifest());
        std::thread::scope(|s| {
            let first = s.spawn(|| env.apply(&old).success());
            let second = s.spawn(|| env.apply(&new).success());
            first.join().unwrap();
            second.join().unwrap();
        });
        let matches: Vec<bool> = [&old, &new]
            .iter()
            .map(|m| {
                env.cmd("drift", &["--manifest", m, "--exit-on-drift"])
                    .output()
                    .unwrap()
                    .status
                    .code()
                    == Some(0)
            })
            .collect();
        assert_eq!(
            matches.iter().filter(|m| **m).count(),
            1,
            "round {round}: the result must be exactly one of the two manifests:\n{}",
            env.crontab_text()
        );
        assert!(env.read_crontab().starts_with(b"# foreign\n"));
        assert_every_entry_has_its_spec(&env);
    }
}

#[test]
fn concurrent_applies_of_two_apps_lose_nothing() {
    for round in 0..5 {
        let env = Env::new();
        let a = env.manifest("a.json", &manifest("alpha", &[("one", &["0 1 * * *"])]));
        let b = env.manifest("b.json", &manifest("beta", &[("one", &["0 2 * * *"])]));
        std::thread::scope(|s| {
            let first = s.spawn(|| env.apply(&a).success());
            let second = s.spawn(|| env.apply(&b).success());
            first.join().unwrap();
            second.join().unwrap();
        });
        let text = env.crontab_text();
        assert_eq!(
            owned_lines(&text, "alpha").len(),
            2,
            "round {round}:\n{text}"
        );
        assert_eq!(
            owned_lines(&text, "beta").len(),
            2,
            "round {round}:\n{text}"
        );
    }
}

/// The audit journal's records, as JSON values, oldest first.
fn audit_records(env: &Env) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.state_dir().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ops_of(record: &serde_json::Value) -> Vec<String> {
    record["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{} {} {} {}", o["op"], o["kind"], o["job"], o["idx"]))
        .collect()
}

#[test]
fn an_apply_killed_between_its_change_and_its_record_is_audited_by_the_next_run() {
    // (step, the outcome the next run finds): the crontab is swapped at `crontab_installed`.
    let steps = [
        ("intent_written", "interrupted_not_applied"),
        ("specs_written", "interrupted_not_applied"),
        ("crontab_installed", "interrupted_applied"),
        ("specs_removed", "interrupted_applied"),
        ("executed", "interrupted_applied"),
    ];
    for (step, outcome) in steps {
        let env = Env::new();
        let old = env.manifest("old.json", &old_manifest());
        let new = env.manifest("new.json", &new_manifest());
        env.apply(&old).success();
        // What a completed apply of `new` records, from a twin that is not killed.
        let twin = Env::new();
        twin.apply(&twin.manifest("old.json", &old_manifest()))
            .success();
        twin.apply(&twin.manifest("new.json", &new_manifest()))
            .success();
        let expected_ops = ops_of(&audit_records(&twin)[1]);

        let mut child = spawn_paused(&env, &["apply", "--manifest", &new], step);
        assert!(wait_until_stopped(&mut child), "apply never reached {step}");
        child.kill().unwrap();
        child.wait().unwrap();
        env.apply(&new).success();

        let records = audit_records(&env);
        assert!(records.len() >= 2, "killed at {step}: {records:?}");
        let killed = &records[1];
        assert_eq!(
            killed["outcome"], outcome,
            "killed at {step}: the killed apply's change must be recorded by the next run: {records:?}"
        );
        assert_eq!(ops_of(killed), expected_ops, "killed at {step}");
        assert_eq!(killed["command"], "apply");
        assert!(records[0].get("outcome").is_none());
        if outcome == "interrupted_not_applied" {
            assert_eq!(records.len(), 3, "killed at {step}: {records:?}");
            // The next apply makes the change (its spec files may already be written).
            assert!(records[2].get("outcome").is_none());
            let entries = |ops: Vec<String>| -> Vec<String> {
                ops.into_iter()
                    .filter(|o| o.contains("\"entry\""))
                    .collect()
            };
            assert_eq!(entries(ops_of(&records[2])), entries(expected_ops.clone()));
        }
        assert!(
            names_in(&env.state_dir())
                .iter()
                .all(|n| !n.starts_with(".audit-pending")),
            "killed at {step}: the intent stays after it was recorded"
        );
        env.cmd("drift", &["--manifest", &new, "--exit-on-drift"])
            .assert()
            .code(0);
    }
}

/// A tmpfs of `size` mounted on `dir` (root only), unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        let status = StdCommand::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }

    /// Fill the file system until a write fails with ENOSPC.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.0.join(".filler")).unwrap();
        let chunk = [0u8; 512];
        loop {
            match filler.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_apply_that_runs_out_of_space_puts_the_old_specs_back_and_is_audited_as_failed() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts a tmpfs and runs as root (as CI does)"
    );
    let env = Env::new();
    let _tmpfs = Tmpfs::mount(env.crontab().parent().unwrap(), "64k");
    let old = env.manifest("old.json", &old_manifest());
    let new = env.manifest("new.json", &new_manifest());
    env.apply(&old).success();
    let crontab = env.read_crontab();
    let specs = env.spec_files();
    _tmpfs.fill();

    let out = env.apply(&new).failure().code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("No space left") && stderr.contains("spec files were put back"),
        "{stderr}"
    );
    assert_eq!(env.read_crontab(), crontab, "the crontab is the old file");
    assert_eq!(
        env.spec_files(),
        specs,
        "the old spec files are back, byte for byte, and the new one is gone"
    );
    let records = audit_records(&env);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1]["outcome"], "failed", "{records:?}");
    assert!(!ops_of(&records[1]).is_empty());

    std::fs::remove_file(env.crontab().parent().unwrap().join(".filler")).unwrap();
    env.apply(&new).success();
    assert_eq!(audit_records(&env).len(), 3);
    env.cmd("drift", &["--manifest", &new, "--exit-on-drift"])
        .assert()
        .code(0);
}

/// The systemd-timer backend of `env`: a unit dir, a stand-in `systemctl` that records its calls
/// (config `systemctl_bin`), and the flags that select both.
fn systemd_target(env: &Env) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let units = env.root().join("units");
    std::fs::create_dir(&units).unwrap();
    let fake = env.root().join("systemctl");
    let log = env.root().join("systemctl.log");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$*\" >> {}\nexit 0\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        env.root().join("cronix.yaml"),
        format!("systemctl_bin: {}\n", fake.display()),
    )
    .unwrap();
    vec![
        "--backend".into(),
        "systemd-timer".into(),
        "--systemd-unit-dir".into(),
        units.display().to_string(),
    ]
}

/// `cronix <sub> <args…>` on the systemd-timer target.
fn on_systemd(
    env: &Env,
    target: &[String],
    sub: &str,
    args: &[&str],
) -> assert_cmd::assert::Assert {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(target.iter().map(String::as_str));
    env.cmd(sub, &all).assert()
}

/// The unit files of the unit dir (temp files not included) with their bytes.
fn units_of(env: &Env) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut units = dir_files(&env.root().join("units"));
    units.retain(|name, _| !name.starts_with('.'));
    units
}

/// The value of a `KEY=` line of a unit's text.
fn unit_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// Every owned unit names a job whose spec file exists.
fn assert_every_unit_has_its_spec(env: &Env, units: &std::collections::BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in units {
        let text = String::from_utf8_lossy(bytes);
        let app = unit_value(&text, "X-Cronix-App").unwrap();
        let job = unit_value(&text, "X-Cronix-Job").unwrap();
        let spec = env.spec_dir().join(format!("{app}.{job}.json"));
        assert!(
            spec.exists(),
            "unit {name} without its spec {}",
            spec.display()
        );
    }
}

#[test]
fn a_killed_systemd_apply_leaves_every_unit_old_or_new_and_the_next_apply_finishes() {
    // The units are staged as temp files, synced once (`units_synced`), then renamed one by one:
    // a kill before, between or after the renames leaves each unit the old or the new file.
    let steps = [
        "specs_synced",
        "specs_written",
        "temp_written:cronix-billing-added-0.timer",
        "units_synced",
        "renamed:cronix-billing-keep-0.timer",
        "renamed:cronix-billing-added-0.service",
        "units_written",
        "executed",
    ];
    for step in steps {
        let env = Env::new();
        let target = systemd_target(&env);
        let old = env.manifest("old.json", &old_manifest());
        let new = env.manifest("new.json", &new_manifest());
        on_systemd(&env, &target, "apply", &["--manifest", &old]).success();
        let old_units = units_of(&env);

        let mut child = spawn_paused_on(&env, &["apply", "--manifest", &new], &target, step);
        assert!(wait_until_stopped(&mut child), "apply never reached {step}");
        child.kill().unwrap();
        child.wait().unwrap();
        let crashed = units_of(&env);
        assert_every_unit_has_its_spec(&env, &crashed);

        on_systemd(&env, &target, "apply", &["--manifest", &new]).success();
        let new_units = units_of(&env);
        assert_ne!(old_units, new_units);
        let renamed = ["units_written", "executed"];
        if renamed.contains(&step) {
            assert_eq!(crashed, new_units, "killed at {step}: every unit is new");
        }
        if step.starts_with("specs_") || step.starts_with("temp_written:") || step == "units_synced"
        {
            assert!(
                crashed
                    .iter()
                    .all(|(name, bytes)| old_units.get(name) == Some(bytes)),
                "killed at {step}, before the renames: no unit is new yet"
            );
        }
        let names: std::collections::BTreeSet<&String> = old_units
            .keys()
            .chain(new_units.keys())
            .chain(crashed.keys())
            .collect();
        for name in names {
            let now = crashed.get(name);
            assert!(
                now == old_units.get(name) || now == new_units.get(name),
                "killed at {step}: unit {name} is neither the old nor the new file"
            );
        }
        let mut temps = names_in(&env.root().join("units"));
        temps.extend(names_in(&env.spec_dir()));
        temps.retain(|n| n.contains(".cronix-tmp"));
        assert_eq!(temps, Vec::<String>::new(), "after {step}");
        assert_eq!(
            names_in(&env.spec_dir()),
            vec!["billing.added.json", "billing.keep.json"],
            "after {step}"
        );
        on_systemd(
            &env,
            &target,
            "drift",
            &["--manifest", &new, "--exit-on-drift"],
        )
        .code(0);
    }
}
