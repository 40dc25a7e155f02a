//! Backend selection as the reference tool takes it: `--backend NAME` and the positional
//! `cronix <command> <backend> …` reach the same backend on every reconciler command, a backend that
//! is not built is a usage error listing the built ones, and `show crontab APP.JOB` reads `crontab`
//! as the backend, never as the job.

use crate::reconcile_support;

use reconcile_support::*;

fn applied() -> (Env, String) {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    (env, m)
}

#[test]
fn apply_takes_the_backend_as_a_flag_and_as_the_word_after_the_command() {
    let (env, m) = applied();
    env.cmd("apply", &["--backend", "crontab", "--manifest", &m])
        .assert()
        .success();
    let first = env.read_crontab();
    assert_eq!(owned_lines(&env.crontab_text(), "billing").len(), 2);
    let again = env
        .cmd("apply", &["crontab", "--manifest", &m])
        .assert()
        .success();
    assert!(
        stdout_of(&again).contains("nothing changed"),
        "{}",
        stdout_of(&again)
    );
    assert_eq!(env.read_crontab(), first);
}

#[test]
fn every_reconciler_command_accepts_both_forms() {
    let (env, m) = applied();
    env.apply(&m).success();
    let forms: &[(&str, &[&str])] = &[
        ("plan", &["--manifest", &m]),
        ("diff", &["--manifest", &m]),
        ("drift", &["--manifest", &m]),
        ("list", &[]),
        ("global-status", &[]),
        ("show", &["billing.settle"]),
        ("prune", &["--app", "other", "--yes"]),
    ];
    for (sub, rest) in forms {
        let mut flag: Vec<&str> = vec!["--backend", "crontab"];
        flag.extend_from_slice(rest);
        let by_flag = env.cmd(sub, &flag).assert().success();
        let mut word: Vec<&str> = vec!["crontab"];
        word.extend_from_slice(rest);
        let by_word = env.cmd(sub, &word).assert().success();
        assert_eq!(stdout_of(&by_flag), stdout_of(&by_word), "{sub}");
    }
    let state = env.state_dir().display().to_string();
    let spec_dir = env.spec_dir().display().to_string();
    let history = |args: &[&str]| {
        let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
        env.environment(&mut cmd);
        cmd.arg("history")
            .args(args)
            .args(["--state-dir", &state, "--spec-dir", &spec_dir]);
        cmd.assert().success()
    };
    let audit = history(&["crontab", "--audit"]);
    assert!(stdout_of(&audit).contains("apply"), "{}", stdout_of(&audit));
    assert_eq!(
        stdout_of(&audit),
        stdout_of(&history(&["--backend", "crontab", "--audit"]))
    );
    let runs = history(&["crontab", "billing.settle"]);
    assert!(
        stdout_of(&runs).contains("no runs of billing.settle"),
        "{}",
        stdout_of(&runs)
    );
    assert_eq!(
        stdout_of(&runs),
        stdout_of(&history(&["--backend", "crontab", "billing.settle"]))
    );
}

#[test]
fn show_reads_a_first_word_naming_a_backend_as_the_backend() {
    let (env, m) = applied();
    env.apply(&m).success();
    let shown = env
        .cmd("show", &["crontab", "billing.settle"])
        .assert()
        .success();
    assert!(stdout_of(&shown).starts_with("job billing.settle on "));
    let missing = env.cmd("show", &["crontab"]).assert().code(2);
    assert!(stderr_of(&missing).contains("show needs the job as APP.JOB"));
    let extra = env
        .cmd("show", &["billing.settle", "billing.other"])
        .assert()
        .code(2);
    assert!(
        stderr_of(&extra).contains("unexpected argument"),
        "{}",
        stderr_of(&extra)
    );
}

#[test]
fn an_unknown_backend_is_a_usage_error_naming_the_built_ones() {
    let (env, m) = applied();
    for args in [
        vec!["--backend", "nomad", "--manifest", m.as_str()],
        vec!["--backend", "aws-scheduler", "--manifest", m.as_str()],
    ] {
        let out = env.cmd("apply", &args).assert().code(2);
        assert!(
            stderr_of(&out).contains("built: crontab, systemd-timer, kubernetes, vercel"),
            "{}",
            stderr_of(&out)
        );
    }
    let typo = env.cmd("list", &["crontb"]).assert().code(2);
    assert!(
        stderr_of(&typo).contains("unknown backend \"crontb\"; built: crontab, systemd-timer"),
        "{}",
        stderr_of(&typo)
    );
    let twice = env
        .cmd("list", &["crontab", "--backend", "systemd-timer"])
        .assert()
        .code(2);
    assert!(stderr_of(&twice).contains("backend given twice"));
    assert!(env.read_crontab().is_empty(), "nothing was written");
}
