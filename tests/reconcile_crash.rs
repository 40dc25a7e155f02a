//! Crash safety: an apply killed with SIGKILL at each named step leaves the crontab as the old or the
//! new complete file, every installed entry has its spec file, and the next apply cleans leftover temp
//! files and finishes the job. Concurrent applies serialize and lose nothing.
//!
//! The binary stops itself at a step named by `CRONIX_TEST_PAUSE_AT`; the test waits until it is
//! stopped, then kills it there.

mod reconcile_support;

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
