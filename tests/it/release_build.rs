//! The release binary has no test hook: no variable names a program it runs (`CRONIX_SYSTEMCTL`,
//! `CRONIX_SYSTEMD_CREDS`), stops it (`CRONIX_TEST_PAUSE_AT`) or changes the host zone or tz database
//! it renders with (`TZ`, `TZDIR`). These tests build `cronix` with `--release` once (into its own
//! target dir, `release-check`, so the debug build is not disturbed) and run that binary.
//!
//! The other high findings of the trust model run here against the release binary too: a trigger
//! binary another user can replace, a manifest built to exhaust memory, a rogue Redis endpoint, and
//! proxy and CA variables.
//!
//! The build takes minutes, so the tests are ignored in a plain `cargo test`; `.ci/run` runs them
//! with `--ignored`.

use crate::trust_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The release binary, built once per test process.
fn release_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("release-check");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["build", "--release", "--quiet", "--bin", "cronix"])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --release failed");
        target.join("release/cronix")
    })
}

fn debug_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cronix"))
}

/// A temp dir with a config, a stand-in `systemctl` and `systemd-creds` that log their calls, and an
/// "evil" program that leaves a mark when anything runs it.
struct Host {
    dir: tempfile::TempDir,
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().unwrap(),
        };
        let root = host.root();
        for dir in ["units", "jobs", "state", "locks", "credstore", "cron.d"] {
            std::fs::create_dir(root.join(dir)).unwrap();
        }
        script(
            &root.join("systemctl"),
            &format!(
                "echo \"$*\" >> {}\n[ \"$1\" = is-system-running ] && echo running\nexit 0",
                root.join("systemctl.log").display()
            ),
        );
        script(
            &root.join("systemd-creds"),
            &format!(
                "echo \"$*\" >> {}\necho sealed-secret\nexit 0",
                root.join("creds.log").display()
            ),
        );
        script(
            &root.join("evil"),
            &format!("touch {}\nexit 0", root.join("evil-ran").display()),
        );
        std::fs::write(root.join("credstore/hmac.cred"), "sealed\n").unwrap();
        let config = format!(
            "systemctl_bin: {root}/systemctl\nsystemd_creds_bin: {root}/systemd-creds\n\
             systemd_credstore_dir: {root}/credstore\nsecret_refs: [\"cred:hmac\"]\n",
            root = root.display()
        );
        std::fs::write(root.join("cronix.yaml"), config).unwrap();
        let manifest = serde_json::json!({
            "version": 1,
            "app": "rel",
            "jobs": [{
                "name": "tick",
                "schedules": ["0 9 * * *"],
                "timezone": "Europe/Paris",
                "request": {"url": "https://rel.example.com/cron/tick"},
            }],
        });
        std::fs::write(root.join("m.json"), manifest.to_string()).unwrap();
        host
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> String {
        self.root().join(rel).display().to_string()
    }

    /// `BIN <sub> [backend] --manifest m.json <target flags>` with the hostile variables set.
    fn command(&self, bin: &Path, args: &[&str]) -> Command {
        self.command_installing(bin, bin, args)
    }

    /// `command`, with entries that run `trigger_bin`.
    fn command_installing(&self, bin: &Path, trigger_bin: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .args(["--spec-dir", &self.path("jobs")])
            .args(["--state-dir", &self.path("state")])
            .args(["--lock-dir", &self.path("locks")])
            .args(["--trigger-bin", &trigger_bin.display().to_string()])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.root())
            .env("CRONIX_CONFIG", self.root().join("cronix.yaml"))
            .env("CRONIX_SYSTEMCTL", self.root().join("evil"))
            .env("CRONIX_SYSTEMD_CREDS", self.root().join("evil"))
            .stdin(Stdio::null());
        cmd
    }

    /// `BIN apply` of `m.json` into a user-format crontab file here, with entries that run
    /// `trigger_bin`, signed with `env:CRON_SECRET`.
    fn crontab_apply(&self, bin: &Path, trigger_bin: &Path) -> Command {
        let (manifest, crontab) = (self.path("m.json"), self.path("cron.d/cronix"));
        let mut apply = self.command_installing(
            bin,
            trigger_bin,
            &["apply", "--manifest", &manifest, "--crontab-path", &crontab],
        );
        apply.args([
            "--crontab-format",
            "user",
            "--secret-ref",
            "env:CRON_SECRET",
        ]);
        apply
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root().join(name)).unwrap_or_default()
    }

    fn evil_ran(&self) -> bool {
        self.root().join("evil-ran").exists()
    }
}

/// Run `cmd` to its end within `limit`; a process that stops itself or hangs fails the test.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cronix starts");
    let pid = child.id();
    let deadline = Instant::now() + limit;
    let watcher = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !watcher.is_finished() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let out = watcher.join().unwrap();
            panic!(
                "cronix did not finish within {limit:?} (stopped or hung); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    watcher.join().unwrap()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// apply and doctor on the systemd-timer backend run the configured `systemctl` and `systemd-creds`,
/// never the program a variable names.
fn no_variable_picks_a_program(bin: &Path) {
    let host = Host::new();
    let unit_dir = host.path("units");
    let manifest = host.path("m.json");
    let mut apply = host.command(
        bin,
        &[
            "apply",
            "systemd-timer",
            "--manifest",
            &manifest,
            "--systemd-unit-dir",
            &unit_dir,
        ],
    );
    apply.args(["--secret-ref", "cred:hmac"]);
    let out = run_bounded(apply, Duration::from_secs(60));
    assert_ok(&out, "apply");
    assert!(
        host.log("systemctl.log").contains("enable --now"),
        "{}",
        host.log("systemctl.log")
    );

    let mut doctor = host.command(
        bin,
        &[
            "doctor",
            "--backend",
            "systemd-timer",
            "--systemd-unit-dir",
            &unit_dir,
        ],
    );
    doctor.args(["--secret-ref", "cred:hmac"]);
    let out = run_bounded(doctor, Duration::from_secs(60));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("cred hmac"),
        "doctor did not check the credential:\n{said}"
    );
    if rustix::process::geteuid().is_root() {
        assert!(host.log("creds.log").contains("decrypt"), "{said}");
    }
    assert!(!host.evil_ran(), "a variable chose the program cronix ran");
}

#[test]
#[ignore = "builds cronix --release (minutes); .ci/run runs it with --ignored"]
fn a_release_binary_runs_no_program_that_a_variable_names() {
    no_variable_picks_a_program(release_bin());
}

#[test]
fn a_debug_binary_runs_no_program_that_a_variable_names_either() {
    no_variable_picks_a_program(debug_bin());
}

#[test]
#[ignore = "builds cronix --release (minutes); .ci/run runs it with --ignored"]
fn a_release_apply_never_stops_itself_for_a_pause_variable() {
    let bin = release_bin();
    for step in [
        "locked",
        "specs_written",
        "crontab_installed",
        "temp_written:cronix",
    ] {
        let host = Host::new();
        let mut apply = host.crontab_apply(bin, bin);
        apply.env("CRONIX_TEST_PAUSE_AT", step);
        let out = run_bounded(apply, Duration::from_secs(30));
        assert_ok(&out, step);
        assert!(host.root().join("cron.d/cronix").exists(), "{step}");
    }
}

/// The crontab apply renders for `tick` (09:00 Europe/Paris) with these extra variables.
fn rendered_with(bin: &Path, vars: &[(&str, &Path)]) -> String {
    let host = Host::new();
    let mut apply = host.crontab_apply(bin, bin);
    for (name, value) in vars {
        apply.env(name, value);
    }
    let out = run_bounded(apply, Duration::from_secs(30));
    assert_ok(&out, "apply");
    let text = std::fs::read_to_string(host.root().join("cron.d/cronix")).unwrap();
    // Paths differ between hosts; the schedule part of each entry line is what the zone decides.
    text.lines()
        .filter(|l| l.contains(" trigger "))
        .map(|l| l.split(" /").next().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A tz database whose `Europe/Paris` is really Kathmandu, and whose UTC is Paris.
fn fake_tzdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Europe")).unwrap();
    std::fs::copy(
        "/usr/share/zoneinfo/Asia/Kathmandu",
        dir.path().join("Europe/Paris"),
    )
    .unwrap();
    std::fs::copy("/usr/share/zoneinfo/Europe/Paris", dir.path().join("UTC")).unwrap();
    dir
}

#[test]
#[ignore = "builds cronix --release (minutes); .ci/run runs it with --ignored"]
fn a_release_apply_renders_with_the_system_zone_whatever_tz_and_tzdir_say() {
    let bin = release_bin();
    let plain = rendered_with(bin, &[]);
    assert!(!plain.is_empty());
    let fake = fake_tzdir();
    let tz_paris = Path::new("Europe/Paris");
    let hostile = rendered_with(bin, &[("TZ", tz_paris), ("TZDIR", fake.path())]);
    assert_eq!(
        plain, hostile,
        "TZ/TZDIR changed what a release apply renders"
    );
    // The same variables do change a debug build's rendering (the test suite's stand-ins), so this
    // comparison can fail.
    let debug = rendered_with(debug_bin(), &[("TZ", tz_paris), ("TZDIR", fake.path())]);
    assert_ne!(
        plain, debug,
        "the debug build ignored its test zone: the check above proves nothing"
    );
}

#[test]
#[ignore = "builds cronix --release (minutes); .ci/run runs it with --ignored"]
fn the_release_binary_holds_no_test_hook_name() {
    let bytes = std::fs::read(release_bin()).unwrap();
    for name in [
        "CRONIX_TEST_PAUSE_AT",
        "CRONIX_TEST_PANIC_AT",
        "CRONIX_TEST_NOW",
        "CRONIX_SYSTEMCTL",
        "CRONIX_SYSTEMD_CREDS",
    ] {
        assert!(
            !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "the release binary contains {name}"
        );
    }
    let debug = std::fs::read(debug_bin()).unwrap();
    assert!(
        debug.windows(20).any(|w| w == b"CRONIX_TEST_PAUSE_AT"),
        "the debug build should hold the hook's name (else this check proves nothing)"
    );
}

#[test]
#[ignore = "builds cronix --release (minutes); .ci/run runs it with --ignored"]
fn a_release_apply_refuses_a_trigger_binary_in_a_users_directory() {
    let Some(stranger) = trust_support::Stranger::create("release_trigger_binary") else {
        return;
    };
    let bin = release_bin();
    let host = Host::new();
    let home = host.root().join("home");
    std::fs::create_dir(&home).unwrap();
    trust_support::open_up(host.root(), 0o755);
    stranger.own(&home);
    // A root-owned copy of the release binary, in a directory the user owns (and could swap it in).
    let copy = home.join("cronix");
    std::fs::copy(bin, &copy).unwrap();
    let apply = host.crontab_apply(bin, &copy);
    let out = run_bounded(apply, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("goes through {}", home.display())),
        "{stderr}"
    );
    assert!(
        !host.root().join("cron.d/cronix").exists(),
        "a crontab was written"
    );
}
