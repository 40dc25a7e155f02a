//! The protocol's 35 auth conformance vectors, through the library and through the real binary.

use crate::auth_support;

use auth_support::{Sandbox, Vector, run, vectors};
use cronix::core::secret::Secret;
use cronix::core::signature::{self, VerifyCode};

fn code(name: &str) -> VerifyCode {
    match name {
        "MissingSignature" => VerifyCode::MissingSignature,
        "MalformedHeader" => VerifyCode::MalformedHeader,
        "StaleTimestamp" => VerifyCode::StaleTimestamp,
        "SignatureMismatch" => VerifyCode::SignatureMismatch,
        other => panic!("unknown expected code {other}"),
    }
}

fn secret(text: &str) -> Secret {
    Secret::new(text.as_bytes().to_vec())
}

#[test]
fn there_are_35_vectors_of_both_kinds() {
    let all = vectors();
    assert_eq!(all.len(), 35);
    assert_eq!(all.iter().filter(|v| v.kind == "sign").count(), 9);
    assert_eq!(all.iter().filter(|v| v.kind == "verify").count(), 26);
}

#[test]
fn sign_vectors_produce_the_expected_header_in_the_library() {
    for v in vectors().iter().filter(|v| v.kind == "sign") {
        let header = signature::sign(
            &secret(v.secret.as_deref().unwrap()),
            v.timestamp.unwrap(),
            &v.method,
            &v.path,
            &v.body(),
        );
        assert_eq!(
            header.expose(),
            v.expected_header.as_deref().unwrap(),
            "{}",
            v.name
        );
    }
}

#[test]
fn verify_vectors_give_the_expected_outcome_in_the_library() {
    for v in vectors().iter().filter(|v| v.kind == "verify") {
        let secrets: Vec<Secret> = v.secrets.iter().map(|s| secret(s)).collect();
        let outcome = signature::verify(
            &secrets,
            v.header.as_deref(),
            &v.method,
            &v.path,
            &v.body(),
            v.now.unwrap(),
            v.max_skew(),
        );
        match v.expect.as_deref().unwrap() {
            "ok" => assert_eq!(outcome, Ok(v.expected_secret_index.unwrap()), "{}", v.name),
            failure => assert_eq!(
                outcome.map_err(|e| e.code),
                Err(code(failure)),
                "{}",
                v.name
            ),
        }
    }
}

#[test]
fn sign_vectors_pass_through_the_binary() {
    let mut sandbox = Sandbox::new();
    for v in vectors().iter().filter(|v| v.kind == "sign") {
        let reference = sandbox.secret_ref(v.secret.as_deref().unwrap().as_bytes());
        let body = sandbox.file(&v.body(), 0o644);
        let (code, stdout, stderr) = run(sandbox
            .cronix()
            .args(["--secret-ref", &reference, "sign", "--method", &v.method])
            .args(["--path", &v.path, "--timestamp"])
            .arg(v.timestamp.unwrap().to_string())
            .arg("--body-file")
            .arg(&body));
        assert_eq!(code, 0, "{}: {stderr}", v.name);
        assert_eq!(
            stdout,
            format!("{}\n", v.expected_header.as_deref().unwrap()),
            "{}",
            v.name
        );
    }
}

fn verify_through_binary(sandbox: &mut Sandbox, v: &Vector) -> (i32, serde_json::Value, String) {
    let mut cmd = sandbox.cronix();
    for s in &v.secrets {
        let reference = sandbox.secret_ref(s.as_bytes());
        cmd.args(["--secret-ref", &reference]);
    }
    let body = sandbox.file(&v.body(), 0o644);
    cmd.args([
        "-o", "json", "verify", "--method", &v.method, "--path", &v.path,
    ])
    .arg("--body-file")
    .arg(&body)
    .args(["--now", &v.now.unwrap().to_string()])
    .args(["--max-skew", &v.max_skew().to_string()]);
    if let Some(header) = &v.header {
        cmd.args(["--signature", header]);
    }
    let (code, stdout, stderr) = run(&mut cmd);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{}: stdout is not JSON ({e}): {stdout:?} {stderr}", v.name));
    (code, json, stderr)
}

#[test]
fn verify_vectors_pass_through_the_binary() {
    let mut sandbox = Sandbox::new();
    for v in vectors().iter().filter(|v| v.kind == "verify") {
        let (code, json, stderr) = verify_through_binary(&mut sandbox, v);
        match v.expect.as_deref().unwrap() {
            "ok" => {
                assert_eq!(code, 0, "{}: {stderr}", v.name);
                assert_eq!(
                    json,
                    serde_json::json!({"ok": true, "secret_index": v.expected_secret_index.unwrap()}),
                    "{}",
                    v.name
                );
            }
            failure => {
                assert_eq!(code, 1, "{}: {stderr}", v.name);
                assert_eq!(json["ok"], false, "{}", v.name);
                assert_eq!(json["code"], failure, "{}", v.name);
                assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
        }
    }
}
