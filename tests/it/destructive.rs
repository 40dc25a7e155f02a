//! Destructive commands are explicit: `prune --dry-run` changes nothing; `apply` that deletes entries
//! asks on a terminal (a real pseudo-terminal from util-linux `script`) unless `--yes`, and never asks
//! without one.

use crate::reconcile_support;

use reconcile_support::*;

fn two_then_one() -> (Env, String, String) {
    let env = Env::new();
    let two = env.manifest(
        "two.json",
        &manifest(
            "billing",
            &[("settle", &["0 2 * * *"]), ("report", &["0 3 * * *"])],
        ),
    );
    let one = env.manifest(
        "one.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&two).success();
    (env, two, one)
}

/// The shell-quoted command line of `cronix apply` for `manifest` with this env's flags.
fn apply_line(env: &Env, manifest: &str, extra: &[&str]) -> String {
    let mut words = vec![
        cronix_bin().display().to_string(),
        "apply".into(),
        "--manifest".into(),
        manifest.into(),
    ];
    words.extend(env.target_flags());
    words.extend(extra.iter().map(|s| s.to_string()));
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `line` with its stdin on a pseudo-terminal, answering `answer`.
fn on_a_terminal(env: &Env, line: &str, answer: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC");
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn prune_dry_run_lists_the_removals_and_changes_nothing() {
    let (env, _, _) = two_then_one();
    let before = (env.read_crontab(), env.spec_files());
    let out = env.cmd("prune", &["--dry-run"]).assert().success();
    let text = stdout_of(&out);
    assert!(
        text.contains("billing")
            && text.contains("dry run")
            && text.contains("nothing was changed"),
        "{text}"
    );
    let doc = json_of(
        &env.cmd("prune", &["--dry-run", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(
        doc["counts"]["delete"], 4,
        "two entries and their two spec files: {doc}"
    );
    assert_eq!((env.read_crontab(), env.spec_files()), before);
}

#[test]
fn apply_without_a_terminal_deletes_without_asking() {
    let (env, _, one) = two_then_one();
    let out = env.apply(&one).success();
    assert!(!stdout_of(&out).contains("go on?"), "{}", stdout_of(&out));
    assert_eq!(owned_lines(&env.crontab_text(), "billing").len(), 2);
}

#[test]
fn apply_that_deletes_asks_on_a_terminal_and_a_no_changes_nothing() {
    let (env, _, one) = two_then_one();
    let before = (env.read_crontab(), env.spec_files());
    let out = on_a_terminal(&env, &apply_line(&env, &one, &[]), "n\n");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("apply deletes 1 entry; go on? [y/N]") && text.contains("apply cancelled"),
        "{text}"
    );
    assert_eq!((env.read_crontab(), env.spec_files()), before);
    let out = on_a_terminal(&env, &apply_line(&env, &one, &[]), "y\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(owned_lines(&env.crontab_text(), "billing").len(), 2);
}

#[test]
fn apply_yes_and_an_apply_that_deletes_nothing_never_ask() {
    let (env, two, one) = two_then_one();
    let out = on_a_terminal(&env, &apply_line(&env, &two, &[]), "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && !text.contains("go on?"), "{text}");
    let out = on_a_terminal(&env, &apply_line(&env, &one, &["--yes"]), "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && !text.contains("go on?"), "{text}");
    assert_eq!(owned_lines(&env.crontab_text(), "billing").len(), 2);
}
