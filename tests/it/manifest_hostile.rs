//! Hostile manifests: each gets a clear error at the right path, nothing panics, and no huge or
//! control-character input is echoed back whole.

use assert_cmd::Command;
use cronix::core::manifest::{self, Issue};
use serde_json::{Value, json};

fn zone_exists(name: &str) -> bool {
    cronix::shell::tz::zone_exists(name)
}

fn base() -> Value {
    json!({"version": 1, "app": "app", "jobs": [{"name": "job", "schedule": "0 2 * * *",
        "request": {"url": "https://app.example.com/cron/job"}}]})
}

/// The base manifest with the value at `pointer` set (its parent must exist).
fn with(pointer: &str, value: Value) -> Value {
    let mut doc = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer} is not inside a container"),
    }
    doc
}

fn issues_of(doc: &Value) -> Vec<Issue> {
    manifest::parse(&serde_json::to_vec(doc).unwrap(), &zone_exists)
        .expect_err("must be rejected")
        .issues
}

fn assert_rejected_at(doc: &Value, path: &str, needle: &str) {
    let issues = issues_of(doc);
    assert!(
        issues
            .iter()
            .any(|i| i.path == path && i.message.contains(needle)),
        "expected an issue at {path} mentioning {needle:?}, got {issues:?}"
    );
    for i in &issues {
        assert!(
            i.message.len() < 600,
            "message too long: {} bytes",
            i.message.len()
        );
        assert!(
            !i.message.contains('\n') && !i.message.contains('\r'),
            "raw newline in {:?}",
            i.message
        );
    }
}

#[test]
fn the_base_manifest_is_valid() {
    manifest::parse(&serde_json::to_vec(&base()).unwrap(), &zone_exists).unwrap();
}

#[test]
fn newline_in_a_schedule_is_rejected() {
    assert_rejected_at(
        &with(
            "/jobs/0/schedule",
            json!("0 2 * * *\n* * * * * root rm -rf /"),
        ),
        "jobs/0/schedule",
        "job job",
    );
}

#[test]
fn percent_in_a_schedule_is_rejected() {
    assert_rejected_at(
        &with("/jobs/0/schedule", json!("0 2 * * % echo")),
        "jobs/0/schedule",
        "",
    );
}

#[test]
fn a_sixth_field_is_rejected() {
    assert_rejected_at(
        &with("/jobs/0/schedule", json!("0 2 * * * root")),
        "jobs/0/schedule",
        "",
    );
}

#[test]
fn control_characters_in_schedules_are_rejected() {
    for bad in [
        "0\t2 * * *",
        "0 2 * * *\u{0}",
        "0 2 * * *\u{7f}",
        "\u{1b}[31m0 2 * * *",
    ] {
        assert_rejected_at(&with("/jobs/0/schedule", json!(bad)), "jobs/0/schedule", "");
    }
}

#[test]
fn header_injection_is_rejected() {
    let doc = with(
        "/jobs/0/request",
        json!({"url": "https://a.example.com/x", "headers": {"X-A": "v\r\nHost: evil"}}),
    );
    assert_rejected_at(&doc, "jobs/0/request/headers/X-A", "CR, LF or NUL");
    let doc = with(
        "/jobs/0/request",
        json!({"url": "https://a.example.com/x", "headers": {"Bad Name": "v"}}),
    );
    assert_rejected_at(&doc, "jobs/0/request/headers/Bad Name", "header name");
    for owned in [
        "X-Cron-Signature",
        "x-cron-run-id",
        "Host",
        "content-length",
        "Transfer-Encoding",
        "Connection",
    ] {
        let doc = with(
            "/jobs/0/request",
            json!({"url": "https://a.example.com/x", "headers": {owned: "v"}}),
        );
        assert_rejected_at(
            &doc,
            &format!("jobs/0/request/headers/{owned}"),
            "set by cronix",
        );
    }
}

#[test]
fn credential_headers_are_refused_so_they_never_reach_spec_files() {
    for name in ["Authorization", "proxy-authorization", "Cookie"] {
        let doc = with(
            "/jobs/0/request",
            json!({"url": "https://a.example.com/x", "headers": {name: "Bearer s3cr3t-token"}}),
        );
        let issues = issues_of(&doc);
        let at = format!("jobs/0/request/headers/{name}");
        assert!(
            issues
                .iter()
                .any(|i| i.path == at && i.message.contains("X-Cron-Signature")),
            "{issues:?}"
        );
        assert!(issues.iter().all(|i| !i.message.contains("s3cr3t-token")));
    }
}

#[test]
fn path_traversal_in_names_is_rejected() {
    assert_rejected_at(
        &with("/jobs/0/name", json!("../../etc/cron.d/x")),
        "jobs/0/name",
        "lowercase letters",
    );
    assert_rejected_at(&with("/app", json!("a/../b")), "app", "lowercase letters");
}

#[test]
fn urls_with_userinfo_no_host_or_other_schemes_are_rejected() {
    for (url, needle) in [
        ("https://user:pw@a.example.com/x", "user name or password"),
        ("https:///x", "host"),
        ("ftp://a.example.com/x", "scheme"),
        ("https://a.example.com/a b", "whitespace"),
        ("javascript:alert(1)", ""),
    ] {
        assert_rejected_at(
            &with("/jobs/0/request/url", json!(url)),
            "jobs/0/request/url",
            needle,
        );
    }
}

#[test]
fn timezones_must_be_exact_iana_names() {
    for wrong in ["europe/paris", "localtime", "posix/Europe/Paris"] {
        assert_rejected_at(
            &with("/jobs/0/timezone", json!(wrong)),
            "jobs/0/timezone",
            "exact case",
        );
    }
    assert_rejected_at(
        &with("/jobs/0/timezone", json!("Mars/Olympus")),
        "jobs/0/timezone",
        "tz database",
    );
    assert_rejected_at(
        &with("/jobs/0/timezone", json!("../../../etc/passwd")),
        "jobs/0/timezone",
        "tz database",
    );
    let ok = with("/jobs/0/timezone", json!("Asia/Kathmandu"));
    manifest::parse(&serde_json::to_vec(&ok).unwrap(), &zone_exists).unwrap();
}

#[test]
fn unknown_fields_fail_loudly_with_a_suggestion() {
    let mut doc = base();
    doc["jobs"][0]["schedulee"] = json!("x");
    assert_rejected_at(&doc, "jobs/0/schedulee", "did you mean \"schedule\"");
    let mut doc = base();
    doc["jobs"][0]["request"]["header"] = json!({});
    assert_rejected_at(&doc, "jobs/0/request/header", "did you mean \"headers\"");
}

#[test]
fn wrong_types_are_named() {
    assert_rejected_at(
        &with("/jobs/0/request/url", json!(42)),
        "jobs/0/request/url",
        "must be a string",
    );
    assert_rejected_at(&with("/jobs", json!({})), "jobs", "array");
    assert_rejected_at(&with("/version", json!("1")), "version", "\"version\": 1");
    assert_rejected_at(&with("/version", json!(1.5)), "version", "");
    let mut doc = base();
    doc["jobs"][0]["policy"] = json!({"timeout_seconds": "60"});
    assert_rejected_at(&doc, "jobs/0/policy/timeout_seconds", "whole number");
}

#[test]
fn a_ten_megabyte_string_is_rejected_without_being_echoed() {
    let huge = "a".repeat(10_000_000);
    let issues = issues_of(&with("/jobs/0/name", json!(huge)));
    assert!(issues.iter().any(|i| i.path == "jobs/0/name"));
    assert!(issues.iter().all(|i| i.message.len() < 600));
}

#[test]
fn an_oversized_file_is_refused_with_its_size() {
    let bytes = vec![b' '; manifest::MAX_MANIFEST_BYTES + 1];
    let issues = manifest::parse(&bytes, &zone_exists).unwrap_err();
    assert!(issues[0].message.contains("10 MiB"), "{issues:?}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let issues = manifest::parse(deep.as_bytes(), &zone_exists).unwrap_err();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].message.contains("nested more than 16 deep"),
        "{issues:?}"
    );
}

#[test]
fn non_utf8_bytes_are_an_error() {
    let mut bytes = serde_json::to_vec(&base()).unwrap();
    let at = bytes.windows(3).position(|w| w == b"job").unwrap();
    bytes[at] = 0xff;
    let issues = manifest::parse(&bytes, &zone_exists).unwrap_err();
    assert!(issues[0].message.contains("UTF-8"), "{issues:?}");
}

#[test]
fn duplicate_names_are_reported_at_the_second_index() {
    let mut doc = base();
    let second = doc["jobs"][0].clone();
    doc["jobs"].as_array_mut().unwrap().push(second);
    assert_rejected_at(&doc, "jobs/1/name", "jobs/0");
}

#[test]
fn retry_bounds_are_checked_together() {
    let mut doc = base();
    doc["jobs"][0]["policy"] = json!({"retries": {"min_seconds": 30, "max_seconds": 10}});
    assert_rejected_at(&doc, "jobs/0/policy/retries", "min_seconds <= max_seconds");
}

#[test]
fn secret_refs_are_syntax_checked() {
    let mut doc = base();
    doc["jobs"][0]["auth"] = json!({"secret_refs": ["env:OK", "file:/etc/x y"]});
    assert_rejected_at(&doc, "jobs/0/auth/secret_refs/1", "not valid");
    doc["jobs"][0]["auth"] = json!({"secret_refs": ["env:A","env:B","env:C","env:D","env:E","env:F","env:G","env:H","env:I"]});
    assert_rejected_at(&doc, "jobs/0/auth/secret_refs", "at most 8");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let doc = json!({"version": 2, "app": "Bad", "jobs": [{"name": "x", "schedule": "nope",
        "request": {"url": "ftp://x", "method": "TRACE"}}]});
    let paths: Vec<String> = issues_of(&doc).into_iter().map(|i| i.path).collect();
    for want in [
        "version",
        "app",
        "jobs/0/schedule",
        "jobs/0/request/url",
        "jobs/0/request/method",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
}

#[test]
fn the_binary_gives_one_line_per_problem_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&with("/jobs/0/schedule", json!("0 2 * *"))).unwrap(),
    )
    .unwrap();
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("jobs/0/schedule"), "{stderr}");
    assert!(stderr.contains("job job"), "{stderr}");
}

#[test]
fn missing_and_directory_sources_are_clear_errors() {
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .args(["validate", "/nonexistent/m.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/m.json"));
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .args(["validate", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("directory"));
}

#[test]
fn file_urls_are_read() {
    let out = Command::cargo_bin("cronix")
        .unwrap()
        .args(["--config", "examples/demo/cronix.yaml", "validate"])
        .arg(format!(
            "file://{}/examples/billing.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
