//! Reconciling into a crontab file: foreign lines stay byte-identical, a second apply writes nothing,
//! apps sharing a file never touch each other, orphaned markers and the reference tool's entries are
//! handled, and plan, drift, list, show and prune report what they should.

use crate::reconcile_support;

use std::os::unix::fs::PermissionsExt;

use reconcile_support::*;
use serde_json::json;

/// Foreign content with everything that must survive: a variable with CRLF, a comment, a blank line,
/// tabs, invalid UTF-8, and no final newline.
const FOREIGN: &[u8] =
    b"MAILTO=ops@example.com\r\n# keep me\n\n0 3 * * *\troot\t/usr/bin/backup --all\n\xff\xfe bytes\nSHELL=/bin/sh";

/// An env with app billing's one job `settle` (`0 2 * * *`) applied, and the manifest's path.
fn settle_applied() -> (Env, String) {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&m).success();
    (env, m)
}

#[test]
fn foreign_lines_are_byte_identical_after_apply_update_and_prune() {
    let env = Env::new();
    std::fs::write(env.crontab(), FOREIGN).unwrap();
    let v1 = env.manifest(
        "v1.json",
        &manifest("billing", &[("settle", &["0 2 * * *", "30 14 * * 1-5"])]),
    );
    env.apply(&v1).success();
    let after_apply = env.read_crontab();
    let mut expected_prefix = FOREIGN.to_vec();
    expected_prefix.push(b'\n');
    assert!(after_apply.starts_with(&expected_prefix));
    assert_eq!(owned_lines(&env.crontab_text(), "billing").len(), 4);

    // The operator adds more foreign lines after the entries; an update keeps them and the entries'
    // place.
    let mut edited = after_apply.clone();
    edited.extend_from_slice(b"# after\r\n@reboot /bin/true\n");
    std::fs::write(env.crontab(), &edited).unwrap();
    let v2 = env.manifest(
        "v2.json",
        &manifest("billing", &[("settle", &["0 3 * * *", "30 14 * * 1-5"])]),
    );
    env.apply(&v2).success();
    let after_update = env.read_crontab();
    assert!(after_update.starts_with(&expected_prefix));
    assert!(after_update.ends_with(b"# after\r\n@reboot /bin/true\n"));
    let text = env.crontab_text();
    assert!(
        text.contains(&format!(
            "0 3 * * * {} {TRIGGER_BIN} trigger --spec-dir {} billing.settle\n",
            cronix::shell::passwd::current_user(),
            env.spec_dir().display()
        )),
        "{text}"
    );
    assert_eq!(owned_lines(&text, "billing").len(), 4);

    env.cmd("prune", &["--yes"]).assert().success();
    let mut expected = expected_prefix.clone();
    expected.extend_from_slice(b"# after\r\n@reboot /bin/true\n");
    assert_eq!(env.read_crontab(), expected);
    assert!(env.spec_files().is_empty(), "{:?}", env.spec_files());
}

#[test]
fn a_second_apply_writes_nothing_and_says_so() {
    let env = Env::new();
    // The secret the fires sign with comes from the crontab's environment (so apply has no dead
    // job to warn about).
    std::fs::write(
        env.crontab(),
        b"# foreign\nCRONIX_TEST_SECRET=from-the-crontab\n",
    )
    .unwrap();
    let m = env.manifest(
        "m.json",
        &manifest(
            "billing",
            &[("settle", &["0 2 * * *"]), ("report", &["@daily"])],
        ),
    );
    env.apply(&m).success();
    let spec = env.spec_dir().join("billing.settle.json");
    for path in [env.crontab(), spec.clone()] {
        age(&path);
    }
    let before = (
        identity(&env.crontab()),
        identity(&spec),
        names_in(env.crontab().parent().unwrap()),
        names_in(&env.spec_dir()),
        env.audit_lines(),
    );

    let second = env.apply(&m).success();
    assert!(
        stdout_of(&second).contains("nothing changed"),
        "{}",
        stdout_of(&second)
    );
    assert_eq!(stderr_of(&second), "");
    let after = (
        identity(&env.crontab()),
        identity(&spec),
        names_in(env.crontab().parent().unwrap()),
        names_in(&env.spec_dir()),
        env.audit_lines(),
    );
    assert_eq!(before, after);
    assert_eq!(after.4, 1, "only the first apply is audited");
}

#[test]
fn two_apps_sharing_one_file_never_touch_each_other() {
    let env = Env::new();
    let a1 = env.manifest(
        "a1.json",
        &manifest("alpha", &[("one", &["0 1 * * *"]), ("two", &["0 2 * * *"])]),
    );
    let b = env.manifest("b.json", &manifest("beta", &[("one", &["5 1 * * *"])]));
    env.apply(&a1).success();
    env.apply(&b).success();
    let beta_lines: Vec<String> = owned_lines(&env.crontab_text(), "beta")
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(beta_lines.len(), 2);

    // alpha drops a job and changes the other: beta's entry and spec stay as they were.
    let beta_spec = std::fs::read(env.spec_dir().join("beta.one.json")).unwrap();
    let a2 = env.manifest("a2.json", &manifest("alpha", &[("one", &["0 4 * * *"])]));
    env.apply(&a2).success();
    let text = env.crontab_text();
    assert_eq!(owned_lines(&text, "beta"), beta_lines);
    assert_eq!(owned_lines(&text, "alpha").len(), 2);
    assert!(!text.contains("alpha.two"));
    assert!(!env.spec_dir().join("alpha.two.json").exists());
    assert_eq!(
        std::fs::read(env.spec_dir().join("beta.one.json")).unwrap(),
        beta_spec
    );

    env.cmd("prune", &["--app", "alpha", "--yes"])
        .assert()
        .success();
    let text = env.crontab_text();
    assert_eq!(owned_lines(&text, "beta"), beta_lines);
    assert!(owned_lines(&text, "alpha").is_empty());
    assert_eq!(names_in(&env.spec_dir()), vec!["beta.one.json"]);
}

#[test]
fn an_orphaned_marker_takes_no_foreign_line_with_it() {
    let env = Env::new();
    let orphan = "# cronix:owned app=billing job=settle hash=0123456789abcdef idx=0\n";
    let other_orphan = "# cronix:owned app=other job=x hash=0123456789abcdef idx=0\n";
    let original = format!("# my note\n{orphan}0 5 * * * root /bin/other\n{other_orphan}");
    std::fs::write(env.crontab(), &original).unwrap();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );

    let drift = env
        .cmd("drift", &["--manifest", &m, "-o", "json"])
        .assert()
        .success();
    let kinds: Vec<String> = json_of(&drift)["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}/{}/{}", d["op"], d["kind"], d["drift"]))
        .collect();
    assert!(
        kinds.contains(&"\"delete\"/\"entry\"/\"orphaned\"".to_string()),
        "{kinds:?}"
    );

    env.apply(&m).success();
    let text = env.crontab_text();
    assert!(
        text.starts_with(&format!(
            "# my note\n0 5 * * * root /bin/other\n{other_orphan}"
        )),
        "{text}"
    );
    assert_eq!(owned_lines(&text, "billing").len(), 2);
    assert_eq!(text.matches("app=billing").count(), 1);
}

#[test]
fn the_reference_tools_entries_are_taken_over_without_duplicates() {
    let env = Env::new();
    let reference = "MAILTO=\"\"\n\
        0 2 * * * /usr/bin/cronix trigger billing.settle\n\
        # cronix:owned app=billing job=settle hash=0123456789abcdef idx=0\n\
        */5 * * * * /usr/bin/cronix trigger billing.settle\n\
        # cronix:owned app=billing job=settle hash=fedcba9876543210 idx=1\n\
        # tail\n";
    std::fs::write(env.crontab(), reference).unwrap();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *", "*/5 * * * *"])]),
    );
    let mut flags = vec!["--manifest", m.as_str(), "--crontab-format", "user"];
    let mut plan_flags = flags.clone();
    plan_flags.extend(["-o", "json"]);
    let plan = env.cmd("plan", &plan_flags).assert().success();
    let ops = json_of(&plan)["ops"].clone();
    let entry_ops: Vec<_> = ops
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "entry")
        .map(|o| (o["op"].clone(), o["idx"].clone(), o["drift"].clone()))
        .collect();
    assert_eq!(
        entry_ops,
        vec![
            (json!("update"), json!(0), json!("changed")),
            (json!("update"), json!(1), json!("changed")),
        ]
    );

    flags.truncate(4);
    env.cmd("apply", &flags).assert().success();
    let text = env.crontab_text();
    assert!(text.starts_with("MAILTO=\"\"\n"));
    assert!(text.ends_with("# tail\n"));
    assert_eq!(text.matches("trigger").count(), 2, "{text}");
    assert_eq!(text.matches("# cronix:owned").count(), 2, "{text}");
    assert!(text.contains(&format!(
        "*/5 * * * * {TRIGGER_BIN} trigger --spec-dir {} billing.settle\n",
        env.spec_dir().display()
    )));
}

#[test]
fn a_hand_edited_line_is_edited_drift_and_apply_repairs_it() {
    let (env, m) = settle_applied();
    let clean = env.crontab_text();
    std::fs::write(env.crontab(), clean.replacen("0 2 * * *", "0 4 * * *", 1)).unwrap();

    let drift = env
        .cmd(
            "drift",
            &["--manifest", &m, "--exit-on-drift", "-o", "json"],
        )
        .assert()
        .code(5);
    let doc = json_of(&drift);
    assert_eq!(doc["drifted"], true);
    assert_eq!(doc["drift"][0]["drift"], "edited");
    assert_eq!(doc["drift"][0]["idx"], 0);

    env.apply(&m).success();
    assert_eq!(env.crontab_text(), clean);
    env.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(0);
}

#[test]
fn a_changed_or_missing_spec_file_is_drift() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest(
            "billing",
            &[("settle", &["0 2 * * *"]), ("report", &["0 3 * * *"])],
        ),
    );
    env.apply(&m).success();
    std::fs::write(env.spec_dir().join("billing.settle.json"), b"{}").unwrap();
    std::fs::remove_file(env.spec_dir().join("billing.report.json")).unwrap();
    std::fs::write(env.spec_dir().join("billing.gone.json"), b"{}").unwrap();
    let drift = env
        .cmd(
            "drift",
            &["--manifest", &m, "--exit-on-drift", "-o", "json"],
        )
        .assert()
        .code(5);
    let got: Vec<String> = json_of(&drift)["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {} {} {}", d["op"], d["kind"], d["job"], d["drift"]))
        .collect();
    assert_eq!(
        got,
        vec![
            "\"delete\" \"spec\" \"gone\" \"orphaned\"",
            "\"update\" \"spec\" \"settle\" \"changed\"",
            "\"create\" \"spec\" \"report\" \"missing\"",
        ]
    );
    env.apply(&m).success();
    env.cmd("drift", &["--manifest", &m, "--exit-on-drift"])
        .assert()
        .code(0);
}

#[test]
fn plan_writes_nothing_and_dry_run_prints_the_same_plan() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *", "0 14 * * *"])]),
    );
    let plan = env
        .cmd("plan", &["--manifest", &m, "-o", "json"])
        .assert()
        .success();
    let dry = env
        .cmd("apply", &["--manifest", &m, "--dry-run", "-o", "json"])
        .assert()
        .success();
    assert_eq!(stdout_of(&plan), stdout_of(&dry));
    assert!(!env.crontab().exists());
    assert!(!env.spec_dir().exists());
    assert!(!env.state_dir().exists());

    let doc = json_of(&plan);
    assert_eq!(doc["app"], "billing");
    assert_eq!(doc["changed"], true);
    assert_eq!(
        doc["counts"],
        json!({"create": 3, "update": 0, "delete": 0})
    );
    let first = &doc["ops"][0];
    assert_eq!(first["op"], "create");
    assert_eq!(first["kind"], "entry");
    assert_eq!(first["job"], "settle");
    assert_eq!(first["idx"], 0);
    assert_eq!(first["drift"], "missing");
    assert_eq!(first["schedule"], "0 2 * * *");
    assert_eq!(first["hash"].as_str().unwrap().len(), 16);
    let next = first["next_fire"].as_str().unwrap();
    assert!(next.ends_with("T02:00:00Z"), "{next}");
    assert_eq!(doc["ops"][2]["kind"], "spec");
    assert!(doc["ops"][2].get("next_fire").is_none());

    let table = env.cmd("plan", &["--manifest", &m]).assert().success();
    assert!(stdout_of(&table).contains("3 to create, 0 to update, 0 to delete"));
}

#[test]
fn spec_files_hold_references_and_the_paths_apply_was_given() {
    let env = Env::new();
    let mut doc = manifest(
        "billing",
        &[("settle", &["0 2 * * *"]), ("dev", &["0 3 * * *"])],
    );
    doc["jobs"][1]["auth"] = json!({"secret_refs": ["raw:hunter2-dev-only"]});
    let m = env.manifest("m.json", &doc);
    let out = env
        .cmd(
            "apply",
            &["--manifest", &m, "--secret-ref", "raw:hunter2-dev-only"],
        )
        .assert()
        .success();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("job dev") && stderr.contains("raw:"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!env.crontab_text().contains("hunter2"));

    let settle_path = env.spec_dir().join("billing.settle.json");
    let settle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settle_path).unwrap()).unwrap();
    assert_eq!(settle["format"], 2);
    assert_eq!(settle["target"], json!(env.crontab().display().to_string()));
    assert_eq!(settle["app"], "billing");
    assert_eq!(settle["job"]["name"], "settle");
    assert_eq!(
        settle["secret_refs"],
        json!(["raw:hunter2-dev-only", SECRET_REF])
    );
    assert_eq!(settle["lock_dir"], env.lock_dir().display().to_string());
    assert_eq!(settle["state_dir"], env.state_dir().display().to_string());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&settle_path),
        0o600,
        "the operator's refs include a raw: literal"
    );
    assert_eq!(mode(&env.crontab()), 0o644);
}

#[test]
fn a_job_without_raw_refs_gets_a_spec_only_its_owner_reads() {
    let (env, _) = settle_applied();
    let meta = std::fs::metadata(env.spec_dir().join("billing.settle.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn an_existing_crontab_keeps_its_mode() {
    let env = Env::new();
    std::fs::write(env.crontab(), b"# x\n").unwrap();
    std::fs::set_permissions(env.crontab(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&m).success();
    let meta = std::fs::metadata(env.crontab()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn apply_records_one_audit_line_per_change() {
    let (env, m) = settle_applied();
    env.apply(&m).success();
    let text = std::fs::read_to_string(env.state_dir().join("audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["command"], "apply");
    assert_eq!(r["source"], m);
    assert_eq!(r["digest"].as_str().unwrap().len(), 64);
    assert_eq!(r["user"], cronix::shell::passwd::current_user());
    assert_eq!(r["ops"].as_array().unwrap().len(), 2);
    env.cmd("prune", &["--yes"]).assert().success();
    let text = std::fs::read_to_string(env.state_dir().join("audit.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("\"command\":\"prune\"")
    );
}

#[test]
fn prune_without_a_terminal_and_without_yes_refuses() {
    let (env, _) = settle_applied();
    let before = env.read_crontab();
    let out = env.cmd("prune", &[]).assert().code(2);
    assert!(stderr_of(&out).contains("--yes"));
    assert_eq!(env.read_crontab(), before);
    assert!(env.spec_dir().join("billing.settle.json").exists());
}

#[test]
fn list_and_show_report_owned_entries() {
    let env = Env::new();
    std::fs::write(env.crontab(), b"0 1 * * * root /bin/foreign\n").unwrap();
    let a = env.manifest(
        "a.json",
        &manifest("billing", &[("settle", &["0 2 * * *", "@hourly"])]),
    );
    let b = env.manifest(
        "b.json",
        &manifest("audit", &[("sweep", &["*/10 * * * *"])]),
    );
    env.apply(&a).success();
    env.apply(&b).success();

    let list = json_of(&env.cmd("list", &["-o", "json"]).assert().success());
    let rows: Vec<String> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {} {}", e["app"], e["job"], e["idx"], e["schedule"]))
        .collect();
    assert_eq!(
        rows,
        vec![
            "\"audit\" \"sweep\" 0 \"*/10 * * * *\"",
            "\"billing\" \"settle\" 0 \"0 2 * * *\"",
            "\"billing\" \"settle\" 1 \"0 * * * *\"",
        ]
    );
    assert!(
        list["entries"][1]["next_fire"]
            .as_str()
            .unwrap()
            .ends_with("T02:00:00Z")
    );
    assert_eq!(list["entries"][1]["hash"].as_str().unwrap().len(), 16);

    let show = json_of(
        &env.cmd("show", &["billing.settle", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(show["entries"].as_array().unwrap().len(), 2);
    assert_eq!(show["spec"]["job"]["name"], "settle");
    assert_eq!(show["next_fires"].as_array().unwrap().len(), 5);
    let nope = env.cmd("show", &["billing.nope"]).assert().success();
    assert!(
        stdout_of(&nope).contains("not installed"),
        "{}",
        stdout_of(&nope)
    );
    env.cmd("show", &["not-a-job"]).assert().code(2);
}

#[test]
fn show_refuses_a_spec_that_names_another_job() {
    let (env, _) = settle_applied();
    let settle = std::fs::read(env.spec_dir().join("billing.settle.json")).unwrap();
    std::fs::write(env.spec_dir().join("billing.other.json"), settle).unwrap();

    let out = env.cmd("show", &["billing.other"]).assert().code(3);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("describes billing.settle, not billing.other"),
        "{stderr}"
    );
    assert!(stderr.contains("re-run `cronix apply`"), "{stderr}");
}

/// One history line as the shim writes it.
fn history_line(n: u32, status: &str, http_status: Option<u16>) -> serde_json::Value {
    json!({
        "run_id": format!("run-{n}"), "app": "billing", "job": "settle",
        "fire_time": format!("2026-01-0{}T02:00:00Z", n + 1),
        "started_at": format!("2026-01-0{}T02:00:00.012Z", n + 1),
        "duration_ms": 40 + n, "attempts": 1, "status": status,
        "http_status": http_status, "exit_code": if status == "ok" { 0 } else { 1 }, "error": null,
    })
}

#[test]
fn show_reports_the_last_five_history_records_as_stored() {
    let (env, _) = settle_applied();
    let records: Vec<serde_json::Value> = (0..7)
        .map(|n| match n {
            4 => history_line(n, "rejected", Some(409)),
            6 => history_line(n, "exhausted", None),
            _ => history_line(n, "ok", Some(200)),
        })
        .collect();
    let mut text: String = records.iter().map(|r| format!("{r}\n")).collect();
    text.push_str("{\"run_id\":\"torn"); // a crash mid-append leaves a partial last line
    let history = env.state_dir().join("history");
    std::fs::create_dir_all(&history).unwrap();
    std::fs::write(history.join("billing.settle.jsonl"), text).unwrap();

    let show = json_of(
        &env.cmd("show", &["billing.settle", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(show["last_runs"], json!(records[2..]));

    let table = stdout_of(&env.cmd("show", &["billing.settle"]).assert().success());
    assert!(table.contains("last runs:\n"), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.contains(" run-")).collect();
    assert_eq!(rows.len(), 5, "{table}");
    assert!(
        rows[4].contains("run-6") && rows[4].contains("exhausted"),
        "{table}"
    );
    assert!(!table.contains("run-1 "), "{table}");
    assert!(!table.contains("torn"), "{table}");
}

#[test]
fn a_removed_job_loses_its_entries_and_then_its_spec() {
    let env = Env::new();
    let v1 = env.manifest(
        "v1.json",
        &manifest(
            "billing",
            &[
                ("settle", &["0 2 * * *"]),
                ("old", &["0 3 * * *", "0 4 * * *"]),
            ],
        ),
    );
    let v2 = env.manifest(
        "v2.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&v1).success();
    let out = env
        .cmd("apply", &["--manifest", &v2, "-o", "json"])
        .assert()
        .success();
    let doc = json_of(&out);
    assert_eq!(doc["applied"], true);
    assert_eq!(
        doc["counts"],
        json!({"create": 0, "update": 0, "delete": 3})
    );
    assert!(!env.crontab_text().contains("billing.old"));
    assert_eq!(names_in(&env.spec_dir()), vec!["billing.settle.json"]);
}

#[test]
fn a_users_crontab_is_installed_through_crontab_from_a_complete_file() {
    let env = Env::new();
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = env.root().join("user-crontab");
    let log = env.root().join("crontab-calls");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {log}\nfor a in \"$@\"; do last=\"$a\"; done\n\
         case \"$last\" in\n  -l) if [ -f {store} ]; then cat {store}; else echo \"no crontab for $USER\" >&2; exit 1; fi ;;\n\
           *) cp \"$last\" {store} ;;\nesac\n",
        log = log.display(),
        store = store.display()
    );
    let fake = bin.join("crontab");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The config names crontab(1) by its absolute path; a PATH that puts another first changes nothing.
    std::fs::write(
        env.root().join("cronix.yaml"),
        format!("crontab_bin: {}\n", fake.display()),
    )
    .unwrap();
    let decoy = env.root().join("decoy");
    std::fs::create_dir_all(&decoy).unwrap();
    std::fs::write(decoy.join("crontab"), "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(
        decoy.join("crontab"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", decoy.display());
    let user = cronix::shell::passwd::current_user();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    let run = || {
        let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
        cmd.args(["apply", "--manifest", &m, "--crontab-user", &user])
            .args(["--spec-dir", env.spec_dir().to_str().unwrap()])
            .args(["--lock-dir", env.lock_dir().to_str().unwrap()])
            .args(["--state-dir", env.state_dir().to_str().unwrap()])
            .args(["--trigger-bin", TRIGGER_BIN, "--secret-ref", SECRET_REF])
            .env("PATH", &path);
        env.environment(&mut cmd);
        cmd.assert()
    };
    run().success();
    let installed = std::fs::read_to_string(&store).unwrap();
    assert!(installed.starts_with(&format!(
        "0 2 * * * {TRIGGER_BIN} trigger --spec-dir {} billing.settle\n# cronix:owned app=billing job=settle hash=",
        env.spec_dir().display()
    )), "{installed}");
    let second = run().success();
    assert!(stdout_of(&second).contains("nothing changed"));
    let calls = std::fs::read_to_string(&log).unwrap();
    let installs = calls.lines().filter(|l| !l.ends_with("-l")).count();
    assert_eq!(installs, 1, "{calls}");
}

#[test]
fn an_unusable_crontab_is_a_backend_error() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    let missing_dir = env.root().join("no-such-dir/cronix");
    let out = env
        .cmd(
            "apply",
            &[
                "--manifest",
                &m,
                "--crontab-path",
                missing_dir.to_str().unwrap(),
            ],
        )
        .assert()
        .code(3);
    assert!(
        stderr_of(&out).contains("no-such-dir"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !env.spec_dir().exists(),
        "nothing is written when the target is unusable"
    );

    let as_dir = env.root().join("cron.d");
    env.cmd("list", &["--crontab-path", as_dir.to_str().unwrap()])
        .assert()
        .code(3);
}

#[test]
fn a_file_in_cron_d_must_have_a_name_cron_reads() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    let out = env
        .cmd(
            "plan",
            &[
                "--manifest",
                &m,
                "--crontab-path",
                "/etc/cron.d/cronix.jobs",
            ],
        )
        .assert()
        .code(1);
    assert!(
        stderr_of(&out).contains("[A-Za-z0-9_-]"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_global_scope_job_needs_locks_redis_with_a_password_or_an_explicit_opt_out() {
    let env = Env::new();
    let mut doc = manifest("billing", &[("settle", &["0 2 * * *"])]);
    doc["jobs"][0]["policy"] = json!({"concurrency": "Allow", "concurrency_scope": "global"});
    let m = env.manifest("m.json", &doc);
    let out = env.apply(&m).code(1);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("job settle") && stderr.contains("no locks.redis"),
        "{stderr}"
    );
    assert!(
        !env.crontab().exists() && !env.spec_dir().exists(),
        "nothing written"
    );

    // A Redis without a password lets any of its clients silence the job: refused unless the
    // config opts out.
    std::fs::write(
        env.root().join("cronix.yaml"),
        "locks:\n  redis:\n    addr: 127.0.0.1:6379\n",
    )
    .unwrap();
    let out = env.apply(&m).code(1);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("job settle") && stderr.contains("allow_unauthenticated: true"),
        "{stderr}"
    );
    assert!(!env.spec_dir().exists(), "nothing written");
    for extra in ["password_ref: env:REDIS_PW", "allow_unauthenticated: true"] {
        std::fs::write(
            env.root().join("cronix.yaml"),
            format!("locks:\n  redis:\n    addr: 127.0.0.1:6379\n    {extra}\n"),
        )
        .unwrap();
        env.apply(&m).success();
    }
    let out = env.apply(&m).success();
    assert!(
        !stderr_of(&out).contains("concurrency_scope"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(env.spec_files().len(), 1);
}
