//! End to end with the real cron daemon: apply a manifest into a file in /etc/cron.d with this build as
//! the trigger binary, let `cron -f` fire it, receive a signed request that verifies, then prune and
//! leave the machine as found.
//!
//! Runs only with `CRONIX_E2E_CRON=1`, as root, with Debian's `cron` installed; otherwise it says why
//! it skipped.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use support::{Reply, SENTINEL, Server};

const CRON: &str = "/usr/sbin/cron";

fn skip_reason() -> Option<&'static str> {
    if std::env::var("CRONIX_E2E_CRON").as_deref() != Ok("1") {
        return Some("set CRONIX_E2E_CRON=1 to run it");
    }
    if !rustix::process::geteuid().is_root() {
        return Some("it must run as root (it writes /etc/cron.d)");
    }
    if !Path::new(CRON).exists() {
        return Some("Debian's cron is not installed (apt-get install -y cron)");
    }
    None
}

/// Leaves the machine as found, whatever the test's outcome: stops the cron it started and removes
/// the crontab file, its lock file and the temp dir.
struct Cleanup {
    cron: Option<Child>,
    crontab: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(cron) = self.cron.as_mut() {
            let _ = cron.kill();
            let _ = cron.wait();
        }
        let _ = std::fs::remove_file(&self.crontab);
        let dir = self.crontab.parent().unwrap_or(Path::new("/etc/cron.d"));
        if let Some(name) = self.crontab.file_name().and_then(|n| n.to_str()) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let other = entry.file_name();
                let other = other.to_string_lossy();
                // Lock and temp files apply may leave beside the target.
                if other.starts_with(&format!(".{name}")) || other.starts_with(&format!("{name}."))
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

fn cron_is_running() -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "cron"))
}

#[test]
#[cfg_attr(
    not(cronix_e2e_cron),
    ignore = "needs CRONIX_E2E_CRON=1, root and Debian's cron (.ci/run sets it)"
)]
fn real_cron_fires_a_signed_request_that_verifies() {
    if let Some(why) = skip_reason() {
        eprintln!("e2e_cron skipped: {why}");
        return;
    }
    let server = Server::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SENTINEL).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secret_ref = format!("file:{}", secret.display());
    let manifest = dir.path().join("manifest.json");
    let manifest_json = serde_json::json!({
        "version": 1, "app": "cronix-e2e",
        "jobs": [{ "name": "tick", "schedule": "* * * * *",
                   "request": { "method": "POST", "url": server.url("/api/v1/scheduled/tick"), "body": "e2e" },
                   "policy": { "timeout_seconds": 10, "retries": { "max_attempts": 2, "min_seconds": 1, "max_seconds": 2 } },
                   "auth": { "secret_refs": [secret_ref.clone()] } }]
    });
    std::fs::write(&manifest, manifest_json.to_string()).unwrap();
    std::fs::write(dir.path().join("cronix.yaml"), "version: 1\n").unwrap();
    let crontab = PathBuf::from(format!("/etc/cron.d/cronix-e2e-{}", std::process::id()));
    let mut cleanup = Cleanup {
        cron: None,
        crontab: crontab.clone(),
    };
    let bin = env!("CARGO_BIN_EXE_cronix");
    let path = |sub: &str| dir.path().join(sub).display().to_string();
    let reconcile_flags = [
        "--crontab-path".to_string(),
        crontab.display().to_string(),
        "--spec-dir".into(),
        path("jobs"),
        "--lock-dir".into(),
        path("locks"),
        "--state-dir".into(),
        path("state"),
    ];
    let config = path("cronix.yaml");

    let apply = Command::new(bin)
        .args([
            "--config",
            &config,
            "--secret-ref",
            &secret_ref,
            "apply",
            "--manifest",
        ])
        .arg(&manifest)
        .args(["--trigger-bin", bin])
        .args(reconcile_flags.iter())
        .output()
        .unwrap();
    assert!(
        apply.status.success(),
        "apply failed: {}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let installed = std::fs::read_to_string(&crontab).unwrap();
    assert!(
        installed.contains("# cronix:owned app=cronix-e2e job=tick"),
        "{installed}"
    );
    assert!(!installed.contains(SENTINEL));

    if !cron_is_running() {
        cleanup.cron = Some(Command::new(CRON).arg("-f").spawn().unwrap());
    }
    let arrived = server.wait_for(1, Duration::from_secs(75));
    assert!(arrived >= 1, "cron did not fire within 75 s");
    let request = &server.received()[0];
    assert_eq!(request.verified, Ok(0), "the fired request verifies");
    assert_eq!(request.url, "/api/v1/scheduled/tick");
    assert_eq!(request.header("x-cron-schedule-name"), Some("tick"));
    let fire_time: i64 = request.header("x-cron-fire-time").unwrap().parse().unwrap();
    assert_eq!(fire_time % 60, 0, "cron fires on the minute");

    let prune = Command::new(bin)
        .args(["--config", &config, "prune", "--app", "cronix-e2e", "--yes"])
        .args(reconcile_flags.iter())
        .output()
        .unwrap();
    assert!(
        prune.status.success(),
        "prune failed: {}",
        String::from_utf8_lossy(&prune.stderr)
    );
    let left = std::fs::read_to_string(&crontab).unwrap_or_default();
    assert!(!left.contains("cronix:owned"), "{left}");
    assert!(
        !Path::new(&path("jobs"))
            .join("cronix-e2e.tick.json")
            .exists()
    );
    drop(cleanup);
    assert!(!crontab.exists());
}
