//! The reference tool's documented commands, run as written: the protocol's secrets page (its worked
//! rotation example), the crontab backend page (apply from CI, list, drift) and the migration page
//! (validate, adopt --dry-run, adopt, apply). Only paths move: `/etc/crontab` becomes a file in a temp
//! dir (through `--crontab-path`), the spec, lock and state dirs come from the operator config, and an
//! `https://` manifest URL becomes a loopback server that verifies the signed GET.

use crate::support;

use std::path::{Path, PathBuf};

use support::{Reply, SENTINEL, Server};

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(host.path("etc")).unwrap();
        let config = format!(
            "version: 1\nspec_dir: {}\nlock_dir: {}\nstate_dir: {}\n",
            host.path("jobs").display(),
            host.path("locks").display(),
            host.path("state").display()
        );
        std::fs::write(host.path("cronix.yaml"), config).unwrap();
        host
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The host's `/etc/crontab`.
    fn crontab(&self) -> String {
        self.path("etc/crontab").display().to_string()
    }

    fn crontab_text(&self) -> String {
        std::fs::read_to_string(self.path("etc/crontab")).unwrap_or_default()
    }

    /// `cronix <args>` from the host's dir, with its config, the documented secrets exported.
    fn cronix(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        assert_cmd::Command::cargo_bin("cronix")
            .unwrap()
            .args(args)
            .current_dir(self.dir.path())
            .env("CRONIX_CONFIG", self.path("cronix.yaml"))
            .env("HOME", self.dir.path())
            .env("TZ", "UTC")
            .env("BILLING_CRON_V2", "whsec_new_0123456789")
            .env("BILLING_CRON_V1", "whsec_old_0123456789")
            .env("CRON_SECRET_V2", SENTINEL)
            .env("CRON_SECRET_V1", "whsec_old_0123456789")
            .env("CRON_SECRET", SENTINEL)
            .assert()
    }
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn spec(host: &Host, id: &str) -> serde_json::Value {
    let bytes = std::fs::read(host.path(&format!("jobs/{id}.json"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_secrets_pages_rotation_example_applies_as_written() {
    let host = Host::new();
    std::fs::write(
        host.path("auth-rotation-cycle.cronix.json"),
        r#"{
  "version": 1,
  "app": "billing-service",
  "jobs": [
    {
      "name": "settle-invoices",
      "schedule": "0 2 * * *",
      "request": {
        "url": "https://billing.internal/api/v1/scheduled/settle-invoices"
      },
      "auth": {
        "secret_refs": ["env:BILLING_CRON_V2", "env:BILLING_CRON_V1"]
      }
    }
  ]
}
"#,
    )
    .unwrap();
    let crontab = host.crontab();
    host.cronix(&[
        "apply",
        "--manifest",
        "./auth-rotation-cycle.cronix.json",
        "--backend",
        "crontab",
        "--crontab-path",
        &crontab,
        "--trigger-bin",
        "/usr/local/bin/cronix",
        "--secret-ref",
        "env:BILLING_CRON_V2",
        "--secret-ref",
        "env:BILLING_CRON_V1",
    ])
    .success();
    let text = host.crontab_text();
    let line = format!(
        "0 2 * * * root /usr/local/bin/cronix trigger --spec-dir {} billing-service.settle-invoices\n",
        host.path("jobs").display()
    );
    assert!(text.starts_with(&line), "{text}");
    assert!(text.contains("# cronix:owned app=billing-service job=settle-invoices hash="));
    let spec = spec(&host, "billing-service.settle-invoices");
    assert_eq!(
        spec["secret_refs"],
        serde_json::json!(["env:BILLING_CRON_V2", "env:BILLING_CRON_V1"])
    );
    let all =
        std::fs::read_to_string(host.path("jobs/billing-service.settle-invoices.json")).unwrap();
    assert!(!all.contains("whsec_"), "references only, never bytes");
}

const PAYMENTS: &str = r#"{"version":1,"app":"billing","jobs":[{"name":"reconcile-payments","schedule":"0,15,30,45 * * * *","request":{"url":"https://billing.internal/api/v1/scheduled/reconcile-payments"}}]}"#;

#[test]
fn the_crontab_pages_ci_apply_list_and_drift_run_as_written() {
    let server = Server::start(vec![Reply::status(200).body(PAYMENTS)]);
    let host = Host::new();
    let url = server.url("/.well-known/cron-manifest");
    let crontab = host.crontab();
    let spec_dir = host.path("jobs").display().to_string();
    let apply = [
        "apply",
        "--manifest",
        &url,
        "--backend",
        "crontab",
        "--crontab-path",
        &crontab,
        "--trigger-bin",
        "/usr/local/bin/cronix",
        "--spec-dir",
        &spec_dir,
        "--secret-ref",
        "env:CRON_SECRET_V2",
        "--secret-ref",
        "env:CRON_SECRET_V1",
    ];
    host.cronix(&apply).success();
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].verified,
        Ok(0),
        "the GET is signed with the first ref"
    );
    let installed = host.crontab_text();
    assert!(
        installed.contains(" root /usr/local/bin/cronix trigger --spec-dir "),
        "{installed}"
    );

    let again = host.cronix(&apply).success();
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );
    assert_eq!(host.crontab_text(), installed);

    let list = host
        .cronix(&["list", "--backend", "crontab", "--crontab-path", &crontab])
        .success();
    let listed = stdout(&list);
    assert!(
        listed.contains("billing") && listed.contains("reconcile-payments"),
        "{listed}"
    );

    // The page's `...` stands for the apply's flags (the same refs and paths, or the entries differ).
    let mut drift = apply.to_vec();
    drift[0] = "drift";
    drift.push("--exit-on-drift");
    host.cronix(&drift).code(0);
    std::fs::write(
        host.path("etc/crontab"),
        installed.replacen("0,15,30,45 ", "*/5 ", 1),
    )
    .unwrap();
    host.cronix(&drift).code(5);
}

#[test]
fn the_migration_pages_four_commands_adopt_a_hand_written_line() {
    let server = Server::start(vec![Reply::status(200).body(PAYMENTS)]);
    let host = Host::new();
    let url = server.url("/.well-known/cron-manifest");
    let crontab = host.crontab();
    let hand = "SHELL=/bin/sh\n*/15 * * * * root /usr/local/bin/cronix trigger billing.reconcile-payments\n";
    std::fs::write(host.path("etc/crontab"), hand).unwrap();

    host.cronix(&["validate", &url, "--secret-ref", "env:CRON_SECRET"])
        .success();
    let adopt = [
        "adopt",
        "billing.reconcile-payments",
        "--backend",
        "crontab",
        "--crontab-path",
        &crontab,
        "--trigger-bin",
        "/usr/local/bin/cronix",
        "--manifest",
        &url,
        "--secret-ref",
        "env:CRON_SECRET",
    ];
    let mut dry = adopt.to_vec();
    dry.push("--dry-run");
    let preview = host.cronix(&dry).success();
    assert!(
        stdout(&preview).starts_with("would adopt"),
        "{}",
        stdout(&preview)
    );
    assert_eq!(host.crontab_text(), hand);
    assert!(!Path::new(&host.path("jobs/billing.reconcile-payments.json")).exists());

    host.cronix(&adopt).success();
    let adopted = host.crontab_text();
    assert!(
        adopted.starts_with(
            "SHELL=/bin/sh\n0,15,30,45 * * * * root /usr/local/bin/cronix trigger --spec-dir "
        ),
        "{adopted}"
    );
    assert!(host.path("jobs/billing.reconcile-payments.json").exists());

    let apply = host
        .cronix(&[
            "apply",
            "--backend",
            "crontab",
            "--crontab-path",
            &crontab,
            "--trigger-bin",
            "/usr/local/bin/cronix",
            "--manifest",
            &url,
            "--secret-ref",
            "env:CRON_SECRET",
        ])
        .success();
    assert!(
        stdout(&apply).contains("nothing changed"),
        "{}",
        stdout(&apply)
    );
    assert_eq!(host.crontab_text(), adopted);
}
