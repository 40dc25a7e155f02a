//! The systemd-timer backend on a temp unit dir, with a stand-in `systemctl` (config `systemctl_bin`)
//! that records its calls: apply writes a timer and a service per entry and a no-op apply calls
//! nothing; the unit dir and the unit files pass the trust check like every path root writes; and
//! `doctor --backend systemd-timer` checks systemd, the unit dir, the apply lock and the binary the
//! units run. (The real systemd is in `tests/systemd_e2e.rs`.)

use crate::reconcile_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use reconcile_support::{Env, check, identity, json_of, manifest, stderr_of};

const BACKEND: [&str; 2] = ["--backend", "systemd-timer"];

struct Units {
    env: Env,
}

impl Units {
    fn new() -> Units {
        let env = Env::new();
        std::fs::create_dir(env.root().join("units")).unwrap();
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> {log}\n[ \"$1\" = is-system-running ] && echo running\nexit 0\n",
            log = env.root().join("systemctl.log").display()
        );
        let fake = env.root().join("systemctl");
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let units = Units { env };
        units.write_config("");
        units
    }

    /// The operator config: `extra` after the line that names the stand-in systemctl.
    fn write_config(&self, extra: &str) {
        let line = format!(
            "systemctl_bin: {}\n",
            self.env.root().join("systemctl").display()
        );
        std::fs::write(self.env.root().join("cronix.yaml"), line + extra).unwrap();
    }

    fn unit_dir(&self) -> PathBuf {
        self.env.root().join("units")
    }

    /// The calls that change something (`show`, which reads liveness and next elapses, left out).
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.env.root().join("systemctl.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("show "))
            .map(str::to_string)
            .collect()
    }

    fn cmd(&self, sub: &str, args: &[&str]) -> assert_cmd::Command {
        let dir = self.unit_dir().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(BACKEND);
        all.extend(["--systemd-unit-dir", &dir]);
        self.env.cmd(sub, &all)
    }

    fn apply(&self, manifest: &str) -> assert_cmd::assert::Assert {
        self.cmd("apply", &["--manifest", manifest]).assert()
    }
}

fn unit_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn apply_writes_a_timer_and_a_service_per_entry_and_a_no_op_apply_calls_nothing() {
    let units = Units::new();
    let m = units.env.manifest(
        "m.json",
        &manifest("shop", &[("sweep", &["@hourly", "30 2 * * *"])]),
    );
    units.apply(&m).success();
    assert_eq!(
        unit_names(&units.unit_dir()),
        [
            "cronix-shop-sweep-0.service",
            "cronix-shop-sweep-0.timer",
            "cronix-shop-sweep-1.service",
            "cronix-shop-sweep-1.timer"
        ]
    );
    let timer =
        std::fs::read_to_string(units.unit_dir().join("cronix-shop-sweep-1.timer")).unwrap();
    assert!(
        timer.contains("X-Cronix-App=shop") && timer.contains("OnCalendar=*-*-* 02:30:00 UTC"),
        "{timer}"
    );
    let calls = units.calls();
    assert_eq!(calls[0], "daemon-reload", "{calls:?}");
    assert!(calls[1].starts_with("enable --now "), "{calls:?}");
    let before = identity(&units.unit_dir().join("cronix-shop-sweep-0.timer"));
    units.apply(&m).success();
    assert_eq!(units.calls(), calls, "a no-op apply called systemctl");
    assert_eq!(
        identity(&units.unit_dir().join("cronix-shop-sweep-0.timer")),
        before
    );
}

#[test]
fn an_untrusted_unit_dir_or_unit_file_is_refused_before_anything_is_written() {
    let units = Units::new();
    let m = units
        .env
        .manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    std::fs::set_permissions(units.unit_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = units.apply(&m).code(3);
    let dir = units.unit_dir().display().to_string();
    assert!(
        stderr_of(&refused).contains(&format!("chmod go-w {dir}")),
        "{}",
        stderr_of(&refused)
    );
    assert!(unit_names(&units.unit_dir()).is_empty());
    assert!(units.calls().is_empty());

    std::fs::set_permissions(units.unit_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    units.apply(&m).success();
    let timer = units.unit_dir().join("cronix-shop-sweep-0.timer");
    std::fs::set_permissions(&timer, std::fs::Permissions::from_mode(0o666)).unwrap();
    let calls = units.calls();
    let refused = units.apply(&m).code(3);
    assert!(
        stderr_of(&refused).contains(&format!("chmod go-w {}", timer.display())),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(units.calls(), calls);
}

#[test]
fn doctor_checks_systemd_the_unit_dir_the_lock_and_the_binary_the_units_run() {
    let units = Units::new();
    let bin = env!("CARGO_BIN_EXE_cronix");
    let m = units
        .env
        .manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    units
        .cmd("apply", &["--manifest", &m, "--trigger-bin", bin])
        .assert()
        .success();
    let doctor = units
        .cmd("doctor", &["-o", "json", "--trigger-bin", "/usr/bin/env"])
        .assert();
    let doc = json_of(&doctor);
    assert_eq!(check(&doc, "systemd")["status"], "ok", "{doc}");
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "cron_daemon"),
        "{doc}"
    );
    let dir = units.unit_dir().display().to_string();
    assert_eq!(check(&doc, &format!("path unit_dir {dir}"))["status"], "ok");
    assert_eq!(
        check(&doc, &format!("path apply_lock {dir}/.cronix-apply.lock"))["status"],
        "ok"
    );
    assert_eq!(check(&doc, &format!("trigger_bin {bin}"))["status"], "ok");
    assert!(
        check(&doc, "target")["detail"]
            .as_str()
            .unwrap()
            .contains("1 owned entry of 1 app(s)"),
        "{doc}"
    );
}

#[test]
fn check_every_keeps_an_owned_check_timer_in_the_unit_dir() {
    let units = Units::new();
    let config = units.env.root().join("cronix.yaml");
    units.write_config("check_every: 5m\n");
    let m = units
        .env
        .manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    units.apply(&m).success();
    let timer = units.unit_dir().join("cronix-check.timer");
    let service = std::fs::read_to_string(units.unit_dir().join("cronix-check.service")).unwrap();
    assert!(
        service.contains(&format!(
            "--config {} check --spec-dir {} --state-dir {}",
            config.display(),
            units.env.spec_dir().display(),
            units.env.state_dir().display()
        )) && service.contains("X-Cronix-Check="),
        "{service}"
    );
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    assert!(
        timer_text.contains("OnCalendar=*-*-* *:00/5:00 UTC"),
        "{timer_text}"
    );
    let calls = units.calls();
    assert!(
        calls.contains(&"enable --now cronix-check.timer".to_string()),
        "{calls:?}"
    );

    let before = identity(&timer);
    units.apply(&m).success();
    assert_eq!(
        units.calls(),
        calls,
        "an unchanged check timer called systemctl"
    );
    assert_eq!(identity(&timer), before);
    assert!(
        units
            .cmd("drift", &["--manifest", &m])
            .assert()
            .get_output()
            .status
            .success()
    );

    units.write_config("");
    units.apply(&m).success();
    assert!(!timer.exists());
    assert!(!units.unit_dir().join("cronix-check.service").exists());
    assert!(
        units
            .calls()
            .contains(&"disable --now cronix-check.timer".to_string())
    );
    assert_eq!(
        unit_names(&units.unit_dir()),
        ["cronix-shop-sweep-0.service", "cronix-shop-sweep-0.timer"]
    );
}

#[test]
fn a_foreign_unit_named_like_the_check_timer_is_never_replaced() {
    let units = Units::new();
    units.write_config("check_every: 5m\n");
    let mine = units.unit_dir().join("cronix-check.timer");
    std::fs::write(&mine, "[Timer]\nOnCalendar=daily\n").unwrap();
    let m = units
        .env
        .manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    let refused = units.apply(&m).code(3);
    assert!(
        stderr_of(&refused).contains("without cronix's X-Cronix-Check= mark"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "[Timer]\nOnCalendar=daily\n"
    );
    assert_eq!(
        unit_names(&units.unit_dir()),
        ["cronix-check.timer"],
        "a refused apply writes no job unit"
    );
}

#[test]
fn without_check_every_a_foreign_check_timer_is_left_alone() {
    let units = Units::new();
    let mine = units.unit_dir().join("cronix-check.timer");
    std::fs::write(&mine, "[Timer]\nOnCalendar=daily\n").unwrap();
    let m = units
        .env
        .manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    units.apply(&m).success();
    units.apply(&m).success();
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "[Timer]\nOnCalendar=daily\n"
    );
    assert_eq!(
        unit_names(&units.unit_dir()),
        [
            "cronix-check.timer",
            "cronix-shop-sweep-0.service",
            "cronix-shop-sweep-0.timer"
        ]
    );
}

/// Seal `secret` as credential `name` into `path` with systemd's null key (no host key is created on
/// this machine); false when `systemd-creds` is not installed.
fn seal(name: &str, secret: &str, path: &Path) -> bool {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("systemd-creds")
        .args([
            "encrypt",
            "--with-key=tpm2-absent",
            &format!("--name={name}"),
            "-",
        ])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    true
}

#[test]
#[cfg_attr(
    not(all(cronix_test_root, cronix_test_systemd_creds)),
    ignore = "needs root and systemd-creds to seal and decrypt a credential"
)]
fn doctor_checks_that_each_cred_is_sealed_and_decrypts_on_this_host() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: decrypting a credential needs root");
        return;
    }
    let units = Units::new();
    let store = units.env.root().join("creds");
    std::fs::create_dir(&store).unwrap();
    units.write_config(&format!("systemd_credstore_dir: {}\n", store.display()));
    let doc = serde_json::json!({"version": 1, "app": "shop", "jobs": [{
        "name": "sweep", "schedule": "@hourly",
        "request": {"url": "https://shop.example.com/cron/sweep"},
        "auth": {"secret_refs": ["cred:shop-hmac"]}}]});
    let m = units.env.manifest("m.json", &doc);
    units
        .cmd(
            "apply",
            &["--manifest", &m, "--secret-ref", "cred:shop-hmac"],
        )
        .assert()
        .success();
    let doctor = || {
        let out = units.cmd("doctor", &["-o", "json"]).assert();
        json_of(&out)
    };
    let sealed = store.join("shop-hmac.cred");

    let missing = doctor();
    assert_eq!(missing["ok"], false);
    let cred = check(&missing, "cred shop-hmac");
    assert_eq!(cred["status"], "fail");
    assert!(
        cred["detail"].as_str().unwrap().contains("does not exist")
            && cred["detail"]
                .as_str()
                .unwrap()
                .contains("systemd-creds encrypt --name=shop-hmac"),
        "{cred}"
    );
    assert_eq!(check(&missing, "job shop.sweep")["status"], "fail");

    if !seal("another-name", "doctor-cred-sentinel", &sealed) {
        eprintln!("SKIP: systemd-creds is not installed");
        return;
    }
    let wrong = doctor();
    let cred = check(&wrong, "cred shop-hmac");
    assert_eq!(cred["status"], "fail");
    assert!(
        cred["detail"]
            .as_str()
            .unwrap()
            .contains("does not decrypt"),
        "{cred}"
    );

    assert!(seal("shop-hmac", "doctor-cred-sentinel", &sealed));
    let good = units.cmd("doctor", &["-o", "json"]).assert();
    let text = String::from_utf8_lossy(&good.get_output().stdout).into_owned();
    assert!(
        !text.contains("doctor-cred-sentinel"),
        "a secret was printed"
    );
    let good = json_of(&good);
    let cred = check(&good, "cred shop-hmac");
    assert_eq!(cred["status"], "warn", "{cred}");
    assert!(
        cred["detail"].as_str().unwrap().contains("null key"),
        "{cred}"
    );
    assert_eq!(check(&good, "job shop.sweep")["status"], "ok", "{good}");

    std::fs::set_permissions(&sealed, std::fs::Permissions::from_mode(0o666)).unwrap();
    let loose = doctor();
    assert_eq!(check(&loose, "cred shop-hmac")["status"], "fail");
}

#[test]
fn on_systemd_an_allow_or_replace_job_that_outlasts_its_interval_is_told_its_fires_are_dropped() {
    let units = Units::new();
    for (concurrency, warned) in [("Allow", true), ("Replace", true), ("Forbid", false)] {
        let m = units.env.manifest(
            "m.json",
            &serde_json::json!({"version": 1, "app": "shop", "jobs": [{
                "name": "sweep", "schedule": "*/2 * * * *",
                "request": {"url": "https://shop.example.com/cron/sweep"},
                "policy": {"concurrency": concurrency}
            }]}),
        );
        let plan = units.cmd("plan", &["--manifest", &m]).assert().success();
        let stderr = stderr_of(&plan);
        assert_eq!(
            stderr.contains("one fire can last up to 300 s")
                && stderr.contains("a fire due then is dropped without a history record")
                && stderr.contains(&format!("concurrency {concurrency} cannot take effect")),
            warned,
            "{concurrency}: {stderr}"
        );
        assert!(!stderr.contains("run on top of each other"), "{stderr}");
    }
}

#[test]
fn an_app_whose_unit_names_join_like_another_apps_can_neither_take_nor_block_them() {
    // App `a-b` job `c` and app `a` job `b-c` both have the reference name `cronix-a-b-c-0`.
    let units = Units::new();
    let squatter = units
        .env
        .manifest("ab.json", &manifest("a-b", &[("c", &["0 1 * * *"])]));
    let victim = units
        .env
        .manifest("a.json", &manifest("a", &[("b-c", &["0 2 * * *"])]));
    units.apply(&squatter).success();
    let dir = units.unit_dir();
    let held = std::fs::read(dir.join("cronix-a-b-c-0.timer")).unwrap();

    units.apply(&victim).success();
    assert_eq!(
        unit_names(&dir),
        [
            "cronix-a-b-c-0.service",
            "cronix-a-b-c-0.timer",
            "cronix-a_b-c-0.service",
            "cronix-a_b-c-0.timer"
        ]
    );
    assert_eq!(
        std::fs::read(dir.join("cronix-a-b-c-0.timer")).unwrap(),
        held,
        "app a-b's unit is untouched"
    );
    let timer = std::fs::read_to_string(dir.join("cronix-a_b-c-0.timer")).unwrap();
    assert!(
        timer.contains("X-Cronix-App=a\n")
            && timer.contains("X-Cronix-Job=b-c\n")
            && timer.contains("Unit=cronix-a_b-c-0.service\n"),
        "{timer}"
    );
    let calls = units.calls();
    for m in [&squatter, &victim] {
        units.apply(m).success();
        units
            .cmd("drift", &["--manifest", m, "--exit-on-drift"])
            .assert()
            .code(0);
    }
    assert_eq!(
        units.calls(),
        calls,
        "re-applying either app changes nothing"
    );

    // Once app a-b is gone, app a keeps the names it has (no rename on every apply).
    units
        .cmd("prune", &["--app", "a-b", "--yes"])
        .assert()
        .success();
    units.apply(&victim).success();
    assert_eq!(
        unit_names(&dir),
        ["cronix-a_b-c-0.service", "cronix-a_b-c-0.timer"]
    );
    // And an app that comes later with a clashing name gets the other name itself.
    units.apply(&squatter).success();
    assert_eq!(
        unit_names(&dir),
        [
            "cronix-a-b-c-0.service",
            "cronix-a-b-c-0.timer",
            "cronix-a_b-c-0.service",
            "cronix-a_b-c-0.timer"
        ]
    );
}
