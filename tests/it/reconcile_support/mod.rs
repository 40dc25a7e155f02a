//! Test builder for the reconciler: a temp dir holding a crontab file, a spec dir, a state dir and a
//! lock dir, manifests written as files, and the real `cronix` binary run against them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const TRIGGER_BIN: &str = "/usr/local/bin/cronix";
pub const SECRET_REF: &str = "env:CRONIX_TEST_SECRET";

pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(env.crontab().parent().unwrap()).unwrap();
        std::fs::write(env.config(), b"").unwrap();
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn crontab(&self) -> PathBuf {
        self.root().join("cron.d/cronix")
    }
    pub fn spec_dir(&self) -> PathBuf {
        self.root().join("jobs")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state")
    }
    pub fn lock_dir(&self) -> PathBuf {
        self.root().join("locks")
    }
    fn config(&self) -> PathBuf {
        self.root().join("cronix.yaml")
    }

    /// Write a manifest file and return its path.
    pub fn manifest(&self, name: &str, doc: &Value) -> String {
        let path = self.root().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// `cronix <sub> <args…>` with the target flags of this env (a flag given in `args` replaces its
    /// default; `--secret-ref` adds), an empty operator config, TZ=UTC, and the operator allowing
    /// `SECRET_REF`.
    pub fn cmd(&self, sub: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(cronix_bin());
        let defaults: Vec<String> = self
            .target_flags()
            .chunks(2)
            .filter(|pair| pair[0] == "--secret-ref" || !args.contains(&pair[0].as_str()))
            .flatten()
            .cloned()
            .collect();
        cmd.arg(sub).args(args).args(defaults);
        self.environment(&mut cmd);
        cmd
    }

    /// `cronix <args…>` exactly as given (no target flags), with this env's config, HOME and TZ.
    pub fn cmd_plain(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cronix_bin());
        cmd.args(args);
        self.environment(&mut cmd);
        cmd
    }

    pub fn target_flags(&self) -> Vec<String> {
        vec![
            "--crontab-path".into(),
            self.crontab().display().to_string(),
            "--spec-dir".into(),
            self.spec_dir().display().to_string(),
            "--state-dir".into(),
            self.state_dir().display().to_string(),
            "--lock-dir".into(),
            self.lock_dir().display().to_string(),
            "--trigger-bin".into(),
            TRIGGER_BIN.into(),
            "--run-as".into(),
            cronix::shell::passwd::current_user(),
            "--secret-ref".into(),
            SECRET_REF.into(),
        ]
    }

    pub fn environment(&self, cmd: &mut Command) {
        cmd.env("CRONIX_CONFIG", self.config())
            .env("HOME", self.root())
            .env("TZ", "UTC")
            .env_remove("CRONIX_TEST_PAUSE_AT");
    }

    /// `environment` for a `std::process::Command`.
    pub fn environment_std(&self, cmd: &mut std::process::Command) {
        cmd.env("CRONIX_CONFIG", self.config())
            .env("HOME", self.root())
            .env("TZ", "UTC")
            .env_remove("CRONIX_TEST_PAUSE_AT");
    }

    pub fn apply(&self, manifest: &str) -> assert_cmd::assert::Assert {
        self.cmd("apply", &["--manifest", manifest]).assert()
    }

    pub fn read_crontab(&self) -> Vec<u8> {
        std::fs::read(self.crontab()).unwrap_or_default()
    }

    pub fn crontab_text(&self) -> String {
        String::from_utf8_lossy(&self.read_crontab()).into_owned()
    }

    /// Every file in the spec dir with its bytes (temp files included).
    pub fn spec_files(&self) -> BTreeMap<String, Vec<u8>> {
        dir_files(&self.spec_dir())
    }

    pub fn audit_lines(&self) -> usize {
        std::fs::read_to_string(self.state_dir().join("audit.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

/// Every file in a dir with its bytes (a missing dir is empty).
pub fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// File names in a dir.
pub fn names_in(dir: &Path) -> Vec<String> {
    dir_files(dir).into_keys().collect()
}

/// (inode, mtime in ns) of a file: a rewrite changes the inode (rename) or the mtime.
pub fn identity(path: &Path) -> (u64, i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.mtime(), meta.mtime_nsec())
}

/// Set a file's mtime far in the past, so a later write cannot leave it equal by chance.
pub fn age(path: &Path) {
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

/// A manifest for `app` with jobs given as (name, schedules).
pub fn manifest(app: &str, jobs: &[(&str, &[&str])]) -> Value {
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|(name, schedules)| {
            json!({
                "name": name,
                "schedules": schedules,
                "request": {"url": format!("https://{app}.example.com/cron/{name}")},
            })
        })
        .collect();
    json!({"version": 1, "app": app, "jobs": jobs})
}

/// Owned entry lines (entry + marker) of `app` in crontab text.
pub fn owned_lines<'a>(text: &'a str, app: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let needle = format!("# cronix:owned app={app} ");
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with(&needle) && i > 0 {
            out.push(lines[i - 1]);
            out.push(*line);
        }
    }
    out
}

pub fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

pub fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

pub fn json_of(assert: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&assert.get_output().stdout).unwrap()
}

/// The check called `name` in `doctor -o json` output.
pub fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {doc}"))
}

/// The cronix binary the tests run: this build's, or the one `CRONIX_TEST_BIN` names (`.ci/run` runs
/// the trust model's high findings against the release binary that way).
pub fn cronix_bin() -> std::path::PathBuf {
    std::env::var_os("CRONIX_TEST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_cronix")))
}
