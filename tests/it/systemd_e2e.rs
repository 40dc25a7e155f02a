//! The systemd-timer backend under a real systemd, booted in its own root (tests/systemd_support):
//! apply enables the timers, `systemctl list-timers` shows the next elapse `cronix next` predicts,
//! `* * * * *` jobs fire for real and a local server verifies their signatures (one signed with a
//! `cred:` secret sealed by `systemd-creds`), a no-op re-apply changes no file and runs no
//! `systemctl`, an update while a fire runs lets it finish, a timer disabled by hand or whose enable
//! failed is `inactive` drift that apply repairs, and prune leaves no unit loaded.
//!
//! Runs only with `CRONIX_E2E_SYSTEMD=1`, as root; otherwise it prints why it skipped.

use crate::support;
use crate::systemd_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Reply, SENTINEL, Server};
use systemd_support::{LOGGED_SYSTEMCTL, SHARE, Systemd};

const UNIT_DIR: &str = "/etc/systemd/system";
const NO_ENABLE_SYSTEMCTL: &str = "/usr/local/bin/systemctl-no-enable";

fn manifest(server: &Server, slow: &Server, slow_rev: &str) -> Value {
    let job = |name: &str, schedule: &str, zone: &str, url: String, refs: &[&str]| {
        json!({
            "name": name, "schedule": schedule, "timezone": zone,
            "request": { "url": url, "headers": { "X-Rev": "1" } },
            "policy": { "timeout_seconds": 60, "retries": { "max_attempts": 1 } },
            "auth": { "secret_refs": refs }
        })
    };
    let mut slow_job = job(
        "slow",
        "* * * * *",
        "UTC",
        slow.url("/slow"),
        &["env:E2E_SECRET"],
    );
    slow_job["request"]["headers"]["X-Rev"] = json!(slow_rev);
    json!({
        "version": 1, "app": "e2e",
        "jobs": [
            job("tick", "* * * * *", "UTC", server.url("/tick"), &["env:E2E_SECRET"]),
            job("sealed", "* * * * *", "UTC", server.url("/sealed"), &["cred:e2e-hmac"]),
            job("nightly", "0 3 * * *", "Europe/Paris", server.url("/nightly"), &["env:E2E_SECRET"]),
            slow_job,
        ]
    })
}

/// `cronix ARGS` inside, through the logging systemctl wrapper.
fn cronix(sd: &Systemd, args: &[&str]) -> std::process::Output {
    let mut argv = vec!["/usr/local/bin/cronix"];
    argv.extend_from_slice(args);
    sd.run(&argv)
}

fn apply(sd: &Systemd, manifest_name: &str) -> String {
    let path = format!("{SHARE}/{manifest_name}");
    let out = cronix(sd, &["apply", "systemd-timer", "--manifest", &path]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "apply failed: {text}");
    text
}

/// `name mtime` of every cronix unit file, for no-op checks.
fn unit_stamps(sd: &Systemd) -> String {
    sd.ok(&[
        "sh",
        "-c",
        &format!("stat -c '%n %y %i' {UNIT_DIR}/cronix-*"),
    ])
}

fn wait_until(sd: &Systemd, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "timed out after {limit:?} waiting for {what}; units:\n{}",
        diagnostics(sd)
    );
}

/// What systemd says about the cronix units, for a failure message.
fn diagnostics(sd: &Systemd) -> String {
    let out = sd.run(&[
        "sh",
        "-c",
        "systemctl status --no-pager -l -n 30 'cronix-*'; journalctl --no-pager -n 60 -u 'cronix-*'",
    ]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn paths_received(server: &Server) -> Vec<(String, Result<usize, String>)> {
    server
        .received()
        .into_iter()
        .map(|r| (r.url.clone(), r.verified.clone()))
        .collect()
}

#[test]
#[cfg_attr(
    not(cronix_e2e_systemd),
    ignore = "needs CRONIX_E2E_SYSTEMD=1, root and debootstrap (.ci/run sets it)"
)]
fn a_real_systemd_runs_and_reconciles_the_timers_cronix_applies() {
    if let Some(why) = systemd_support::skip_reason() {
        eprintln!("SKIP: systemd end-to-end: {why}");
        return;
    }
    let server = Server::start(vec![Reply::status(200)]);
    let slow = Server::start(vec![Reply::status(200).after(Duration::from_secs(25))]);
    let config = "version: 1\nsecret_refs: [\"env:E2E_SECRET\", \"cred:e2e-hmac\"]\n\
                  env_file: /etc/cronix/env\ntrigger_bin: /usr/local/bin/cronix\n\
                  systemctl_bin: /usr/local/bin/systemctl-logged\n";
    assert!(config.contains(LOGGED_SYSTEMCTL));
    // A unit with a cronix-like name but no marks is foreign: never touched, even by prune.
    let foreign = "[Unit]\nDescription=hand-written\n\n[Timer]\nOnCalendar=daily\n";
    let sd = Systemd::boot(&[
        ("/etc/cronix/cronix.yaml", config.to_string(), 0o644),
        ("/etc/cronix/env", format!("E2E_SECRET={SENTINEL}\n"), 0o600),
        (
            "/etc/systemd/system/cronix-e2e-mine-0.timer",
            foreign.to_string(),
            0o644,
        ),
        // A systemctl whose `enable` fails, for an apply that stops after writing the units.
        (
            NO_ENABLE_SYSTEMCTL,
            format!(
                "#!/bin/sh\ncase \"$1\" in enable) echo 'enable refused' >&2; exit 1;; esac\n\
                 exec {LOGGED_SYSTEMCTL} \"$@\"\n"
            ),
            0o755,
        ),
        (
            "/etc/cronix/no-enable.yaml",
            config.replace(LOGGED_SYSTEMCTL, NO_ENABLE_SYSTEMCTL),
            0o644,
        ),
    ]);
    std::fs::write(
        sd.shared("m1.json"),
        manifest(&server, &slow, "1").to_string(),
    )
    .unwrap();
    std::fs::write(
        sd.shared("m2.json"),
        manifest(&server, &slow, "2").to_string(),
    )
    .unwrap();

    // Seal the cred: secret with systemd's own tool; the plain copy is gone before any fire.
    std::fs::write(sd.shared("plain"), SENTINEL).unwrap();
    sd.ok(&["mkdir", "-p", "/etc/credstore.encrypted"]);
    sd.ok(&[
        "systemd-creds",
        "encrypt",
        "--name=e2e-hmac",
        "--with-key=host",
        &format!("{SHARE}/plain"),
        "/etc/credstore.encrypted/e2e-hmac.cred",
    ]);
    std::fs::remove_file(sd.shared("plain")).unwrap();

    // Apply: one daemon-reload and one enable --now of the four timers.
    let applied_at = Instant::now();
    apply(&sd, "m1.json");
    let calls = sd.systemctl_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], "daemon-reload");
    assert!(
        calls[1].starts_with("enable --now ") && calls[1].matches(".timer").count() == 4,
        "{calls:?}"
    );
    for job in ["tick", "sealed", "nightly", "slow"] {
        let timer = format!("cronix-e2e-{job}-0.timer");
        assert_eq!(
            sd.ok(&["systemctl", "is-enabled", &timer]).trim(),
            "enabled"
        );
        assert_eq!(sd.ok(&["systemctl", "is-active", &timer]).trim(), "active");
    }
    let units = sd.ok(&["sh", "-c", &format!("cat {UNIT_DIR}/cronix-*")]);
    assert!(!units.contains(SENTINEL), "no secret in any unit");

    // list-timers shows the next elapse cronix next predicts.
    let listed = sd.ok(&[
        "systemctl",
        "list-timers",
        "--all",
        "--no-legend",
        "cronix-e2e-nightly-0.timer",
    ]);
    let predicted = cronix(
        &sd,
        &[
            "next",
            "0 3 * * *",
            "--timezone",
            "Europe/Paris",
            "--count",
            "1",
            "-o",
            "json",
        ],
    );
    let doc: Value = serde_json::from_slice(&predicted.stdout).unwrap();
    let next: jiff::Timestamp = doc["next"][0].as_str().unwrap().parse().unwrap();
    let next_utc = next.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
    assert!(
        listed.contains(&next_utc),
        "list-timers: {listed:?}, cronix next: {next_utc}"
    );

    // `* * * * *` jobs fire within 75 s, signed: one with the env secret, one with the sealed cred.
    wait_until(&sd, Duration::from_secs(75), "the first fires", || {
        let got = paths_received(&server);
        got.iter().any(|(p, _)| p == "/tick") && got.iter().any(|(p, _)| p == "/sealed")
    });
    assert!(applied_at.elapsed() < Duration::from_secs(75));
    for (path, verified) in paths_received(&server) {
        assert_eq!(
            verified,
            Ok(0),
            "{path} was not signed with the job's secret"
        );
    }

    // A no-op re-apply changes no file and runs no systemctl.
    let before = unit_stamps(&sd);
    let out = apply(&sd, "m1.json");
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(sd.systemctl_calls().len(), 2, "{:?}", sd.systemctl_calls());
    assert_eq!(unit_stamps(&sd), before);

    // A hand-edited OnCalendar is `edited` drift; drift reads only.
    sd.ok(&[
        "sed",
        "-i",
        "s/^OnCalendar=\\(.*\\) 03:00:00 Europe/OnCalendar=\\1 04:00:00 Europe/",
        &format!("{UNIT_DIR}/cronix-e2e-nightly-0.timer"),
    ]);
    let drift = cronix(
        &sd,
        &[
            "drift",
            "systemd-timer",
            "--manifest",
            &format!("{SHARE}/m1.json"),
            "-o",
            "json",
        ],
    );
    let doc: Value = serde_json::from_slice(&drift.stdout).unwrap();
    let kinds: Vec<(&str, &str)> = doc["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["job"].as_str().unwrap(), d["drift"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("nightly", "edited")], "{doc}");
    let repaired = apply(&sd, "m1.json");
    assert!(
        repaired.contains("edited") || repaired.contains("update"),
        "{repaired}"
    );
    let calls_after_repair = sd.systemctl_calls().len();
    assert_eq!(calls_after_repair, 5, "{:?}", sd.systemctl_calls());

    // An update while a fire is running lets that fire finish.
    wait_until(&sd, Duration::from_secs(75), "a slow fire to start", || {
        !slow.received().is_empty()
    });
    let held = slow.received()[0]
        .header("X-Cron-Run-Id")
        .unwrap()
        .to_string();
    let state = sd.ok(&[
        "systemctl",
        "show",
        "-p",
        "ActiveState",
        "--value",
        "cronix-e2e-slow-0.service",
    ]);
    assert_eq!(
        state.trim(),
        "activating",
        "the slow fire runs during the update"
    );
    apply(&sd, "m2.json");
    let calls = sd.systemctl_calls();
    assert_eq!(
        calls[calls_after_repair..],
        [
            "daemon-reload".to_string(),
            "enable --now cronix-e2e-slow-0.timer".to_string(),
            "restart cronix-e2e-slow-0.timer".to_string()
        ],
        "{calls:?}"
    );
    wait_until(
        &sd,
        Duration::from_secs(60),
        "the held fire's history record",
        || {
            let out = sd.run(&["cat", "/var/lib/cronix/history/e2e.slow.jsonl"]);
            String::from_utf8_lossy(&out.stdout).lines().any(|l| {
                let r: Value = serde_json::from_str(l).unwrap_or_default();
                r["run_id"] == held.as_str() && r["status"] == "ok"
            })
        },
    );

    check_liveness(&sd, &server);

    // Prune removes every unit and leaves none loaded.
    let out = cronix(
        &sd,
        &[
            "prune",
            "--backend",
            "systemd-timer",
            "--app",
            "e2e",
            "--yes",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = sd.ok(&[
        "sh",
        "-c",
        &format!("ls {UNIT_DIR} | grep '^cronix-' || true"),
    ]);
    assert_eq!(
        left.trim(),
        "cronix-e2e-mine-0.timer",
        "only the foreign unit is left"
    );
    let mine = sd.ok(&["cat", &format!("{UNIT_DIR}/cronix-e2e-mine-0.timer")]);
    assert_eq!(mine, foreign, "the foreign unit is byte-identical");
    let loaded = sd.ok(&[
        "systemctl",
        "list-units",
        "--all",
        "--no-legend",
        "cronix-e2e-*",
    ]);
    let loaded: Vec<&str> = loaded
        .lines()
        .filter(|l| !l.contains("cronix-e2e-mine-0"))
        .collect();
    assert!(loaded.is_empty(), "units still loaded: {loaded:?}");
}

/// The jobs `drift` reports, as `(job, kind)`, and its exit status with `--exit-on-drift`.
fn drift_kinds(sd: &Systemd, manifest_name: &str) -> (Vec<(String, String)>, Option<i32>) {
    let path = format!("{SHARE}/{manifest_name}");
    let out = cronix(
        sd,
        &[
            "drift",
            "systemd-timer",
            "--manifest",
            &path,
            "--exit-on-drift",
            "-o",
            "json",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "drift -o json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let kinds = doc["drift"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"] == "entry")
        .map(|d| {
            (
                d["job"].as_str().unwrap_or_default().to_string(),
                d["drift"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (kinds, out.status.code())
}

/// A timer disabled by hand, and one whose `enable` failed, are `inactive` drift (exit 5) that
/// apply repairs; a no-op apply reads the timers' state (`systemctl show`) and changes nothing.
fn check_liveness(sd: &Systemd, server: &Server) {
    let enabled = |timer: &str| {
        (
            sd.run(&["systemctl", "is-enabled", timer]).stdout,
            sd.run(&["systemctl", "is-active", timer]).stdout,
        )
    };
    let on = (b"enabled\n".to_vec(), b"active\n".to_vec());
    let (queries, calls) = (sd.systemctl_queries().len(), sd.systemctl_calls());
    apply(sd, "m2.json");
    assert!(
        sd.systemctl_queries().len() > queries,
        "apply reads the timers' state"
    );
    assert_eq!(sd.systemctl_calls(), calls, "a no-op apply changes nothing");

    sd.ok(&[
        "systemctl",
        "disable",
        "--now",
        "cronix-e2e-nightly-0.timer",
    ]);
    let (kinds, code) = drift_kinds(sd, "m2.json");
    assert_eq!(
        kinds,
        [("nightly".to_string(), "inactive".to_string())],
        "a hand `systemctl disable` is inactive drift"
    );
    assert_eq!(code, Some(5));
    apply(sd, "m2.json");
    assert_eq!(enabled("cronix-e2e-nightly-0.timer"), on);
    assert_eq!(drift_kinds(sd, "m2.json"), (Vec::new(), Some(0)));

    // A new job whose enable fails: its units are written and loaded but never started.
    let mut m3: Value =
        serde_json::from_slice(&std::fs::read(sd.shared("m2.json")).unwrap()).unwrap();
    let mut late = m3["jobs"][2].clone();
    late["name"] = json!("late");
    late["request"]["url"] = json!(server.url("/late"));
    m3["jobs"].as_array_mut().unwrap().push(late);
    std::fs::write(sd.shared("m3.json"), m3.to_string()).unwrap();
    let out = cronix(
        sd,
        &[
            "apply",
            "systemd-timer",
            "--config",
            "/etc/cronix/no-enable.yaml",
            "--manifest",
            &format!("{SHARE}/m3.json"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("enable refused"), "{err}");
    let audit = sd.ok(&["tail", "-n", "1", "/var/lib/cronix/audit.jsonl"]);
    let record: Value = serde_json::from_str(audit.trim()).unwrap();
    assert_eq!(record["outcome"], "partial", "{record}");
    let late_entry = record["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "entry" && o["job"] == "late")
        .cloned()
        .unwrap_or_default();
    assert_eq!(late_entry["done"], false, "{record}");
    assert_eq!(
        drift_kinds(sd, "m3.json"),
        (vec![("late".to_string(), "inactive".to_string())], Some(5)),
        "a timer whose enable failed is inactive drift"
    );
    apply(sd, "m3.json");
    assert_eq!(enabled("cronix-e2e-late-0.timer"), on);
    assert_eq!(drift_kinds(sd, "m3.json"), (Vec::new(), Some(0)));
}

/// docs/systemd.md's worked example, run as written inside a booted systemd (only the working
/// directory is one that holds examples/billing.json): apply, list-timers, show, drift, prune.
#[test]
#[cfg_attr(
    not(cronix_e2e_systemd),
    ignore = "needs CRONIX_E2E_SYSTEMD=1, root and debootstrap (.ci/run sets it)"
)]
fn the_systemd_pages_worked_example_runs_as_written() {
    if systemd_support::skip_reason().is_some() {
        return;
    }
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/systemd.md")).unwrap();
    let block_at = |head: &str| {
        let start = page.find(&format!("```sh\n{head}")).expect(head);
        let block = &page[start + 6..];
        block[..block.find("```").unwrap()].to_string()
    };
    let block = block_at("cronix apply systemd-timer");
    let sealing = block_at("install -d -m 0700 /etc/credstore.encrypted");
    let sd = Systemd::boot(&[]);
    std::fs::create_dir_all(sd.shared("examples")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/billing.json"),
        sd.shared("examples/billing.json"),
    )
    .unwrap();
    // The credential section's sealing commands first, as written (SECRET is what it seals).
    let seal = format!("set -e\nexport SECRET=docs-example-hmac\n{sealing}");
    sd.ok(&["sh", "-c", &seal]);
    sd.ok(&[
        "systemd-creds",
        "decrypt",
        "--name=billing-hmac",
        "/etc/credstore.encrypted/billing-hmac.cred",
        "-",
    ]);
    let script = format!("set -e\ncd {SHARE}\nexport BILLING_CRON_V2=docs-example-secret\n{block}");
    let out = sd.run(&["sh", "-c", &script]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the page's example failed as written:\n{text}\n{}",
        diagnostics(&sd)
    );
    assert!(
        text.contains("cronix-billing-service-settle-invoices-0.timer"),
        "{text}"
    );
    assert!(text.contains("no drift"), "{text}");
    let left = sd.ok(&[
        "sh",
        "-c",
        &format!("ls {UNIT_DIR} | grep -c '^cronix-' || true"),
    ]);
    assert_eq!(left.trim(), "0", "prune removed every unit");
}
