//! No silent dead jobs: `plan` and `apply` warn, naming the job and the ref, when none of a job's
//! secret refs would resolve when the scheduler fires it (a fire gets only the env file and the
//! crontab's own `NAME=value` lines, never the applying shell's variables).

use crate::reconcile_support;

use reconcile_support::*;

#[test]
fn a_ref_only_the_applying_shell_has_is_warned_about_and_an_env_file_or_crontab_line_fixes_it() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    for sub in ["plan", "apply"] {
        let out = env
            .cmd(sub, &["--manifest", &m])
            .env("CRONIX_TEST_SECRET", "only-in-this-shell")
            .assert()
            .success();
        let err = stderr_of(&out);
        assert!(
            err.contains("job settle: no secret reference would resolve when it fires")
                && err.contains("env:CRONIX_TEST_SECRET is not set")
                && err.contains("env file"),
            "{sub}: {err}"
        );
        assert!(!err.contains("only-in-this-shell"), "{err}");
    }
    // A NAME=value line of the crontab is what cron hands every fire: no warning.
    let text = format!(
        "CRONIX_TEST_SECRET=from-the-crontab\n{}",
        env.crontab_text()
    );
    std::fs::write(env.crontab(), text).unwrap();
    let out = env.cmd("plan", &["--manifest", &m]).assert().success();
    assert_eq!(stderr_of(&out), "");
    // So is the config's env file.
    std::fs::write(
        env.crontab(),
        env.crontab_text()
            .replacen("CRONIX_TEST_SECRET=from-the-crontab\n", "", 1),
    )
    .unwrap();
    let secrets = env.root().join("secrets.env");
    std::fs::write(&secrets, "CRONIX_TEST_SECRET=from-the-env-file\n").unwrap();
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(env.root().join("cronix.yaml"), "env_file: secrets.env\n").unwrap();
    let out = env.cmd("plan", &["--manifest", &m]).assert().success();
    assert_eq!(stderr_of(&out), "");
}
