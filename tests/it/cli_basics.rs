//! Command-line basics through the real binary: usage errors exit 2, except under `trigger` (cron's shim
//! must report "internal", 3); `version` and `completion` print what they promise.

use assert_cmd::Command;

fn cronix(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("cronix")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn trigger_argument_errors_exit_3_not_2() {
    assert_eq!(cronix(&["trigger"]).status.code(), Some(3));
    assert_eq!(
        cronix(&["trigger", "--no-such-flag", "a.b"]).status.code(),
        Some(3)
    );
}

#[test]
fn other_usage_errors_exit_2() {
    assert_eq!(cronix(&["apply"]).status.code(), Some(2));
    assert_eq!(cronix(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn help_and_version_exit_0() {
    let help = cronix(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("trigger"));
    let version = cronix(&["-o", "json", "version"]);
    let doc: serde_json::Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["protocol"], 1);
}

#[test]
fn completion_scripts_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = cronix(&["completion", "--static", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("global-status") && text.contains("trigger"),
            "{shell}"
        );
    }
}
