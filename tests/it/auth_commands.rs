//! `cronix sign` and `cronix verify` as an operator uses them: references from flags or the config,
//! the config's env file, bodies from files or stdin, skipped empty secrets, and the skew window.

use crate::auth_support;

use auth_support::{Sandbox, run};
use cronix::core::secret::Secret;
use cronix::core::signature::sign;

const PATH: &str = "/api/v1/scheduled/settle-invoices";
const TS: &str = "1730000000";

fn expected_header(secret: &str, body: &[u8]) -> String {
    sign(
        &Secret::new(secret.as_bytes().to_vec()),
        1_730_000_000,
        "POST",
        PATH,
        body,
    )
    .expose()
    .to_string()
}

fn sign_args() -> [&'static str; 7] {
    [
        "sign",
        "--method",
        "POST",
        "--path",
        PATH,
        "--timestamp",
        TS,
    ]
}

#[test]
fn config_refs_and_env_file_are_used_when_no_flag_is_given() {
    let mut sandbox = Sandbox::new();
    let env_file = sandbox.file(
        b"# billing\nexport BILLING_CRON_V2='from-env-file'\n",
        0o600,
    );
    std::fs::write(
        &sandbox.config,
        format!(
            "version: 1\nsecret_refs: [BILLING_CRON_V2]\nenv_file: {}\n",
            env_file.display()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(sandbox
        .cronix()
        .env("BILLING_CRON_V2", "from-process-env")
        .args(sign_args()));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim_end(), expected_header("from-env-file", b""));
}

#[test]
fn flags_win_over_the_config_refs() {
    let mut sandbox = Sandbox::new();
    let flag_secret = sandbox.secret_ref(b"  flag-secret\n");
    std::fs::write(&sandbox.config, "secret_refs: [env:CONFIG_ONLY]\n").unwrap();
    let (code, stdout, stderr) = run(sandbox
        .cronix()
        .args(["--secret-ref", &flag_secret])
        .args(sign_args()));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim_end(), expected_header("flag-secret", b""));
}

#[test]
fn a_body_from_stdin_signs_like_the_same_body_from_a_file() {
    let mut sandbox = Sandbox::new();
    let body = b"\x00\x01binary\xffbody".to_vec();
    let body_file = sandbox.file(&body, 0o644);
    let sign_with = |extra: &[&str], stdin: Vec<u8>| {
        let (code, stdout, stderr) = run(sandbox
            .cronix()
            .env("K", "k")
            .args(["--secret-ref", "env:K"])
            .args(sign_args())
            .args(extra)
            .write_stdin(stdin));
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let from_file = sign_with(&["--body-file", body_file.to_str().unwrap()], Vec::new());
    let from_stdin = sign_with(&["--body-file", "-"], body.clone());
    assert_eq!(from_file, from_stdin);
    assert_eq!(from_file.trim_end(), expected_header("k", &body));
}

#[test]
fn an_empty_secret_is_skipped_with_a_warning_and_the_index_counts_it() {
    let sandbox = Sandbox::new();
    let header = expected_header("new", b"");
    let (code, stdout, stderr) = run(sandbox
        .cronix()
        .env("OLD", "")
        .env("NEW", "new")
        .args([
            "--secret-ref",
            "env:OLD",
            "--secret-ref",
            "env:NEW",
            "-o",
            "json",
        ])
        .args(["verify", "--method", "post", "--path", PATH, "--now", TS])
        .args(["--signature", &header]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "{\"ok\":true,\"secret_index\":1}\n");
    assert!(
        stderr.contains("warning: secret env:OLD resolved to an empty value; skipped"),
        "{stderr}"
    );
}

#[test]
fn table_output_is_one_readable_line() {
    let sandbox = Sandbox::new();
    let header = expected_header("k", b"");
    let verify = |signature: &str| {
        run(sandbox
            .cronix()
            .env("K", "k")
            .args([
                "--secret-ref",
                "env:K",
                "verify",
                "--method",
                "POST",
                "--path",
                PATH,
            ])
            .args(["--now", TS, "--signature", signature]))
    };
    let (code, stdout, _) = verify(&header);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "ok: the signature matches secret 0 (env:K)\n")
    );
    let (code, stdout, _) = verify("t=1730000000");
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "MalformedHeader: the signature header has no v1=<64 hex digits> segment\n"
    );
}

#[test]
fn every_empty_secret_or_no_reference_at_all_is_an_error() {
    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox.cronix().args(sign_args()));
    assert_eq!(code, 1);
    assert!(stderr.contains("no secret reference given"), "{stderr}");
    let (code, _, stderr) = run(sandbox
        .cronix()
        .env("EMPTY", "")
        .args(["--secret-ref", "EMPTY"])
        .args(sign_args()));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("every secret reference resolved to an empty value"),
        "{stderr}"
    );
}

#[test]
fn the_skew_window_is_at_least_thirty_seconds() {
    let sandbox = Sandbox::new();
    let header = expected_header("k", b"");
    let verify_at = |skew: &str, now: &str| {
        run(sandbox
            .cronix()
            .env("K", "k")
            .args([
                "--secret-ref",
                "env:K",
                "-o",
                "json",
                "verify",
                "--method",
                "POST",
            ])
            .args([
                "--path",
                PATH,
                "--signature",
                &header,
                "--now",
                now,
                "--max-skew",
                skew,
            ]))
    };
    let (code, stdout, stderr) = verify_at("29", TS);
    assert_eq!(
        (code, stdout.as_str()),
        (2, ""),
        "a flag value out of range is a usage error"
    );
    assert!(stderr.contains("--max-skew 29"), "{stderr}");
    assert_eq!(verify_at("30", "1730000030").0, 0);
    let (code, stdout, _) = verify_at("30", "1730000031");
    assert_eq!(code, 1);
    assert!(stdout.contains("\"code\":\"StaleTimestamp\""), "{stdout}");
}
