//! Status tells the truth: `show` and `global-status` read the installed crontab as `drift` does and
//! report each entry `in-sync`, `edited`, `missing` or `orphan`; `prune` without `--app` removes only
//! the specs of its own target; `history` rows come in order of start time. Real binary, temp dirs.

use crate::reconcile_support;

use reconcile_support::{Env, json_of, manifest, names_in, stdout_of};
use serde_json::{Value, json};

fn states(entries: &Value) -> Vec<(u64, String)> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["idx"].as_u64().unwrap(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(i, s)| (*i, s.to_string())).collect()
}

/// The crontab text without the entry whose line contains `needle` and its marker.
fn without_entry(text: &str, needle: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut skip_marker = false;
    for line in lines {
        if skip_marker {
            skip_marker = false;
            continue;
        }
        if line.contains(needle) && !line.starts_with('#') {
            skip_marker = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn global_status_of(env: &Env, job: &str) -> Value {
    let doc = json_of(&env.cmd("global-status", &["-o", "json"]).assert().success());
    doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| {
            format!(
                "{}.{}",
                row["app"].as_str().unwrap(),
                row["job"].as_str().unwrap()
            ) == job
        })
        .cloned()
        .unwrap_or_else(|| panic!("{job} not in {doc}"))
}

#[test]
fn a_hand_deleted_entry_shows_missing_and_an_edited_one_edited() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest(
            "billing",
            &[("settle", &["0 2 * * *", "0 3 * * *", "0 4 * * *"])],
        ),
    );
    env.apply(&m).success();
    let show = json_of(
        &env.cmd("show", &["billing.settle", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(
        states(&show["entry_states"]),
        pairs(&[(0, "in-sync"), (1, "in-sync"), (2, "in-sync")])
    );

    let text =
        without_entry(&env.crontab_text(), "0 3 * * *").replacen("0 4 * * *", "5 4 * * *", 1);
    std::fs::write(env.crontab(), text).unwrap();
    let expected = pairs(&[(0, "in-sync"), (1, "missing"), (2, "edited")]);
    let show = env
        .cmd("show", &["billing.settle", "-o", "json"])
        .assert()
        .success();
    assert_eq!(states(&json_of(&show)["entry_states"]), expected);
    let table = stdout_of(&env.cmd("show", &["billing.settle"]).assert().success());
    assert!(table.contains("entry idx 1: missing"), "{table}");
    assert_eq!(
        states(&global_status_of(&env, "billing.settle")["entries"]),
        expected
    );
    let table = stdout_of(&env.cmd("global-status", &[]).assert().success());
    assert!(table.contains("0:in-sync 1:missing 2:edited"), "{table}");

    env.apply(&m).success();
    assert_eq!(
        states(&global_status_of(&env, "billing.settle")["entries"]),
        pairs(&[(0, "in-sync"), (1, "in-sync"), (2, "in-sync")])
    );
}

#[test]
fn an_entry_whose_spec_is_gone_is_an_orphan() {
    let env = Env::new();
    let m = env.manifest(
        "m.json",
        &manifest("billing", &[("settle", &["0 2 * * *"])]),
    );
    env.apply(&m).success();
    std::fs::remove_file(env.spec_dir().join("billing.settle.json")).unwrap();
    let row = global_status_of(&env, "billing.settle");
    assert_eq!(states(&row["entries"]), pairs(&[(0, "orphan")]));
    assert!(
        row["error"].as_str().unwrap().contains("no spec file"),
        "{row}"
    );
    let show = json_of(
        &env.cmd("show", &["billing.settle", "-o", "json"])
            .assert()
            .success(),
    );
    assert_eq!(states(&show["entry_states"]), pairs(&[(0, "orphan")]));
}

#[test]
fn prune_without_app_removes_only_the_specs_of_its_own_target() {
    let env = Env::new();
    let other = env.root().join("cron.d/other");
    let other = other.to_str().unwrap();
    let a = env.manifest("a.json", &manifest("alpha", &[("one", &["0 1 * * *"])]));
    let b = env.manifest("b.json", &manifest("beta", &[("two", &["0 2 * * *"])]));
    let c = env.manifest("c.json", &manifest("gamma", &[("three", &["0 3 * * *"])]));
    env.apply(&a).success();
    env.cmd("apply", &["--manifest", &b, "--crontab-path", other])
        .assert()
        .success();
    env.cmd("apply", &["--manifest", &c, "--crontab-path", other])
        .assert()
        .success();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(env.spec_dir().join("alpha.one.json")).unwrap())
            .unwrap();
    assert_eq!(spec["format"], 2);
    assert_eq!(spec["target"], json!(env.crontab().display().to_string()));
    // gamma's spec as an older release wrote it: format 1, no target (its entry is in `other`).
    let gamma = env.spec_dir().join("gamma.three.json");
    let mut old: Value = serde_json::from_slice(&std::fs::read(&gamma).unwrap()).unwrap();
    old["format"] = json!(1);
    old.as_object_mut().unwrap().remove("target");
    std::fs::write(&gamma, serde_json::to_vec_pretty(&old).unwrap()).unwrap();

    env.cmd("prune", &["--yes"]).assert().success();
    assert_eq!(
        names_in(&env.spec_dir()),
        ["beta.two.json", "gamma.three.json"],
        "prune of the first target keeps the other target's specs, old or new"
    );
    env.cmd("prune", &["--yes", "--crontab-path", other])
        .assert()
        .success();
    assert!(
        names_in(&env.spec_dir()).is_empty(),
        "{:?}",
        names_in(&env.spec_dir())
    );
}

#[test]
fn history_rows_come_in_order_of_start_time() {
    let env = Env::new();
    let dir = env.state_dir().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let record = |id: &str, started: &str| {
        json!({"run_id": id, "app": "billing", "job": "settle", "fire_time": started,
               "started_at": started, "duration_ms": 1, "attempts": 1, "status": "ok",
               "http_status": 200, "exit_code": 0, "error": null})
        .to_string()
    };
    let text = [
        record("slow-early", "2026-01-01T00:00:00.000Z"),
        record("late", "2026-01-01T00:02:00.000Z"),
        record("middle", "2026-01-01T00:01:00.000Z"),
    ]
    .join("\n")
        + "\n";
    std::fs::write(dir.join("billing.settle.jsonl"), text).unwrap();
    let out = reconcile_support_history(&env, &["billing.settle", "-o", "json"]);
    let ids: Vec<&str> = out["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["slow-early", "middle", "late"]);
    let newest = reconcile_support_history(&env, &["billing.settle", "--limit", "1", "-o", "json"]);
    assert_eq!(newest["runs"][0]["run_id"], "late");
}

fn reconcile_support_history(env: &Env, args: &[&str]) -> Value {
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    cmd.arg("history")
        .args(args)
        .arg("--state-dir")
        .arg(env.state_dir());
    env.environment(&mut cmd);
    json_of(&cmd.assert().success())
}
