//! The reference tool's documented examples of its apply, plan, drift, list, show and validate pages,
//! run as written with their paths moved into a temp dir: the crontab path on the command line, the
//! spec dir to a temp one, the state and lock dirs through the operator config. Each gets the
//! reference's exit code and effect, and its JSON the reference's keys (`jq -e .noop`-style gates) next
//! to cronix's own; the lints follow what the reference SDK's adapters really do.

use crate::reconcile_support;
use crate::support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use reconcile_support::{cronix_bin, json_of, stderr_of, stdout_of};
use serde_json::{Value, json};
use support::{Reply, Server};
use tempfile::TempDir;

/// A temp dir standing in for the reference pages' working directory and `/tmp`, with an operator
/// config that moves the default spec, state and lock dirs into it.
struct Page {
    dir: TempDir,
}

impl Page {
    fn new() -> Page {
        Page::with_config("")
    }

    fn with_config(extra: &str) -> Page {
        let page = Page {
            dir: tempfile::tempdir().unwrap(),
        };
        let root = page.root().display().to_string();
        std::fs::write(
            page.config(),
            format!(
                "state_dir: {root}/state\nlock_dir: {root}/locks\ntrigger_bin: /usr/local/bin/cronix\n\
                 run_as: {}\n{extra}",
                cronix::shell::passwd::current_user()
            ),
        )
        .unwrap();
        page
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn config(&self) -> PathBuf {
        self.root().join("cronix.yaml")
    }
    fn crontab(&self) -> String {
        self.root().join("cronix.crontab").display().to_string()
    }
    fn spec_dir(&self) -> String {
        self.root().join("jobs").display().to_string()
    }

    /// The billing manifest of the reference's pages, at `./billing.cronix.json`.
    fn billing(&self, refs: &[&str]) {
        let job = |name: &str, schedule: &str| {
            json!({
                "name": name,
                "schedules": [schedule],
                "request": {"method": "POST", "url": format!("https://billing.example.com/cron/{name}"),
                            "headers": {"Content-Type": "application/json"}, "body": "{}"},
                "auth": {"secret_refs": refs},
            })
        };
        let doc = json!({"version": 1, "app": "billing", "jobs": [
            job("reconcile-payments", "*/15 * * * *"),
            job("send-invoices", "0 9 * * MON"),
        ]});
        std::fs::write(
            self.root().join("billing.cronix.json"),
            serde_json::to_vec_pretty(&doc).unwrap(),
        )
        .unwrap();
    }

    /// `cronix <words…>` run in the page's directory, `/tmp/cronix.crontab` and `--spec-dir` moved
    /// into it, with its config (and no other cronix setting from the environment).
    fn run(&self, words: &[&str]) -> Command {
        let crontab = self.crontab();
        let spec_dir = self.spec_dir();
        let words: Vec<String> = words
            .iter()
            .map(|w| match *w {
                "/tmp/cronix.crontab" => crontab.clone(),
                "/tmp/jobs" => spec_dir.clone(),
                other => other.to_string(),
            })
            .collect();
        let mut cmd = Command::new(cronix_bin());
        cmd.current_dir(self.root())
            .args(&words)
            .env("CRONIX_CONFIG", self.config())
            .env("HOME", self.root())
            .env("TZ", "UTC");
        cmd
    }

    fn crontab_text(&self) -> String {
        std::fs::read_to_string(self.crontab()).unwrap_or_default()
    }
}

const APPLY: &[&str] = &[
    "apply",
    "crontab",
    "--manifest",
    "./billing.cronix.json",
    "--crontab-path",
    "/tmp/cronix.crontab",
    "--spec-dir",
    "/tmp/jobs",
];
const PLAN: &[&str] = &[
    "plan",
    "--manifest",
    "./billing.cronix.json",
    "--crontab-path",
    "/tmp/cronix.crontab",
    "--spec-dir",
    "/tmp/jobs",
];

fn with(base: &[&str], more: &[&'static str]) -> Vec<&'static str> {
    let mut all: Vec<&str> = base.to_vec();
    all.extend_from_slice(more);
    all.into_iter()
        .map(|w| &*Box::leak(w.to_string().into_boxed_str()))
        .collect()
}

fn owned_entries(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("# cronix:owned app=billing "))
        .count()
}

#[test]
fn the_apply_pages_example_applies_a_manifest_whose_jobs_name_env_refs_without_secret_ref() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    let first = page.run(&with(APPLY, &["-o", "json"])).assert().success();
    let doc = json_of(&first);
    assert_eq!(doc["backend"], "crontab", "{doc}");
    assert_eq!(
        (
            &doc["created"],
            &doc["updated"],
            &doc["deleted"],
            &doc["skipped"]
        ),
        (&json!(2), &json!(0), &json!(0), &json!(0)),
        "{doc}"
    );
    assert_eq!(owned_entries(&page.crontab_text()), 2);
    let spec: Value = serde_json::from_slice(
        &std::fs::read(Path::new(&page.spec_dir()).join("billing.send-invoices.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["secret_refs"], json!(["env:CRON_SECRET"]), "{spec}");
    let before = page.crontab_text();
    let again = page.run(&with(APPLY, &["-o", "json"])).assert().success();
    let doc = json_of(&again);
    assert_eq!(
        (&doc["noop"], &doc["created"], &doc["skipped"]),
        (&json!(true), &json!(0), &json!(2)),
        "{doc}"
    );
    assert_eq!(page.crontab_text(), before, "a no-op apply writes nothing");
}

#[test]
fn a_file_ref_still_needs_the_operators_word_and_the_error_names_the_flag() {
    let page = Page::new();
    page.billing(&["file:/etc/cronix/billing.key"]);
    let out = page.run(APPLY).assert().code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("--secret-ref file:/etc/cronix/billing.key")
            && err.contains("secret_refs in cronix.yaml"),
        "{err}"
    );
    assert!(!Path::new(&page.crontab()).exists(), "nothing written");
    page.run(&with(
        APPLY,
        &["--secret-ref", "file:/etc/cronix/billing.key"],
    ))
    .assert()
    .success();
}

#[test]
fn with_another_apps_entries_on_the_target_env_refs_need_the_operators_word_again() {
    let page = Page::new();
    let other = json!({"version": 1, "app": "reports", "jobs": [{
        "name": "daily", "schedules": ["@daily"],
        "request": {"url": "https://reports.example.com/cron/daily"},
        "auth": {"secret_refs": ["env:REPORTS_SECRET"]}}]});
    std::fs::write(
        page.root().join("reports.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    page.run(&[
        "apply",
        "--manifest",
        "./reports.json",
        "--crontab-path",
        "/tmp/cronix.crontab",
        "--spec-dir",
        "/tmp/jobs",
    ])
    .assert()
    .success();
    page.billing(&["env:CRON_SECRET"]);
    let before = page.crontab_text();
    let out = page.run(APPLY).assert().code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("env:CRON_SECRET is not allowed")
            && err.contains("--secret-ref env:CRON_SECRET")
            && err.contains("reports"),
        "{err}"
    );
    assert_eq!(page.crontab_text(), before);
    page.run(&with(APPLY, &["--secret-ref", "env:CRON_SECRET"]))
        .assert()
        .success();
    assert_eq!(owned_entries(&page.crontab_text()), 2);
}

#[test]
fn plan_and_drift_json_carry_the_reference_keys_for_ci_gates() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    let planned = json_of(&page.run(&with(PLAN, &["-o", "json"])).assert().success());
    assert_eq!(
        (&planned["backend"], &planned["noop"]),
        (&json!("crontab"), &json!(false)),
        "{planned}"
    );
    let creates: Vec<&Value> = planned["ops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "entry")
        .collect();
    assert_eq!(creates.len(), 2, "{planned}");
    for op in &creates {
        assert_eq!(op["action"], "create");
        assert_eq!(op["app"], "billing");
        assert!(
            op["new_hash"].is_string() && op.get("old_hash").is_none(),
            "{op}"
        );
    }
    page.run(APPLY).assert().success();
    let noop = json_of(&page.run(&with(PLAN, &["-o", "json"])).assert().success());
    assert_eq!(noop["noop"], true, "{noop}");
    // Someone edits the schedule by hand: drift exits 5 and names the old and new hash.
    let text = page
        .crontab_text()
        .replacen("*/15 * * * *", "*/20 * * * *", 1);
    std::fs::write(page.crontab(), text).unwrap();
    let mut drift: Vec<&str> = PLAN.to_vec();
    drift[0] = "drift";
    let out = page
        .run(&with(&drift, &["--exit-on-drift", "-o", "json"]))
        .assert()
        .code(5);
    let doc = json_of(&out);
    assert_eq!(doc["noop"], false, "{doc}");
    let op = &doc["ops"][0];
    assert_eq!(
        (&op["action"], &op["job"]),
        (&json!("update"), &json!("reconcile-payments")),
        "{doc}"
    );
    assert!(
        op["old_hash"].is_string() && op["new_hash"].is_string(),
        "{op}"
    );
    assert!(
        op["before"].as_str().unwrap().starts_with("*/20 * * * *"),
        "the line as installed: {op}"
    );
}

#[test]
fn list_json_has_backend_and_entries_with_index_and_hash() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    page.run(APPLY).assert().success();
    let doc = json_of(
        &page
            .run(&[
                "list",
                "--crontab-path",
                "/tmp/cronix.crontab",
                "--spec-dir",
                "/tmp/jobs",
                "-o",
                "json",
            ])
            .assert()
            .success(),
    );
    assert_eq!(doc["backend"], "crontab", "{doc}");
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert!(
            e["app"] == "billing"
                && e["index"] == 0
                && e["hash"].is_string()
                && e["job"].is_string(),
            "{e}"
        );
    }
}

#[test]
fn show_of_a_job_never_deployed_exits_0_and_says_not_installed() {
    let page = Page::new();
    let out = page
        .run(&[
            "show",
            "billing.never-deployed",
            "--crontab-path",
            "/tmp/cronix.crontab",
        ])
        .assert()
        .success();
    assert!(
        stdout_of(&out).contains("not installed"),
        "{}",
        stdout_of(&out)
    );
    let doc = json_of(
        &page
            .run(&[
                "show",
                "billing.never-deployed",
                "--crontab-path",
                "/tmp/cronix.crontab",
                "-o",
                "json",
            ])
            .assert()
            .success(),
    );
    assert_eq!(
        (&doc["installed"], &doc["status"]),
        (&json!(false), &json!("not installed")),
        "{doc}"
    );
}

#[test]
fn validate_takes_o_yaml_and_says_ok() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    let out = page
        .run(&["validate", "./billing.cronix.json", "-o", "yaml"])
        .assert()
        .success();
    let doc: Value = serde_yaml::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(
        (&doc["ok"], &doc["app"], &doc["jobs"]),
        (&json!(true), &json!("billing"), &json!(2)),
        "{doc}"
    );
    let json = json_of(
        &page
            .run(&["validate", "./billing.cronix.json", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(doc, json, "YAML and JSON carry one document");
}

#[test]
fn every_command_with_json_output_also_prints_it_as_yaml() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    page.run(APPLY).assert().success();
    let target = [
        "--crontab-path",
        "/tmp/cronix.crontab",
        "--spec-dir",
        "/tmp/jobs",
    ];
    let commands: Vec<Vec<&str>> = vec![
        with(PLAN, &[]),
        with(&["drift", "--manifest", "./billing.cronix.json"], &target),
        with(&["list"], &target),
        with(&["show", "billing.send-invoices"], &target),
        with(&["global-status"], &target),
        vec!["next", "*/15 * * * *"],
        vec!["version"],
    ];
    for words in commands {
        let json = json_of(&page.run(&with(&words, &["-o", "json"])).assert().success());
        let yaml_out = page.run(&with(&words, &["-o", "yaml"])).assert().success();
        let yaml: Value = serde_yaml::from_str(&stdout_of(&yaml_out))
            .unwrap_or_else(|e| panic!("{words:?}: {e}: {}", stdout_of(&yaml_out)));
        // Times computed at each run (next fires) may move on between the two runs.
        let strip = |mut v: Value| {
            strip_times(&mut v);
            v
        };
        assert_eq!(strip(yaml), strip(json), "{words:?}");
    }
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.contains("next") && !k.contains("left"));
            map.values_mut().for_each(strip_times);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_times),
        _ => {}
    }
}

#[test]
fn plan_and_drift_without_spec_dir_follow_the_spec_dir_the_entries_name() {
    let page = Page::new();
    page.billing(&["env:CRON_SECRET"]);
    page.run(APPLY).assert().success();
    let base = [
        "--manifest",
        "./billing.cronix.json",
        "--crontab-path",
        "/tmp/cronix.crontab",
    ];
    let plan = json_of(
        &page
            .run(&with(&with(&["plan"], &base), &["-o", "json"]))
            .assert()
            .success(),
    );
    assert_eq!(plan["noop"], true, "{plan}");
    page.run(&with(&with(&["drift"], &base), &["--exit-on-drift"]))
        .assert()
        .success();
    let again = page.crontab_text();
    page.run(&with(&["apply"], &base)).assert().success();
    assert_eq!(page.crontab_text(), again, "apply keeps the spec dir too");
}

#[test]
fn lints_follow_what_the_sdk_adapters_really_do() {
    let page = Page::new();
    let job = |name: &str, method: &str, headers: Value| {
        json!({"name": name, "schedules": ["@daily"],
               "request": {"method": method, "url": format!("https://billing.example.com/{name}"),
                           "headers": headers, "body": "{}"},
               "auth": {"secret_refs": ["env:CRON_SECRET"]}})
    };
    let doc = json!({"version": 1, "app": "billing", "jobs": [
        job("purge", "DELETE", json!({"Content-Type": "application/json"})),
        job("untyped", "POST", json!({})),
        job("peek", "GET", json!({"Content-Type": "application/json"})),
    ]});
    std::fs::write(page.root().join("m.json"), doc.to_string()).unwrap();
    let out = page.run(&["validate", "./m.json"]).assert().success();
    let err = stderr_of(&out);
    assert!(
        !err.contains("job purge"),
        "DELETE bodies are verified: {err}"
    );
    assert!(
        err.contains("job untyped") && err.contains("\"Content-Type\": \"application/json\""),
        "{err}"
    );
    assert!(err.contains("job peek: a GET job has a body"), "{err}");
}

#[test]
fn a_manifest_url_with_a_query_is_warned_about_and_its_401_names_the_query() {
    let server = Server::start(vec![Reply::status(401)]);
    let page = Page::with_config("secret_refs: [\"env:OPERATOR_SECRET\"]\n");
    let url = server.url("/.well-known/cron-manifest?v=2");
    let out = page
        .run(&["validate", &url])
        .env("OPERATOR_SECRET", "op-secret")
        .assert()
        .code(4);
    let err = stderr_of(&out);
    assert!(
        err.contains("warning") && err.contains("query string"),
        "warned before the fetch: {err}"
    );
    assert!(
        err.contains("HTTP 401") && err.contains("the URL's query string is a likely cause"),
        "{err}"
    );
}

#[test]
fn a_fetch_whose_refs_resolve_to_nothing_says_which_and_why() {
    let server = Server::start(vec![Reply::status(200).body("{}")]);
    let page = Page::with_config("secret_refs: [\"env:FIRST_UNSET\", \"env:SECOND\"]\n");
    let url = server.url("/.well-known/cron-manifest");
    let out = page
        .run(&["validate", &url])
        .env("SECOND", "s2")
        .assert()
        .code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("env:FIRST_UNSET is not set") && err.contains("signed with the next one"),
        "the skipped ref is warned about: {err}"
    );
    let out = page.run(&["validate", &url]).assert().code(1);
    let err = stderr_of(&out);
    assert!(
        err.contains("every secret reference resolved to nothing")
            && err.contains("env:SECOND is not set")
            && !err.contains("set secret_refs in cronix.yaml"),
        "{err}"
    );
}
