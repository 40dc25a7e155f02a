//! Help that teaches and a shell that completes: every `--help` ends with examples; `cronix
//! completion bash` installs dynamic completion that offers the installed specs' `APP.JOB` names (in
//! a real bash) and never fails the shell; no command panics or complains when its reader goes away
//! (`| head -1`).

use std::path::Path;
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cronix")
}

fn subcommands() -> Vec<String> {
    cronix::cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

/// The last block of a help text: `Examples:` and its indented command lines.
fn ends_with_examples(help: &str) -> bool {
    let Some((_, list)) = help.rsplit_once("\nExamples:\n") else {
        return false;
    };
    let lines: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
    !lines.is_empty()
        && lines.iter().all(|l| {
            [
                "  cronix ",
                "  sudo cronix ",
                "  source <(cronix ",
                "      ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
}

#[test]
fn every_help_ends_with_examples() {
    let mut pages: Vec<Vec<String>> = vec![vec![]];
    pages.extend(subcommands().into_iter().map(|s| vec![s]));
    for page in pages {
        for flag in ["--help", "-h"] {
            let out = Command::new(bin()).args(&page).arg(flag).output().unwrap();
            assert!(out.status.success(), "{page:?} {flag}");
            let help = String::from_utf8(out.stdout).unwrap();
            assert!(ends_with_examples(&help), "{page:?} {flag}:\n{help}");
        }
    }
}

/// A host with two installed specs and a config naming the spec dir.
fn host() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    for name in ["billing.settle", "shop.sweep"] {
        std::fs::write(jobs.join(format!("{name}.json")), "{}").unwrap();
    }
    std::fs::write(
        dir.path().join("cronix.yaml"),
        format!("spec_dir: {}\n", jobs.display()),
    )
    .unwrap();
    dir
}

/// What bash offers for the words of `line` (the last word being completed), through the script
/// `cronix completion bash` prints.
fn bash_completes(config: &Path, words: &[&str]) -> (Vec<String>, String) {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        r#"source <("{bin}" completion bash) || exit 9
COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
_clap_complete_cronix cronix "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        bin = bin(),
        words = quoted.join(" "),
        cword = words.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env("CRONIX_CONFIG", config)
        .env("HOME", config.parent().unwrap())
        .output()
        .expect("bash runs the completion script");
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bash_completes_job_names_from_the_installed_specs() {
    let host = host();
    let config = host.path().join("cronix.yaml");
    for words in [
        &["cronix", "logs", ""][..],
        &["cronix", "show", ""],
        &["cronix", "history", ""],
        &["cronix", "trigger", ""],
    ] {
        let (offered, stderr) = bash_completes(&config, words);
        assert!(
            offered.contains(&"billing.settle".to_string())
                && offered.contains(&"shop.sweep".to_string()),
            "{words:?}: {offered:?}"
        );
        assert!(stderr.is_empty(), "{stderr}");
    }
    let (offered, _) = bash_completes(&config, &["cronix", "logs", "sh"]);
    assert_eq!(offered, ["shop.sweep"]);
    let (offered, _) = bash_completes(&config, &["cronix", "glo"]);
    assert_eq!(offered, ["global-status"]);
}

#[test]
fn completion_never_fails_the_shell() {
    let host = host();
    // A config that does not exist, and one whose spec dir is a file: no job names, no error.
    let missing = host.path().join("missing.yaml");
    let broken = host.path().join("broken.yaml");
    std::fs::write(host.path().join("not-a-dir"), "x").unwrap();
    std::fs::write(
        &broken,
        format!("spec_dir: {}\n", host.path().join("not-a-dir").display()),
    )
    .unwrap();
    for config in [&missing, &broken] {
        let (offered, stderr) = bash_completes(config, &["cronix", "logs", ""]);
        assert!(!offered.iter().any(|o| o.contains('.')), "{offered:?}");
        assert!(offered.contains(&"--follow".to_string()), "{offered:?}");
        assert!(stderr.is_empty(), "{stderr}");
    }
    let out = Command::new(bin())
        .args(["--", "cronix", "logs", ""])
        .env("COMPLETE", "no-such-shell")
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let host = host();
    let manifest = host.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"version":1,"app":"shop","jobs":[{"name":"sweep","schedule":"@hourly","request":{"url":"https://shop.example.com/cron/sweep"},"auth":{"secret_refs":["env:SHOP_SECRET"]}}]}"#,
    )
    .unwrap();
    let state = host.path().join("state");
    std::fs::create_dir_all(state.join("history")).unwrap();
    let record = r#"{"run_id":"r","app":"billing","job":"settle","fire_time":"2026-01-01T00:00:00Z","started_at":"2026-01-01T00:00:00.000Z","duration_ms":3,"attempts":1,"status":"ok","http_status":200,"exit_code":0,"error":null}"#;
    std::fs::write(
        state.join("history/billing.settle.jsonl"),
        format!("{record}\n").repeat(2000),
    )
    .unwrap();
    let state = state.display().to_string();
    let manifest = manifest.display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["completion", "bash"],
        vec!["completion", "--static", "bash"],
        vec!["completion", "--static", "zsh"],
        vec!["--help"],
        vec!["help", "apply"],
        vec!["next", "* * * * *", "--count", "1000"],
        vec!["validate", "--canonical", &manifest],
        vec!["logs", "--state-dir", &state, "--limit", "0"],
        vec!["history", "billing.settle", "--state-dir", &state],
        vec!["version"],
    ];
    for args in cases {
        let mut child = Command::new(bin())
            .args(&args)
            .env("CRONIX_CONFIG", host.path().join("cronix.yaml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
