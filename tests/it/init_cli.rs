//! `cronix init` writes a commented config that every command then loads as it is: the file 0600 in
//! new 0755 directories, an existing file refused without `--force`, bad values refused with nothing
//! written.

use crate::reconcile_support;

use std::os::unix::fs::PermissionsExt;

use reconcile_support::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_a_config_that_validate_and_list_load_as_it_is() {
    let env = Env::new();
    let config = env.root().join("etc/cronix/cronix.yaml");
    let path = config.display().to_string();
    let out = env
        .cmd_plain(&[
            "init",
            "--config",
            &path,
            "--app",
            "billing",
            "--manifest-url",
            "https://billing.example.com/.well-known/cron-manifest",
            "--secret-ref",
            "env:CRON_SECRET",
        ])
        .assert()
        .success();
    let stdout = stdout_of(&out);
    assert!(stdout.starts_with(&format!("wrote {path}\n")), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "cronix apply --config {path} --manifest https://billing.example.com/"
        )),
        "{stdout}"
    );
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(config.parent().unwrap()), 0o755);
    assert_eq!(mode(&env.root().join("etc")), 0o755);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("secret_refs:\n  - \"env:CRON_SECRET\"\n"),
        "{text}"
    );
    assert!(text.contains("#   - app: \"billing\""), "{text}");

    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.cmd_plain(&["validate", "--config", &path, &m])
        .assert()
        .success();
    let crontab = env.crontab().display().to_string();
    let list = env
        .cmd_plain(&["list", "--config", &path, "--crontab-path", &crontab])
        .assert()
        .success();
    assert!(
        stdout_of(&list).starts_with("no cronix entries in "),
        "{}",
        stdout_of(&list)
    );
}

#[test]
fn an_existing_config_is_refused_without_force() {
    let env = Env::new();
    let config = env.root().join("c/cronix.yaml");
    let path = config.display().to_string();
    env.cmd_plain(&["init", "--config", &path])
        .assert()
        .success();
    std::fs::write(&config, "version: 1\nlog_level: info\n").unwrap();
    let refused = env.cmd_plain(&["init", "--config", &path]).assert().code(1);
    assert!(
        stderr_of(&refused).contains("already exists, nothing was written"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "version: 1\nlog_level: info\n"
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd_plain(&["init", "--config", &path, "--force"])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .starts_with("# cronix operator configuration.")
    );
    assert_eq!(mode(&config), 0o600);
}

#[test]
fn init_defaults_to_cronix_config_and_refuses_bad_values() {
    let env = Env::new();
    let target = env.root().join("from-env/cronix.yaml");
    let out = env
        .cmd_plain(&["init"])
        .env("CRONIX_CONFIG", &target)
        .assert()
        .success();
    assert!(stdout_of(&out).starts_with(&format!("wrote {}", target.display())));
    let bad = env.root().join("bad/cronix.yaml");
    let refused = env
        .cmd_plain(&[
            "init",
            "--config",
            &bad.display().to_string(),
            "--app",
            "Bad App",
            "--manifest-url",
            "https://x.example.com/m",
        ])
        .assert()
        .code(2);
    assert!(
        stderr_of(&refused).contains("--app \"Bad App\""),
        "{}",
        stderr_of(&refused)
    );
    assert!(!bad.exists());
    env.cmd_plain(&["init", "--app", "billing"])
        .assert()
        .code(2);
}

#[test]
fn init_force_never_replaces_a_file_that_is_not_a_config() {
    let env = Env::new();
    let victim = env.root().join("passwd");
    std::fs::write(&victim, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let path = victim.display().to_string();
    // As `sudo -E cronix init --force` with a user's CRONIX_CONFIG would.
    let refused = env
        .cmd_plain(&["init", "--force"])
        .env("CRONIX_CONFIG", &victim)
        .assert()
        .code(1);
    assert!(
        stderr_of(&refused).contains(&format!("config {path}: is not a cronix config")),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root:x:0:0:root:/root:/bin/bash\n"
    );
}
