//! Build metadata for `cronix version`: the git commit, the build date and the target triple, as
//! compile-time environment variables. No network; every value falls back to "unknown".
//!
//! Also what this machine lets the test suite run, as `cronix_test_*`/`cronix_e2e_*` cfgs: a test
//! that cannot run here is marked `#[cfg_attr(not(cfg), ignore = "why")]` and listed as ignored with
//! its reason. The probes re-run when `PATH` or an e2e switch changes; after installing a tool with
//! the same `PATH`, `touch build.rs`. Nothing here reaches the binary.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=CRONIX_BUILD_COMMIT");
    for path in git(&["rev-parse", "--git-path", "HEAD"]).into_iter().chain(
        git(&["rev-parse", "--symbolic-full-name", "HEAD"])
            .and_then(|r| git(&["rev-parse", "--git-path", &r])),
    ) {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = std::env::var("CRONIX_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    let date = build_seconds()
        .map(utc_date)
        .unwrap_or_else(|| "unknown".to_string());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=CRONIX_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=CRONIX_BUILD_DATE={date}");
    println!("cargo:rustc-env=CRONIX_BUILD_TARGET={target}");
    test_capabilities();
}

/// The cfgs the test suite's `ignore` attributes read.
fn test_capabilities() {
    let tools: &[(&str, &[&str])] = &[
        ("cronix_test_redis", &["redis-server", "redis-cli"]),
        ("cronix_test_promtool", &["promtool"]),
        ("cronix_test_python3", &["python3"]),
        ("cronix_test_systemd_analyze", &["systemd-analyze"]),
        ("cronix_test_systemd_creds", &["systemd-creds"]),
        ("cronix_test_openssl", &["openssl"]),
    ];
    let switches = [
        ("cronix_e2e_cron", "CRONIX_E2E_CRON"),
        ("cronix_e2e_systemd", "CRONIX_E2E_SYSTEMD"),
    ];
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(cronix_test_root)");
    if is_root() {
        println!("cargo:rustc-cfg=cronix_test_root");
    }
    for (cfg, bins) in tools {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if bins.iter().all(|b| on_path(b)) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    for (cfg, var) in switches {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var(var).as_deref() == Ok("1") {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    // The Kubernetes tests: a running test cluster (`.ci/k8s up DIR` writes DIR/env) named by
    // CRONIX_TEST_K8S=DIR. Re-probed when the variable changes or that file goes (`.ci/k8s down`).
    println!("cargo::rustc-check-cfg=cfg(cronix_e2e_k8s)");
    println!("cargo:rerun-if-env-changed=CRONIX_TEST_K8S");
    if let Some(dir) = std::env::var_os("CRONIX_TEST_K8S").filter(|d| !d.is_empty()) {
        let env = std::path::Path::new(&dir).join("env");
        if env.is_file() {
            println!("cargo:rerun-if-changed={}", env.display());
            println!("cargo:rustc-cfg=cronix_e2e_k8s");
        }
    }
}

/// Whether the build (and so, on this machine, the test run) is root: `/proc/self` belongs to
/// the effective user.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(bin))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// One line of `git <args>` output, if git runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.trim();
    (out.status.success() && !line.is_empty()).then(|| line.to_string())
}

/// `SOURCE_DATE_EPOCH` (reproducible builds), else now.
fn build_seconds() -> Option<i64> {
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        return epoch.trim().parse().ok();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(now.as_secs()).ok()
}

/// `YYYY-MM-DD` (UTC) of a unix time, by the civil-from-days algorithm.
fn utc_date(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
