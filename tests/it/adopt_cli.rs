//! `cronix adopt` and the double-fire guard, with the real binary on real files: hand-written
//! `cronix trigger` lines are paired with a job's schedules by fire set and rewritten in place as owned
//! entries; a mismatch is exit 6 with the bytes unchanged, no line is exit 7, a dry run writes nothing,
//! and `apply` refuses to add entries next to an unadopted line.

use crate::reconcile_support;

use reconcile_support::*;

fn user() -> String {
    cronix::shell::passwd::current_user()
}

/// Foreign lines around two hand-written trigger lines of billing.reconcile: one with a user column
/// and extra flags, written `*/15`; the other at 03:00.
fn hand_written() -> String {
    let u = user();
    format!(
        "MAILTO=ops@example.com\r\n# hand-written\n\
         */15 * * * * {u} /opt/cronix/bin/cronix trigger --lock-dir /run/x --spec-dir /etc/cronix/jobs billing.reconcile >/dev/null 2>&1\n\
         0 1 * * * {u} /usr/bin/backup\n\
         0 3 * * * {u} /usr/local/bin/cronix trigger billing.reconcile\n\
         SHELL=/bin/sh"
    )
}

fn reconcile_manifest(env: &Env, schedules: &[&str]) -> String {
    env.manifest("m.json", &manifest("billing", &[("reconcile", schedules)]))
}

#[test]
fn a_full_match_by_fire_set_is_rewritten_in_place_and_a_second_adopt_is_already_managed() {
    let env = Env::new();
    std::fs::write(env.crontab(), hand_written()).unwrap();
    let m = reconcile_manifest(&env, &["0 3 * * *", "0,15,30,45 * * * *"]);
    let out = env
        .cmd("adopt", &["billing.reconcile", "--manifest", &m])
        .assert()
        .success();
    assert!(
        stdout_of(&out).starts_with("adopted: billing.reconcile"),
        "{}",
        stdout_of(&out)
    );
    let text = env.crontab_text();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "MAILTO=ops@example.com\r");
    assert_eq!(lines[1], "# hand-written");
    assert!(lines[2].starts_with("0,15,30,45 * * * * "), "{text}");
    assert!(
        lines[2].ends_with(&format!(
            "{TRIGGER_BIN} trigger --spec-dir {} billing.reconcile",
            env.spec_dir().display()
        )),
        "{text}"
    );
    assert!(lines[3].starts_with("# cronix:owned app=billing job=reconcile hash="));
    assert!(lines[3].ends_with(" idx=1"));
    assert_eq!(lines[4], format!("0 1 * * * {} /usr/bin/backup", user()));
    assert!(lines[5].starts_with("0 3 * * * "));
    assert!(lines[6].ends_with(" idx=0"));
    assert_eq!(lines[7], "SHELL=/bin/sh");
    assert_eq!(names_in(&env.spec_dir()), ["billing.reconcile.json"]);
    assert_eq!(env.audit_lines(), 1);

    // The entries are now exactly what apply wants: it changes nothing.
    let before = env.read_crontab();
    let apply = env.apply(&m).success();
    assert!(
        stdout_of(&apply).contains("nothing changed"),
        "{}",
        stdout_of(&apply)
    );
    assert_eq!(env.read_crontab(), before);

    let again = env
        .cmd("adopt", &["crontab", "billing.reconcile", "--manifest", &m])
        .assert()
        .success();
    assert!(
        stdout_of(&again).starts_with("already managed: billing.reconcile"),
        "{}",
        stdout_of(&again)
    );
    assert_eq!(env.read_crontab(), before);
}

#[test]
fn a_schedule_without_a_line_or_a_line_without_a_schedule_diverges_and_writes_nothing() {
    let env = Env::new();
    std::fs::write(env.crontab(), hand_written()).unwrap();
    let before = env.read_crontab();
    let m = reconcile_manifest(&env, &["0 3 * * *", "*/5 * * * *"]);
    let out = env
        .cmd(
            "adopt",
            &["billing.reconcile", "--manifest", &m, "-o", "json"],
        )
        .assert()
        .code(6);
    let doc = json_of(&out);
    assert_eq!(doc["result"], "diverged");
    let reasons = doc["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0]
            .as_str()
            .unwrap()
            .contains("schedule 1 (\"*/5 * * * *\")")
    );
    assert!(
        reasons[1].as_str().unwrap().starts_with("line 3 "),
        "{reasons:?}"
    );
    assert_eq!(env.read_crontab(), before);
    assert!(env.spec_files().is_empty());
    assert_eq!(env.audit_lines(), 0);
}

#[test]
fn no_line_for_the_job_is_exit_7() {
    let env = Env::new();
    std::fs::write(env.crontab(), hand_written()).unwrap();
    let m = env.manifest("o.json", &manifest("billing", &[("other", &["@hourly"])]));
    let out = env
        .cmd("adopt", &["billing.other", "--manifest", &m])
        .assert()
        .code(7);
    assert!(
        stdout_of(&out).starts_with("not found: "),
        "{}",
        stdout_of(&out)
    );
    let missing = env
        .cmd("adopt", &["billing.nope", "--manifest", &m])
        .assert()
        .code(1);
    assert!(stderr_of(&missing).contains("has no job \"nope\""));
}

#[test]
fn a_dry_run_shows_the_rewrite_and_writes_nothing() {
    let env = Env::new();
    std::fs::write(env.crontab(), hand_written()).unwrap();
    age(&env.crontab());
    let before = identity(&env.crontab());
    let m = reconcile_manifest(&env, &["0 3 * * *", "*/15 * * * *"]);
    let out = env
        .cmd(
            "adopt",
            &["billing.reconcile", "--manifest", &m, "--dry-run"],
        )
        .assert()
        .success();
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with("would adopt (dry run, nothing changed)"),
        "{stdout}"
    );
    assert!(stdout.contains("line 3 -> idx 1"), "{stdout}");
    assert_eq!(identity(&env.crontab()), before);
    assert!(env.spec_files().is_empty());
    assert_eq!(env.audit_lines(), 0);
}

#[test]
fn apply_refuses_to_write_next_to_an_unadopted_trigger_line_and_names_it() {
    let env = Env::new();
    let line = format!(
        "*/15 * * * * {} /usr/local/bin/cronix trigger billing.reconcile",
        user()
    );
    std::fs::write(env.crontab(), format!("# mine\n{line}\n")).unwrap();
    let before = env.read_crontab();
    let m = reconcile_manifest(&env, &["*/15 * * * *"]);
    let out = env.apply(&m).code(1);
    let err = stderr_of(&out);
    assert!(err.contains(&format!("line 2: `{line}`")), "{err}");
    assert!(err.contains("cronix adopt billing.reconcile"), "{err}");
    assert!(err.contains("or remove the line"), "{err}");
    assert_eq!(env.read_crontab(), before);
    assert!(env.spec_files().is_empty());

    let plan = env.cmd("plan", &["--manifest", &m]).assert().success();
    assert!(
        stderr_of(&plan).contains("apply would refuse: line 2"),
        "{}",
        stderr_of(&plan)
    );

    // Another app's job of the same name is not this app's double fire.
    let other = env.manifest(
        "x.json",
        &manifest("shipping", &[("reconcile", &["@hourly"])]),
    );
    env.apply(&other).success();
}

#[test]
fn a_user_crontab_written_by_the_reference_is_not_taken_as_a_system_file() {
    let env = Env::new();
    let reference = "*/15 * * * * /usr/local/bin/cronix trigger billing.reconcile\n\
                     # cronix:owned app=billing job=reconcile hash=0123456789abcdef idx=0\n";
    std::fs::write(env.crontab(), reference).unwrap();
    let m = reconcile_manifest(&env, &["*/15 * * * *"]);
    let out = env.apply(&m).code(1);
    assert!(
        stderr_of(&out).contains("--crontab-format user"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(env.read_crontab(), reference.as_bytes());
    env.cmd("apply", &["--manifest", &m, "--crontab-format", "user"])
        .assert()
        .success();
    let text = env.crontab_text();
    assert_eq!(owned_lines(&text, "billing").len(), 2);
    assert!(
        text.starts_with(&format!("*/15 * * * * {TRIGGER_BIN} trigger --spec-dir ")),
        "{text}"
    );
}
