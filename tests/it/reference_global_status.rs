//! The reference's global-status page (issue 19, item 4): `global-status` reads the `backends:` list
//! of `~/.cronix/config.yaml` (each entry a backend with its flags), queries the listed backends in
//! parallel, each within its deadline, and takes `--strict`, `--with-history`, `--history-since`,
//! `--parallel`, `--per-backend-timeout` and a repeatable `--backend NAME`. Without a list, today's
//! single-target view stays. Real binary; HOME and every path in a temp dir.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use cronix::core::history::{RunRecord, RunStatus};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The crontab the reference wrote on the laptop: its two-line blocks, no user column.
const REFERENCE_TAB: &str = "SHELL=/bin/sh\n\
*/15 * * * * /usr/local/bin/cronix trigger billing-service.reconcile-payments\n\
# cronix:owned app=billing-service job=reconcile-payments hash=eefe2dd0dcf563e2 idx=0\n\
0 9 * * 1 /usr/local/bin/cronix trigger billing-service.send-invoices\n\
# cronix:owned app=billing-service job=send-invoices hash=0afcd05672500c2a idx=0\n";

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    /// The page's example `~/.cronix/config.yaml`, its crontab path moved into the temp dir, plus an
    /// empty crontab and a systemd unit dir.
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let host = Host { dir };
        for sub in [".cronix", "tabs", "units", "state/history"] {
            std::fs::create_dir_all(host.path(sub)).unwrap();
        }
        std::fs::set_permissions(host.path(".cronix"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::fs::write(host.path("tabs/me"), REFERENCE_TAB).unwrap();
        std::fs::write(host.path("tabs/empty"), "").unwrap();
        let config = format!(
            "version: 1
backends:
  - name: laptop
    type: crontab
    crontab_path: {tabs}/me
    trigger_bin: /usr/local/bin/cronix
    state_dir: {state}
  - name: prod-cluster
    type: kubernetes
    namespace: scheduled
    in_cluster: false
    kubeconfig: ~/.kube/prod
  - name: prod-eb
    type: aws-scheduler
    region: us-east-1
    schedule_group: cronix
  - name: spare
    type: crontab
    crontab_path: {tabs}/empty
  - name: timers
    type: systemd-timer
    unit_dir: {units}
",
            tabs = host.path("tabs").display(),
            state = host.path("state").display(),
            units = host.path("units").display(),
        );
        std::fs::write(host.path(".cronix/config.yaml"), config).unwrap();
        // cronix's own config under HOME, without a list: the lookup stops here, never at the host's
        // /etc/cronix/cronix.yaml, and the list comes from the reference's file beside it.
        std::fs::write(host.path(".cronix/cronix.yaml"), "version: 1\n").unwrap();
        host
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `cronix ARGS` as the page runs it: no `--config`, the list found under HOME.
    fn cronix(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cronix"));
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env_remove("CRONIX_CONFIG");
        cmd
    }
}

fn json(out: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn text(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

fn rows(doc: &Value) -> Vec<(&str, &str)> {
    doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_pages_example_lists_every_backend_in_the_configs_order() {
    let host = Host::new();
    let out = host.cronix(&["global-status"]).assert().code(0);
    let table = text(&out);
    for want in [
        "BACKEND",
        "laptop",
        "reconcile-payments",
        "eefe2dd0dcf563e2",
        "OK",
        "EMPTY",
        "ERROR: kubeconfig",
    ] {
        assert!(table.contains(want), "{want:?} missing in:\n{table}");
    }
    let doc = json(
        &host
            .cronix(&["global-status", "-o", "json"])
            .assert()
            .code(0),
    );
    assert_eq!(
        rows(&doc),
        [
            ("laptop", "ok"),
            ("prod-cluster", "error"),
            ("prod-eb", "error"),
            ("spare", "empty"),
            ("timers", "empty"),
        ]
    );
    let laptop = &doc["backends"][0];
    assert_eq!(laptop["type"], "crontab");
    assert_eq!(laptop["entries"][0]["app"], "billing-service");
    assert_eq!(laptop["entries"][0]["job"], "reconcile-payments");
    assert_eq!(laptop["entries"][0]["index"], 0);
    assert_eq!(laptop["entries"][1]["hash"], "0afcd05672500c2a");
    // The kubernetes entry is queried: its kubeconfig (`~` is HOME) does not exist here.
    let error = doc["backends"][1]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("kubeconfig {}", host.path(".kube/prod").display())),
        "{error}"
    );
}

#[test]
fn strict_exits_1_when_a_backend_failed_and_backend_picks_entries() {
    let host = Host::new();
    let out = host.cronix(&["global-status", "--strict"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("prod-cluster, prod-eb") && err.contains("--strict"),
        "{err}"
    );
    // The rows are printed all the same.
    assert!(text(&out).contains("laptop"));

    let doc = json(
        &host
            .cronix(&[
                "global-status",
                "--strict",
                "--backend",
                "laptop",
                "--backend",
                "spare",
                "-o",
                "json",
            ])
            .assert()
            .code(0),
    );
    assert_eq!(rows(&doc), [("laptop", "ok"), ("spare", "empty")]);

    let out = host
        .cronix(&["global-status", "--backend", "nope"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("--backend nope") && err.contains("laptop"),
        "{err}"
    );
    // A backends list brings each backend's flags: flags of one target are a usage error.
    let out = host
        .cronix(&["global-status", "--crontab-path", "/x"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("--crontab-path") && err.contains("backends:"),
        "{err}"
    );
}

fn write_run(state: &Path, id: &str, ago_hours: i64, status: RunStatus) {
    let at = format!(
        "{:.3}",
        Timestamp::now() - SignedDuration::from_hours(ago_hours)
    );
    let (app, job) = id.split_once('.').unwrap();
    let record = RunRecord {
        run_id: format!("run-{ago_hours}"),
        app: app.into(),
        job: job.into(),
        fire_time: at.clone(),
        started_at: at,
        duration_ms: 5,
        attempts: 1,
        status,
        http_status: Some(200),
        exit_code: 0,
        error: None,
        host_id: None,
        fallback: None,
        attempt_log: Vec::new(),
    };
    let path = state.join(format!("history/{id}.jsonl"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&record.to_line());
    std::fs::write(path, text).unwrap();
}

#[test]
fn with_history_adds_the_newest_run_within_history_since() {
    let host = Host::new();
    let state = host.path("state");
    write_run(
        &state,
        "billing-service.reconcile-payments",
        30,
        RunStatus::Exhausted,
    );
    write_run(
        &state,
        "billing-service.reconcile-payments",
        1,
        RunStatus::Ok,
    );
    write_run(&state, "billing-service.send-invoices", 30, RunStatus::Ok);

    let doc = json(
        &host
            .cronix(&[
                "global-status",
                "--backend",
                "laptop",
                "--with-history",
                "-o",
                "json",
            ])
            .assert()
            .code(0),
    );
    let entries = &doc["backends"][0]["entries"];
    assert_eq!(entries[0]["last_status"], "ok");
    assert!(entries[0]["last_fire"].as_str().is_some());
    // Its only run is older than the default 24h window.
    assert!(entries[1].get("last_fire").is_none(), "{doc}");

    let doc = json(
        &host
            .cronix(&[
                "global-status",
                "--backend",
                "laptop",
                "--with-history",
                "--history-since",
                "48h",
                "-o",
                "json",
            ])
            .assert()
            .code(0),
    );
    assert_eq!(doc["backends"][0]["entries"][1]["last_status"], "ok");

    let out = host
        .cronix(&["global-status", "--backend", "laptop", "--with-history"])
        .assert()
        .code(0);
    let table = text(&out);
    assert!(
        table.contains("LAST_FIRE") && table.contains("LAST_STATUS"),
        "{table}"
    );
    // Without --with-history no history columns or keys.
    let doc = json(
        &host
            .cronix(&["global-status", "-o", "json"])
            .assert()
            .code(0),
    );
    assert!(
        doc["backends"][0]["entries"][0]
            .get("last_status")
            .is_none()
    );
}

#[test]
fn config_flag_on_the_references_file_loads_it() {
    // The failing case: `--config` on the reference's file (unknown field `backends`).
    let host = Host::new();
    let file = host.path(".cronix/config.yaml");
    let doc = json(
        &host
            .cronix(&[
                "--config",
                file.to_str().unwrap(),
                "global-status",
                "--parallel",
                "1",
                "-o",
                "json",
            ])
            .assert()
            .code(0),
    );
    assert_eq!(rows(&doc).len(), 5);
    // A bad entry is refused with its place.
    std::fs::write(
        &file,
        "version: 1\nbackends:\n  - name: a\n    type: cron\n",
    )
    .unwrap();
    let out = host
        .cronix(&["--config", file.to_str().unwrap(), "global-status"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("backends[0] (a): type \"cron\""), "{err}");
}

#[test]
fn without_a_list_the_single_target_view_stays() {
    let host = Host::new();
    std::fs::remove_file(host.path(".cronix/config.yaml")).unwrap();
    let tab = host.path("tabs/empty");
    let spec_dir = host.path("jobs");
    let doc = json(
        &host
            .cronix(&[
                "global-status",
                "--crontab-path",
                tab.to_str().unwrap(),
                "--spec-dir",
                spec_dir.to_str().unwrap(),
                "-o",
                "json",
            ])
            .assert()
            .code(0),
    );
    assert_eq!(
        doc["jobs"],
        Value::Array(vec![]),
        "today's shape: the jobs of one target"
    );
    assert_eq!(doc["backend"], "crontab", "{doc}");
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: crontab_bin must be a root-owned binary"
)]
fn a_backend_past_its_deadline_is_an_error_row_and_the_others_still_report() {
    // A crontab(1) that hangs: the config's crontab_bin, root-owned and under a directory no other
    // user may write (the binary rule), so this runs as root only.
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: needs root (crontab_bin must be owned by root)");
        return;
    }
    let host = Host::new();
    let bin_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("crontab");
    std::fs::write(&bin, "#!/bin/sh\nsleep 3\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = host.path("cronix.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\ncrontab_bin: {}\nbackends:\n  - name: slow\n    type: crontab\n    crontab_user: root\n  - name: spare\n    type: crontab\n    crontab_path: {}\n",
            bin.display(),
            host.path("tabs/empty").display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = host
        .cronix(&[
            "--config",
            config.to_str().unwrap(),
            "global-status",
            "--per-backend-timeout",
            "500ms",
            "--parallel",
            "2",
            "-o",
            "json",
        ])
        .assert()
        .code(0);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    let doc = json(&out);
    assert_eq!(rows(&doc), [("slow", "error"), ("spare", "empty")]);
    assert!(
        doc["backends"][0]["error"]
            .as_str()
            .unwrap()
            .contains("--per-backend-timeout"),
        "{doc}"
    );
}
