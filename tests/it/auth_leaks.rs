//! Every failure path of `sign` and `verify`, run through the binary with a known sentinel secret
//! within reach: neither the sentinel, nor its hex, nor the signature it would produce may appear in
//! any output.

use crate::auth_support;

use std::os::unix::fs::PermissionsExt;

use auth_support::{Sandbox, run};
use cronix::core::secret::Secret;
use cronix::core::signature::sign;

const SENTINEL: &str = "SENTINEL_s3cr3t_4f9a1c7e2b";
const TS: i64 = 1_730_000_000;
const METHOD: &str = "POST";
const PATH: &str = "/api/v1/scheduled/settle-invoices?shard=2";

/// Everything that must never be printed.
fn forbidden() -> Vec<String> {
    let header = sign(
        &Secret::new(SENTINEL.as_bytes().to_vec()),
        TS,
        METHOD,
        PATH,
        b"",
    );
    let v1 = header.expose().split_once(",v1=").unwrap().1.to_string();
    vec![
        SENTINEL.to_string(),
        SENTINEL.to_lowercase(),
        hex::encode(SENTINEL),
        hex::encode_upper(SENTINEL),
        v1.clone(),
        v1.to_uppercase(),
        v1[..16].to_string(),
    ]
}

/// A failure case: its name and the arguments after `cronix --config <sandbox config>`.
struct Case {
    name: &'static str,
    /// A fragment of the message that shows the case failed for its own reason.
    expect: &'static str,
    env: Vec<(&'static str, String)>,
    args: Vec<String>,
}

fn sign_args(refs: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = refs
        .iter()
        .flat_map(|r| ["--secret-ref".to_string(), r.to_string()])
        .collect();
    args.extend(
        [
            "sign",
            "--method",
            METHOD,
            "--path",
            PATH,
            "--timestamp",
            &TS.to_string(),
        ]
        .map(String::from),
    );
    args
}

fn verify_args(refs: &[&str], signature: Option<&str>, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = refs
        .iter()
        .flat_map(|r| ["--secret-ref".to_string(), r.to_string()])
        .collect();
    args.extend(["verify", "--method", METHOD, "--path", PATH].map(String::from));
    if let Some(s) = signature {
        args.extend(["--signature".to_string(), s.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn cases(sandbox: &mut Sandbox) -> Vec<Case> {
    let good_file = sandbox.secret_ref(SENTINEL.as_bytes());
    let writable = sandbox.file(SENTINEL.as_bytes(), 0o666);
    let writable_ref = format!("file:{}", writable.display());
    let link = sandbox.dir.path().join("link-to-secret");
    std::os::unix::fs::symlink(good_file.trim_start_matches("file:"), &link).unwrap();
    let link_ref = format!("file:{}", link.display());
    let big = sandbox.file(SENTINEL.repeat(3000).as_bytes(), 0o600);
    let big_ref = format!("file:{}", big.display());
    let missing_ref = format!("file:{}/absent", sandbox.dir.path().display());
    let dir_ref = format!("file:{}", sandbox.dir.path().display());
    let unreadable = sandbox.file(SENTINEL.as_bytes(), 0o000);
    let unreadable_ref = format!("file:{}", unreadable.display());
    let raw_sentinel = format!("raw:{SENTINEL}");
    let right = sign(
        &Secret::new(SENTINEL.as_bytes().to_vec()),
        TS,
        METHOD,
        PATH,
        b"",
    )
    .expose()
    .to_string();
    let wrong = format!("t={TS},v1={}", "0".repeat(64));
    let now_ok = TS.to_string();
    let stale = (TS + 301).to_string();
    let env = || vec![("SENTINEL_VAR", SENTINEL.to_string())];
    let bad_ref_plus = format!("{SENTINEL}+/=");
    let bad_ref_raw = format!("raw:{SENTINEL} x");
    let bad_ref_digit = format!("9{SENTINEL}");
    let one_byte_body = sandbox.file(b"x", 0o644).display().to_string();

    let mut out = vec![
        Case {
            name: "missing env var while the sentinel is in another",
            expect: "CRONIX_TEST_UNSET is not set",
            env: env(),
            args: sign_args(&["env:CRONIX_TEST_UNSET"]),
        },
        Case {
            name: "group/other-writable secret file",
            expect: "is writable by group or others",
            env: env(),
            args: sign_args(&[&writable_ref]),
        },
        Case {
            name: "symlink to the secret file",
            expect: "is a symbolic link",
            env: env(),
            args: sign_args(&[&link_ref]),
        },
        Case {
            name: "secret file over 64 KiB",
            expect: "larger than the 65536-byte limit",
            env: env(),
            args: sign_args(&[&big_ref]),
        },
        Case {
            name: "missing secret file",
            expect: "does not exist",
            env: env(),
            args: sign_args(&[&missing_ref]),
        },
        Case {
            name: "directory as secret file",
            expect: "is not a regular file",
            env: env(),
            args: sign_args(&[&dir_ref]),
        },
        Case {
            name: "secret itself passed as a reference with + / =",
            expect: "not allowed at position",
            env: env(),
            args: sign_args(&[&bad_ref_plus]),
        },
        Case {
            name: "raw literal with a space",
            expect: "not allowed at position",
            env: env(),
            args: sign_args(&[&bad_ref_raw]),
        },
        Case {
            name: "reference starting with a digit",
            expect: "must start with a letter",
            env: env(),
            args: sign_args(&[&bad_ref_digit]),
        },
        Case {
            name: "missing body file",
            expect: "--body-file /nonexistent/body",
            env: env(),
            args: [
                sign_args(&["env:SENTINEL_VAR"]),
                vec!["--body-file".into(), "/nonexistent/body".into()],
            ]
            .concat(),
        },
        Case {
            name: "signature mismatch",
            expect: "SignatureMismatch",
            env: env(),
            args: verify_args(&["env:SENTINEL_VAR"], Some(&wrong), &["--now", &now_ok]),
        },
        Case {
            name: "signature mismatch with a raw reference",
            expect: "SignatureMismatch",
            env: vec![],
            args: verify_args(&[&raw_sentinel], Some(&wrong), &["--now", &now_ok]),
        },
        Case {
            name: "stale timestamp on the right signature",
            expect: "StaleTimestamp",
            env: env(),
            args: verify_args(&[&good_file], Some(&right), &["--now", &stale]),
        },
        Case {
            name: "right signature for another body",
            expect: "SignatureMismatch",
            env: env(),
            args: verify_args(
                &["env:SENTINEL_VAR"],
                Some(&right),
                &["--now", &now_ok, "--body-file", &one_byte_body],
            ),
        },
        Case {
            name: "malformed header",
            expect: "MalformedHeader",
            env: env(),
            args: verify_args(
                &["env:SENTINEL_VAR"],
                Some(&right[..40]),
                &["--now", &now_ok],
            ),
        },
        Case {
            name: "missing signature",
            expect: "MissingSignature",
            env: env(),
            args: verify_args(&["env:SENTINEL_VAR"], None, &["--now", &now_ok]),
        },
        Case {
            name: "skew window too small",
            expect: "at least 30 s",
            env: env(),
            args: verify_args(&["env:SENTINEL_VAR"], Some(&wrong), &["--max-skew", "5"]),
        },
        Case {
            name: "verify with a writable secret file",
            expect: "is writable by group or others",
            env: env(),
            args: verify_args(&[&writable_ref], Some(&wrong), &["--now", &now_ok]),
        },
    ];
    // Root reads any file, so an unreadable mode only fails for other users.
    if rustix::process::geteuid().as_raw() != 0 {
        out.push(Case {
            name: "unreadable secret file",
            expect: "permission denied",
            env: env(),
            args: sign_args(&[&unreadable_ref]),
        });
    }
    out
}

fn assert_nothing_leaks(name: &str, output_name: &str, text: &str) {
    for secret in forbidden() {
        assert!(
            !text.contains(&secret),
            "{name}: {output_name} contains {secret:?}:\n{text}"
        );
    }
}

#[test]
fn no_failure_path_prints_the_secret_or_a_signature() {
    let mut sandbox = Sandbox::new();
    for case in cases(&mut sandbox) {
        for output in ["table", "json"] {
            let mut cmd = sandbox.cronix();
            cmd.envs(case.env.iter().map(|(k, v)| (*k, v.as_str())))
                .args(["-o", output])
                .args(&case.args);
            let (code, stdout, stderr) = run(&mut cmd);
            assert_ne!(code, 0, "{}: expected a failure, got {stdout}", case.name);
            assert!(
                stdout.contains(case.expect) || stderr.contains(case.expect),
                "{} [{output}]: expected {:?} in\n{stdout}{stderr}",
                case.name,
                case.expect
            );
            assert_nothing_leaks(case.name, "stdout", &stdout);
            assert_nothing_leaks(case.name, "stderr", &stderr);
        }
    }
}

#[test]
fn env_file_errors_name_the_line_but_not_the_value() {
    let mut sandbox = Sandbox::new();
    let env_file = sandbox.file(
        format!("# secrets\nOK=1\nTOKEN=\"{SENTINEL}\n").as_bytes(),
        0o600,
    );
    std::fs::write(
        &sandbox.config,
        format!("env_file: {}\n", env_file.display()),
    )
    .unwrap();
    let (code, stdout, stderr) = run(sandbox.cronix().args(sign_args(&["env:OK"])));
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("env file {}: line 3:", env_file.display())),
        "{stderr}"
    );
    assert_nothing_leaks("env file syntax", "stdout", &stdout);
    assert_nothing_leaks("env file syntax", "stderr", &stderr);

    std::fs::write(&env_file, format!("TOKEN={SENTINEL}\n")).unwrap();
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, stdout, stderr) = run(sandbox.cronix().args(sign_args(&["env:TOKEN"])));
    assert_eq!(code, 1);
    assert!(stderr.contains("writable by group or others"), "{stderr}");
    assert_nothing_leaks("env file mode", "stdout", &stdout);
    assert_nothing_leaks("env file mode", "stderr", &stderr);
}

#[test]
fn the_sentinel_case_is_not_vacuous_sign_does_print_the_signature_on_success() {
    let sandbox = Sandbox::new();
    let (code, stdout, _) = run(sandbox
        .cronix()
        .env("SENTINEL_VAR", SENTINEL)
        .args(sign_args(&["env:SENTINEL_VAR"])));
    assert_eq!(code, 0);
    let v1 = &forbidden()[4];
    assert!(stdout.contains(v1.as_str()), "{stdout}");
}
