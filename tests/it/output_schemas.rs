//! Every `-o json` output is one object with the shape its schema in `schemas/output/` documents:
//! each command is run with `-o json` against a temp dir (a crontab file, spec, state and lock dirs,
//! a history file, manifests) and its stdout (stderr for errors) is validated. Every schema file is
//! exercised, and every key is snake_case.

use crate::reconcile_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reconcile_support::{Env, SECRET_REF, manifest};
use serde_json::{Value, json};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/output")
}

/// Validates outputs and remembers which schemas were used.
struct Checker {
    used: BTreeSet<String>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            used: BTreeSet::new(),
        }
    }

    /// `text` is one JSON object valid against `schemas/output/<name>.schema.json`, with
    /// snake_case keys.
    fn check(&mut self, name: &str, what: &str, text: &[u8]) -> Value {
        let text = String::from_utf8_lossy(text);
        assert_eq!(
            text.trim_end().lines().count(),
            1,
            "{what}: one line of JSON: {text}"
        );
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        assert!(
            doc.is_object(),
            "{what}: one object, never a bare array: {doc}"
        );
        let path = schema_dir().join(format!("{name}.schema.json"));
        let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: does not match {name}.schema.json:\n  {}\n{doc:#}",
            errors.join("\n  ")
        );
        snake_case_keys(what, &doc, "");
        self.used.insert(name.to_string());
        doc
    }

    /// Run `cmd` (which must exit `code`) and check its stdout against `name`.
    fn run(
        &mut self,
        name: &str,
        mut cmd: impl std::borrow::BorrowMut<assert_cmd::Command>,
        code: i32,
    ) -> Value {
        let cmd = cmd.borrow_mut();
        let out = cmd.output().unwrap();
        let what = format!("{cmd:?}");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{what}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.check(name, &what, &out.stdout)
    }
}

/// Every object key is snake_case (the spec file `show` prints is the operator's, not ours; the
/// runs per status in `metrics` are status names).
fn snake_case_keys(what: &str, value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let snake = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                assert!(snake, "{what}: key {at}/{key} is not snake_case");
                if key != "spec" {
                    snake_case_keys(what, inner, &format!("{at}/{key}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                snake_case_keys(what, item, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

fn write_history(env: &Env) {
    let dir = env.state_dir().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let record = |id: &str, started: &str, status: &str, http: u16| {
        json!({"run_id": id, "app": "billing", "job": "settle", "fire_time": started,
               "started_at": started, "duration_ms": 12, "attempts": 1, "status": status,
               "http_status": http, "exit_code": if status == "ok" { 0 } else { 1 },
               "error": if status == "ok" { Value::Null } else { json!("http_400") }})
        .to_string()
    };
    let text = [
        record("r1", "2026-01-01T02:00:00.000Z", "ok", 200),
        record("r2", "2026-01-02T02:00:00.000Z", "rejected", 400),
    ]
    .join("\n")
        + "\n";
    std::fs::write(dir.join("billing.settle.jsonl"), text).unwrap();
}

#[test]
fn every_json_output_matches_its_schema() {
    let env = Env::new();
    let mut c = Checker::new();
    let mut m = manifest(
        "billing",
        &[("settle", &["0 2 * * *"]), ("report", &["0 9 * * *"])],
    );
    m["jobs"][1]["timezone"] = json!("Europe/Paris");
    let m = env.manifest("m.json", &m);
    let bad = env.manifest(
        "bad.json",
        &json!({"version": 1, "app": "Bad App", "jobs": []}),
    );

    let allow = ["--secret-ref", SECRET_REF];
    c.run(
        "validate",
        env.cmd_plain(&["-o", "json", "validate", &m]).args(allow),
        0,
    );
    c.run(
        "validate",
        env.cmd_plain(&["-o", "json", "validate", &bad]).args(allow),
        1,
    );
    c.run(
        "plan",
        &mut env.cmd("plan", &["--manifest", &m, "-o", "json"]),
        0,
    );
    c.run(
        "apply",
        &mut env.cmd("apply", &["--manifest", &m, "-o", "json"]),
        0,
    );
    write_history(&env);
    c.run("list", &mut env.cmd("list", &["-o", "json"]), 0);
    c.run(
        "show",
        &mut env.cmd("show", &["billing.settle", "-o", "json"]),
        0,
    );
    c.run(
        "show",
        &mut env.cmd("show", &["billing.report", "-o", "json"]),
        0,
    );
    c.run(
        "show",
        &mut env.cmd("show", &["billing.nope", "-o", "json"]),
        0,
    );
    let status = c.run(
        "global-status",
        &mut env.cmd("global-status", &["-o", "json"]),
        0,
    );
    let settle = &status["jobs"][1];
    assert_eq!(settle["job"], "settle", "{status}");
    assert_eq!(settle["last_run"]["status"], "rejected", "{status}");
    assert!(settle["next_fire_unix"].is_i64(), "{status}");

    // A hand edit: drift sees it; the apply journal has the apply.
    let text = std::fs::read_to_string(env.crontab()).unwrap();
    std::fs::write(env.crontab(), text.replacen("0 2 * * *", "5 2 * * *", 1)).unwrap();
    c.run(
        "drift",
        &mut env.cmd("drift", &["--manifest", &m, "-o", "json"]),
        0,
    );
    c.run(
        "apply",
        &mut env.cmd("apply", &["--manifest", &m, "--dry-run", "-o", "json"]),
        0,
    );

    let state = env.state_dir().display().to_string();
    let spec_dir = env.spec_dir().display().to_string();
    let runs = c.run(
        "history",
        env.cmd_plain(&[
            "-o",
            "json",
            "history",
            "billing.settle",
            "--state-dir",
            &state,
        ]),
        0,
    );
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(2), "{runs}");
    let audit = c.run(
        "history",
        env.cmd_plain(&["-o", "json", "history", "--audit", "--state-dir", &state]),
        0,
    );
    assert!(!audit["audit"].as_array().unwrap().is_empty(), "{audit}");
    c.run(
        "metrics",
        env.cmd_plain(&["-o", "json", "metrics", "--spec-dir", &spec_dir]),
        0,
    );
    let check = env
        .cmd_plain(&[
            "-o",
            "json",
            "check",
            "--spec-dir",
            &spec_dir,
            "--state-dir",
            &state,
        ])
        .output()
        .unwrap();
    c.check("check", "check", &check.stdout);
    let doctor = env.cmd("doctor", &["-o", "json"]).output().unwrap();
    c.check("doctor", "doctor", &doctor.stdout);
    c.run(
        "next",
        env.cmd_plain(&[
            "-o",
            "json",
            "next",
            "0 9 * * *",
            "--timezone",
            "Europe/Paris",
        ]),
        0,
    );
    c.run("version", env.cmd_plain(&["-o", "json", "version"]), 0);
    let config = env.root().join("init/cronix.yaml");
    c.run(
        "init",
        env.cmd_plain(&["-o", "json", "--config", config.to_str().unwrap(), "init"]),
        0,
    );
    let signing = ["--method", "POST", "--path", "/cron/settle"];
    let signed = c.run(
        "sign",
        env.cmd_plain(&[
            "-o",
            "json",
            "--secret-ref",
            "env:K",
            "sign",
            "--timestamp",
            "1730000000",
        ])
        .args(signing)
        .env("K", "key"),
        0,
    );
    let header = signed["signature"].as_str().unwrap().to_string();
    c.run(
        "verify",
        env.cmd_plain(&[
            "-o",
            "json",
            "--secret-ref",
            "env:K",
            "verify",
            "--now",
            "1730000000",
        ])
        .args(signing)
        .args(["--signature", &header])
        .env("K", "key"),
        0,
    );
    let refused = env
        .cmd_plain(&[
            "-o",
            "json",
            "--secret-ref",
            "env:K",
            "verify",
            "--now",
            "1730000000",
        ])
        .args(signing)
        .args(["--signature", "t=1,v1=00"])
        .env("K", "key")
        .output()
        .unwrap();
    c.check("verify", "verify (refused)", &refused.stdout);
    let adopt = env
        .cmd("adopt", &["billing.settle", "--manifest", &m, "-o", "json"])
        .output()
        .unwrap();
    c.check("adopt", "adopt", &adopt.stdout);
    c.run(
        "prune",
        &mut env.cmd("prune", &["--dry-run", "-o", "json"]),
        0,
    );
    c.run("prune", &mut env.cmd("prune", &["--yes", "-o", "json"]), 0);

    // Errors: one object on stderr, whatever the command.
    for args in [
        vec![
            "-o",
            "json",
            "history",
            "no.such-job",
            "--state-dir",
            &state,
        ],
        vec!["-o", "json", "next", "not a schedule"],
        vec!["-o", "json", "history", "billing.settle", "--since", "abc"],
        vec!["-o", "json", "no-such-command"],
    ] {
        let out = env.cmd_plain(&args).output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let doc = c.check("error", &format!("{args:?} (stderr)"), &out.stderr);
        assert_eq!(
            doc["error"]["exit_code"].as_i64(),
            out.status.code().map(i64::from),
            "{args:?}"
        );
    }

    let files: BTreeSet<String> = std::fs::read_dir(schema_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".schema.json").map(str::to_string))
        .collect();
    assert_eq!(
        c.used, files,
        "every schema in schemas/output is checked, and every command checked has one"
    );
}

/// The vocabulary page names every schema, and the README points to it.
#[test]
fn the_output_page_documents_every_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/output.md")).unwrap();
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(page.contains(&name), "docs/output.md does not name {name}");
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("docs/output.md"),
        "README.md points to docs/output.md"
    );
}
