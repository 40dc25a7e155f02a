//! Layering rules checked on the source: the environment is read in one place (`src/env.rs`, through
//! its allow-list, which the trust-model page prints), and clap's types stop at the commands: the
//! shell and the core take settings (`src/settings.rs`), never a `crate::cli` type.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_env_module_reads_the_environment() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let allowed = src.join("env.rs");
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| **f != allowed) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("std::env::")
                || code.contains("env::var")
                || code.contains("use std::env")
            {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read the environment through crate::env (src/env.rs) only:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_trust_model_page_prints_the_allow_list() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/trust-model.md"))
            .unwrap();
    let lists = cronix::env::ALLOWED.iter().chain(cronix::env::DEBUG_ONLY);
    for name in lists.flat_map(|(names, _)| names.split(", ")) {
        assert!(
            page.contains(&format!("`{name}`")),
            "docs/trust-model.md does not list `{name}`"
        );
    }
}

#[test]
fn clap_reads_no_variable_either() {
    // clap's `env` feature would let a variable stand in for a flag.
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let clap = manifest.lines().find(|l| l.starts_with("clap =")).unwrap();
    assert!(!clap.contains("\"env\""), "{clap}");
}

#[test]
fn the_shell_and_the_core_take_settings_not_clap_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("shell"), &mut files);
    rust_files(&src.join("core"), &mut files);
    assert!(files.len() > 30, "found only {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("crate::cli") || text.contains("clap::")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these take clap types; give them crate::settings values:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn exit_statuses_are_named_in_one_place_and_the_process_ends_in_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let vocabulary = src.join("core/exit_status.rs");
    let error = src.join("error.rs");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let literal_status = code.contains("ExitStatus(") && *file != vocabulary;
            let ends_process = (code.contains("process::exit(")
                || code.contains("ExitCode::from("))
                && *file != error;
            if literal_status || ends_process {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "pick a named status from core::exit_status and end the process through crate::error:\n{}",
        offenders.join("\n")
    );
}
