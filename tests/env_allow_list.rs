//! The environment is read in one place: `src/env.rs`, through its allow-list. Any other
//! `std::env::` use under `src/` fails here, and the trust-model page lists every allowed variable.

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
