//! The protocol's manifest conformance vectors (tests/data/manifest-vectors.json, see NOTICE): valid inputs
//! canonicalize byte for byte, invalid inputs fail with an error at a listed path — through the library
//! and through `cronix validate`.

use assert_cmd::Command;
use cronix::core::manifest;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string("tests/data/manifest-vectors.json").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn zone_exists(name: &str) -> bool {
    cronix::shell::tz::zone_exists(name)
}

#[test]
fn there_are_29_vectors() {
    assert_eq!(vectors().len(), 29);
}

#[test]
fn every_valid_vector_canonicalizes_byte_for_byte() {
    for v in vectors().iter().filter(|v| v["valid"] == true) {
        let input = serde_json::to_vec(&v["input"]).unwrap();
        let parsed = manifest::parse(&input, &zone_exists)
            .unwrap_or_else(|issues| panic!("vector {} rejected: {issues:?}", v["name"]));
        assert_eq!(
            manifest::canonical(&parsed),
            v["expected"].as_str().unwrap(),
            "vector {}",
            v["name"]
        );
    }
}

#[test]
fn every_invalid_vector_fails_at_a_listed_path() {
    for v in vectors().iter().filter(|v| v["valid"] == false) {
        let input = serde_json::to_vec(&v["input"]).unwrap();
        let issues = manifest::parse(&input, &zone_exists).expect_err(v["name"].as_str().unwrap());
        let listed: Vec<&str> = v["errorPaths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(
            issues.iter().any(|i| listed.contains(&i.path.as_str())),
            "vector {}: issues {issues:?} not at {listed:?}",
            v["name"]
        );
        assert!(issues.iter().all(|i| !i.message.is_empty()));
    }
}

#[test]
fn canonical_form_is_a_fixed_point() {
    for v in vectors().iter().filter(|v| v["valid"] == true) {
        let expected = v["expected"].as_str().unwrap();
        let again = manifest::parse(expected.as_bytes(), &zone_exists).unwrap();
        assert_eq!(
            manifest::canonical(&again),
            expected,
            "vector {}",
            v["name"]
        );
    }
}

#[test]
fn validate_canonical_prints_exactly_the_canonical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in vectors().iter().filter(|v| v["valid"] == true).enumerate() {
        let path = dir.path().join(format!("m{i}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&v["input"]).unwrap()).unwrap();
        let out = Command::cargo_bin("cronix")
            .unwrap()
            .args(["validate", "--canonical"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            v["expected"].as_str().unwrap()
        );
    }
}

#[test]
fn validate_json_reports_each_invalid_vector_with_its_path_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in vectors().iter().filter(|v| v["valid"] == false).enumerate() {
        let path = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&path, serde_json::to_vec(&v["input"]).unwrap()).unwrap();
        let out = Command::cargo_bin("cronix")
            .unwrap()
            .args(["validate", "-o", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "vector {}", v["name"]);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["valid"], false);
        let listed = v["errorPaths"].as_array().unwrap();
        let errors = doc["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| listed.contains(&e["path"])),
            "vector {}: {errors:?}",
            v["name"]
        );
        assert!(
            errors
                .iter()
                .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
        );
    }
}

#[test]
fn validate_json_on_a_valid_manifest_says_valid_and_exits_0() {
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .args([
            "--config",
            "examples/demo/cronix.yaml",
            "validate",
            "-o",
            "json",
            "examples/billing.json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["app"], "billing-service");
}
