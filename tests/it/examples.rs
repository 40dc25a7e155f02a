//! The files README and the man pages point at stay valid: example manifests validate, example configs
//! load and match the config schema.

use std::path::Path;

use assert_cmd::Command;

fn files_with(ext: &str, dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // `examples/demo/out` is what the demo apply writes, not an example.
            if !path.ends_with("out") {
                out.extend(files_with(ext, &path));
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_manifest_validates() {
    let manifests = files_with("json", Path::new("examples"));
    assert!(!manifests.is_empty());
    for path in manifests {
        let out = Command::cargo_bin("cronix")
            .unwrap()
            .args(["--config", "examples/demo/cronix.yaml", "validate"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_example_config_loads_and_matches_the_config_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/config.schema.json").unwrap())
            .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let configs = files_with("yaml", Path::new("examples"));
    assert!(!configs.is_empty());
    // Kubernetes objects (examples/kubernetes/*.yaml) are not cronix configs.
    let is_k8s_object = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .any(|l| l.starts_with("apiVersion:"))
    };
    for path in configs.into_iter().filter(|p| !is_k8s_object(p)) {
        cronix::shell::config::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let value: serde_json::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn the_config_schema_lists_exactly_the_keys_the_loader_accepts() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/config.schema.json").unwrap())
            .unwrap();
    for key in schema["properties"].as_object().unwrap().keys() {
        let text = format!("{key}: null\n");
        let parsed = cronix::shell::config::parse(&text);
        assert!(
            parsed.is_ok() || !parsed.as_ref().unwrap_err().contains("unknown key"),
            "{key}: {parsed:?}"
        );
    }
    assert!(
        cronix::shell::config::parse("no_such_key: 1\n")
            .unwrap_err()
            .contains("unknown key")
    );
}

#[test]
fn spec_files_written_by_apply_match_the_spec_schema() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("cronix.yaml"), "").unwrap();
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .env("CRONIX_CONFIG", root.join("cronix.yaml"))
        .env("HOME", root)
        .args([
            "apply",
            "--manifest",
            "examples/billing.json",
            "--crontab-format",
            "user",
        ])
        .args([
            "--secret-ref",
            "env:BILLING_CRON_V2",
            "--secret-ref",
            "env:BILLING_CRON_V1",
        ])
        .arg("--crontab-path")
        .arg(root.join("crontab"))
        .arg("--spec-dir")
        .arg(root.join("jobs"))
        .arg("--lock-dir")
        .arg(root.join("locks"))
        .arg("--state-dir")
        .arg(root.join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/spec.schema.json").unwrap())
            .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let specs = files_with("json", &root.join("jobs"));
    assert_eq!(specs.len(), 2);
    for path in specs {
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}
