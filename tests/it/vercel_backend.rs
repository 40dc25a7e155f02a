//! The vercel backend on a temp `vercel.json`, through the real binary: apply writes the owned
//! entries of `crons` and keeps every other byte (foreign keys, foreign entries, formatting); a
//! no-op apply writes nothing; apps share the file; removed jobs, prune and drift touch only the
//! app's own entries; what Vercel cannot run is refused before any write; a file the reference
//! tool wrote (one `<prefix><job>` entry per apply) is taken over without duplicates.

use crate::reconcile_support;

use std::path::PathBuf;

use reconcile_support::{Env, identity, stderr_of, stdout_of};
use serde_json::{Value, json};

/// A project dir holding `vercel.json`, and the flags that point cronix at it.
struct Project {
    env: Env,
}

impl Project {
    fn new() -> Project {
        Project { env: Env::new() }
    }

    fn json_path(&self) -> PathBuf {
        self.env.root().join("vercel.json")
    }

    fn seed(&self, text: &str) {
        std::fs::write(self.json_path(), text).unwrap();
    }

    fn text(&self) -> String {
        std::fs::read_to_string(self.json_path()).unwrap()
    }

    fn cmd(&self, sub: &str, args: &[&str]) -> assert_cmd::Command {
        let path = self.json_path().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--backend", "vercel", "--vercel-json-path", &path]);
        let mut cmd = self.env.cmd(sub, &all);
        cmd.current_dir(self.env.root());
        cmd
    }

    fn apply(&self, manifest: &str) -> assert_cmd::assert::Assert {
        self.cmd("apply", &["--manifest", manifest]).assert()
    }

    /// A manifest of GET jobs (what Vercel sends), written as a file.
    fn manifest(&self, app: &str, jobs: &[(&str, &[&str])]) -> String {
        self.manifest_of(app, &get_jobs(app, jobs))
    }

    fn manifest_of(&self, app: &str, jobs: &Value) -> String {
        let doc = json!({"version": 1, "app": app, "jobs": jobs});
        self.env.manifest(&format!("{app}.json"), &doc)
    }
}

fn get_jobs(app: &str, jobs: &[(&str, &[&str])]) -> Value {
    jobs.iter()
        .map(|(name, schedules)| {
            json!({
                "name": name,
                "schedules": schedules,
                "request": {
                    "method": "GET",
                    "url": format!("https://{app}.example.com/api/v1/scheduled/{app}/{name}"),
                },
            })
        })
        .collect()
}

/// The (path, schedule) pairs of `crons`, in file order.
fn crons(text: &str) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["crons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default().to_string(),
                c["schedule"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pair(path: &str, schedule: &str) -> (String, String) {
    (path.to_string(), schedule.to_string())
}

const HEAD: &str = "{\n    \"$schema\": \"https://openapi.vercel.sh/vercel.json\",\n    \"framework\":\"nextjs\",\n    \"crons\": [\n";
const FOREIGN: &str = "        { \"schedule\" : \"0 3 * * *\",  \"path\": \"/api/cleanup\" }";
const TAIL: &str = "\n    ],\n    \"regions\": [ \"fra1\",\"iad1\" ]\n}\n";

#[test]
fn apply_writes_owned_entries_and_keeps_every_other_byte() {
    let p = Project::new();
    p.seed(&format!("{HEAD}{FOREIGN}{TAIL}"));
    let m = p.manifest(
        "billing",
        &[
            ("settle", &["*/15 * * * *", "0 2 * * *"]),
            ("invoice", &["0 * * * *"]),
        ],
    );
    p.apply(&m).success();
    let text = p.text();
    assert!(text.starts_with(&format!("{HEAD}{FOREIGN},\n")), "{text}");
    assert!(text.ends_with(TAIL), "{text}");
    assert_eq!(
        crons(&text),
        [
            pair("/api/cleanup", "0 3 * * *"),
            pair("/api/v1/scheduled/billing/invoice", "0 * * * *"),
            pair("/api/v1/scheduled/billing/settle", "*/15 * * * *"),
            pair("/api/v1/scheduled/billing/settle", "0 2 * * *"),
        ]
    );
    // No spec files: Vercel calls the app itself.
    assert!(p.env.spec_files().is_empty());

    // The same manifest again writes nothing.
    let before = identity(&p.json_path());
    let bytes = p.text();
    let out = p.apply(&m).success();
    assert_eq!(identity(&p.json_path()), before, "{}", stdout_of(&out));
    assert_eq!(p.text(), bytes);
    p.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(0);
}

#[test]
fn a_missing_file_is_created_and_a_file_without_crons_gets_the_key() {
    let p = Project::new();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    assert_eq!(
        p.text(),
        "{\n  \"crons\": [\n    {\"path\": \"/api/v1/scheduled/billing/settle\", \"schedule\": \"0 2 * * *\"}\n  ]\n}\n"
    );

    let q = Project::new();
    q.seed("{\n  \"framework\": \"nextjs\"\n}\n");
    let m = q.manifest("billing", &[("settle", &["0 2 * * *"])]);
    q.apply(&m).success();
    assert_eq!(
        q.text(),
        "{\n  \"framework\": \"nextjs\",\n  \"crons\": [\n    {\"path\": \"/api/v1/scheduled/billing/settle\", \"schedule\": \"0 2 * * *\"}\n  ]\n}\n"
    );
}

#[test]
fn apps_share_the_file_and_a_removed_job_goes() {
    let p = Project::new();
    p.seed(&format!("{HEAD}{FOREIGN}{TAIL}"));
    let billing = p.manifest(
        "billing",
        &[("settle", &["0 2 * * *"]), ("invoice", &["0 * * * *"])],
    );
    let reports = p.manifest("reports", &[("daily", &["30 6 * * *"])]);
    p.apply(&billing).success();
    p.apply(&reports).success();
    let both = p.text();
    assert_eq!(
        crons(&both),
        [
            pair("/api/cleanup", "0 3 * * *"),
            pair("/api/v1/scheduled/billing/invoice", "0 * * * *"),
            pair("/api/v1/scheduled/billing/settle", "0 2 * * *"),
            pair("/api/v1/scheduled/reports/daily", "30 6 * * *"),
        ]
    );
    // Re-applying one app leaves the file alone; a job it drops goes, the other app's stay.
    let before = identity(&p.json_path());
    p.apply(&billing).success();
    assert_eq!(identity(&p.json_path()), before);
    let fewer = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&fewer).success();
    assert_eq!(
        crons(&p.text()),
        [
            pair("/api/cleanup", "0 3 * * *"),
            pair("/api/v1/scheduled/billing/settle", "0 2 * * *"),
            pair("/api/v1/scheduled/reports/daily", "30 6 * * *"),
        ]
    );
    assert!(p.text().starts_with(&format!("{HEAD}{FOREIGN},\n")));
    assert!(p.text().ends_with(TAIL));
}

#[test]
fn prune_removes_only_the_apps_own_entries() {
    let p = Project::new();
    p.seed(&format!("{HEAD}{FOREIGN}{TAIL}"));
    p.apply(&p.manifest("billing", &[("settle", &["0 2 * * *"])]))
        .success();
    p.apply(&p.manifest("reports", &[("daily", &["30 6 * * *"])]))
        .success();
    p.cmd("prune", &["--app", "billing", "--yes"])
        .assert()
        .success();
    assert_eq!(
        crons(&p.text()),
        [
            pair("/api/cleanup", "0 3 * * *"),
            pair("/api/v1/scheduled/reports/daily", "30 6 * * *"),
        ]
    );
    p.cmd("prune", &["--yes"]).assert().success();
    assert_eq!(
        p.text(),
        format!("{HEAD}{FOREIGN}{TAIL}"),
        "pruning every app gives back the file as it was"
    );
}

#[test]
fn a_hand_edited_schedule_is_drift_and_apply_puts_it_back() {
    let p = Project::new();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    let applied = p.text();
    p.seed(&applied.replace("0 2 * * *", "0 4 * * *"));
    let out = p
        .cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(5);
    assert!(stdout_of(&out).contains("settle"), "{}", stdout_of(&out));
    p.apply(&m).success();
    assert_eq!(p.text(), applied);
    p.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(0);
}

#[test]
fn what_vercel_cannot_run_is_refused_before_any_write() {
    let p = Project::new();
    p.seed(&format!("{HEAD}{FOREIGN}{TAIL}"));
    let seeded = p.text();
    let mut zoned = get_jobs("billing", &[("settle", &["0 2 * * *"])]);
    zoned[0]["timezone"] = json!("Europe/Paris");
    let mut posted = get_jobs("billing", &[("settle", &["0 2 * * *"])]);
    posted[0]["request"]["method"] = json!("POST");
    let cases = [
        (zoned, "Europe/Paris"),
        (
            get_jobs("billing", &[("settle", &["@every 5m"])]),
            "@every 5m",
        ),
        (get_jobs("billing", &[("settle", &["@daily"])]), "@daily"),
        (
            get_jobs("billing", &[("settle", &["0 2 * * MON"])]),
            "0 2 * * MON",
        ),
        (posted, "POST"),
    ];
    for (jobs, named) in cases {
        let m = p.manifest_of("billing", &jobs);
        for sub in ["apply", "plan"] {
            let out = p.cmd(sub, &["--manifest", &m]).assert().failure();
            let err = stderr_of(&out);
            assert!(
                err.contains("job settle") && err.contains(named),
                "{sub} {named}: {err}"
            );
        }
        assert_eq!(p.text(), seeded, "{named}");
    }
    let q = Project::new();
    let m = q.manifest("billing", &[("settle", &["@hourly"])]);
    q.apply(&m).failure();
    assert!(!q.json_path().exists());
}

#[test]
fn a_file_the_reference_wrote_is_taken_over_without_duplicates() {
    let p = Project::new();
    // The reference writes `<prefix><job>` and appends on every apply.
    p.seed(
        "{\n  \"crons\": [\n    {\"path\": \"/api/cleanup\", \"schedule\": \"0 3 * * *\"},\n    \
         {\"path\": \"/api/v1/scheduled/settle\", \"schedule\": \"0 2 * * *\"},\n    \
         {\"path\": \"/api/v1/scheduled/settle\", \"schedule\": \"0 2 * * *\"},\n    \
         {\"path\": \"/api/v1/scheduled/other\", \"schedule\": \"0 5 * * *\"},\n    \
         {\"path\": \"/api/v1/scheduled/settle\", \"schedule\": \"0 2 * * *\"}\n  ]\n}\n",
    );
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    assert_eq!(
        crons(&p.text()),
        [
            pair("/api/cleanup", "0 3 * * *"),
            // A reference entry of a job this app does not have may be another app's: kept.
            pair("/api/v1/scheduled/other", "0 5 * * *"),
            pair("/api/v1/scheduled/billing/settle", "0 2 * * *"),
        ]
    );
    let before = identity(&p.json_path());
    p.apply(&m).success();
    assert_eq!(identity(&p.json_path()), before);
}

#[test]
fn a_broken_file_is_never_rewritten() {
    let p = Project::new();
    for broken in ["{\"crons\": [", "{\"crons\": {}}", "[]"] {
        p.seed(broken);
        let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
        let out = p.apply(&m).failure();
        assert!(stderr_of(&out).contains("by hand"), "{}", stderr_of(&out));
        assert_eq!(p.text(), broken);
    }
}

#[test]
fn another_backends_spec_files_are_never_touched() {
    let p = Project::new();
    // The same app on the crontab of this env: its spec files live in the shared spec dir.
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.env.apply(&m).success();
    let specs = p.env.spec_files();
    assert_eq!(specs.len(), 1, "{specs:?}");
    p.apply(&m).success();
    p.cmd("prune", &["--app", "billing", "--yes"])
        .assert()
        .success();
    p.cmd("prune", &["--yes"]).assert().success();
    assert_eq!(p.env.spec_files(), specs);
    assert_eq!(crons(&p.text()), []);
    assert!(p.env.crontab_text().contains("settle"));
}

#[test]
fn the_lock_sits_beside_the_file_and_a_crashed_rewrite_is_cleaned_up() {
    let p = Project::new();
    let leftover = p.env.root().join(".vercel.json.cronix-tmpAbC123");
    std::fs::write(&leftover, "{\"half").unwrap();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    assert!(!leftover.exists());
    assert!(p.env.root().join(".vercel.json.cronix-apply.lock").exists());
    let names = reconcile_support::names_in(p.env.root());
    assert!(!names.iter().any(|n| n.contains("cronix-tmp")), "{names:?}");
}

#[test]
fn list_shows_the_entries_and_history_has_no_runs_of_its_own() {
    let p = Project::new();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *", "*/5 * * * *"])]);
    p.apply(&m).success();
    let out = p.cmd("list", &["-o", "json"]).assert().success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{doc}");
    assert_eq!(entries[1]["schedule"], "*/5 * * * *");
    // Vercel records the runs (its dashboard); cronix has none and says so without failing.
    let out = p.cmd("history", &["billing.settle"]).assert().success();
    assert!(
        stdout_of(&out)
            .to_lowercase()
            .contains("no runs of billing.settle"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn status_views_read_vercel_entries_in_utc_as_installed() {
    let p = Project::new();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    // Vercel fires in UTC whatever this host's zone: next fires are 02:00Z.
    let out = p
        .cmd("list", &["-o", "json"])
        .env("TZ", "Europe/Paris")
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let next = doc["entries"][0]["next_fire"].as_str().unwrap();
    assert!(next.ends_with("T02:00:00Z"), "{doc}");
    // No spec file to compare with: each entry reads as installed, never as an orphan to prune.
    let out = p
        .cmd("global-status", &["-o", "json", "--strict"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let job = &doc["jobs"][0];
    assert_eq!(job["job"], "settle", "{doc}");
    assert_eq!(job["entries"][0]["state"], "in-sync", "{doc}");
    assert!(job["error"].is_null(), "{doc}");
    assert_eq!(job["schedules"], json!(["0 2 * * *"]), "{doc}");
    let out = p.cmd("show", &["billing.settle"]).assert().success();
    let text = stdout_of(&out);
    assert!(
        text.contains("entry idx 0: in-sync") && text.contains("keeps no spec files"),
        "{text}"
    );
}

#[test]
fn the_config_names_the_file_and_prefix_and_flags_win() {
    let p = Project::new();
    let other = p.env.root().join("site.json");
    std::fs::write(
        p.env.root().join("cronix.yaml"),
        format!(
            "vercel:\n  json_path: {}\n  trigger_prefix: /cron\n",
            other.display()
        ),
    )
    .unwrap();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.env
        .cmd("apply", &["--backend", "vercel", "--manifest", &m])
        .assert()
        .success();
    assert_eq!(
        crons(&std::fs::read_to_string(&other).unwrap()),
        [pair("/cron/billing/settle", "0 2 * * *")]
    );
    assert!(!p.json_path().exists());
    p.cmd(
        "apply",
        &["--manifest", &m, "--vercel-trigger-prefix", "/jobs/"],
    )
    .assert()
    .success();
    assert_eq!(
        crons(&p.text()),
        [pair("/jobs/billing/settle", "0 2 * * *")]
    );
    let out = p
        .cmd(
            "apply",
            &["--manifest", &m, "--vercel-trigger-prefix", "jobs/../x"],
        )
        .assert()
        .failure();
    assert!(
        stderr_of(&out).contains("--vercel-trigger-prefix"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn doctor_checks_the_file_not_a_shim() {
    let p = Project::new();
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    p.apply(&m).success();
    // (Other checks, such as the test's trigger binary, are not this backend's.)
    let out = p.cmd("doctor", &["-o", "json"]).assert();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let vercel = reconcile_support::check(&doc, "vercel");
    assert_eq!(vercel["status"], "ok", "{doc}");
    let jobs = reconcile_support::check(&doc, "jobs");
    assert_eq!(jobs["status"], "ok", "{doc}");
    p.seed("{\"crons\": 5}");
    let out = p.cmd("doctor", &["-o", "json"]).assert();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let vercel = reconcile_support::check(&doc, "vercel");
    assert_eq!(vercel["status"], "fail", "{doc}");
    assert!(
        vercel["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("by hand"),
        "{doc}"
    );
}

#[test]
fn a_job_needs_no_secret_reference_nor_a_shim_url() {
    let p = Project::new();
    // No operator refs, a job without refs, a plain-http URL: the shim's rules, not Vercel's.
    let mut jobs = get_jobs("billing", &[("settle", &["0 2 * * *"])]);
    jobs[0]["request"]["url"] = json!("http://billing.internal/api/v1/scheduled/billing/settle");
    let m = p.manifest_of("billing", &jobs);
    let path = p.json_path().display().to_string();
    let state = p.env.state_dir().display().to_string();
    let locks = p.env.lock_dir().display().to_string();
    p.env
        .cmd_plain(&[
            "apply",
            "vercel",
            "--manifest",
            &m,
            "--vercel-json-path",
            &path,
            "--state-dir",
            &state,
            "--lock-dir",
            &locks,
        ])
        .assert()
        .success();
    assert_eq!(
        crons(&p.text()),
        [pair("/api/v1/scheduled/billing/settle", "0 2 * * *")]
    );
}

#[test]
fn a_foreign_element_at_an_owned_path_is_refused_not_doubled() {
    let p = Project::new();
    let text = "{\"crons\": [{\"path\": \"/api/v1/scheduled/billing/settle\", \"schedule\": \"0 1 * * *\", \"note\": \"by hand\"}]}";
    p.seed(text);
    let m = p.manifest("billing", &[("settle", &["0 2 * * *"])]);
    let out = p.apply(&m).failure();
    assert!(
        stderr_of(&out).contains("crons[0]") && stderr_of(&out).contains("by hand"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(p.text(), text);
}
