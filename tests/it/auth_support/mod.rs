//! Shared by the `auth_*` tests: the protocol's conformance vectors, and a sandbox that runs the
//! real `cronix` binary with secrets in private temp files and an empty operator config.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;
use serde::Deserialize;

/// One entry of `tests/data/auth-vectors.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vector {
    pub name: String,
    pub kind: String,
    pub secret: Option<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    pub method: String,
    pub path: String,
    pub body_b64: String,
    pub timestamp: Option<i64>,
    pub expected_header: Option<String>,
    pub header: Option<String>,
    pub now: Option<i64>,
    pub max_skew_seconds: Option<i64>,
    pub expect: Option<String>,
    pub expected_secret_index: Option<usize>,
}

impl Vector {
    pub fn body(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_b64)
            .unwrap()
    }
    /// The window the vector verifies with (the protocol's default when it names none).
    pub fn max_skew(&self) -> i64 {
        self.max_skew_seconds.unwrap_or(300)
    }
}

#[derive(Deserialize)]
struct VectorFile {
    version: u32,
    vectors: Vec<Vector>,
}

pub fn vectors() -> Vec<Vector> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auth-vectors.json");
    let file: VectorFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file.version, 1);
    file.vectors
}

/// A temp dir holding an empty operator config, secret files and bodies for one test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    files: usize,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cronix.yaml");
        std::fs::write(&config, "version: 1\n").unwrap();
        Sandbox {
            dir,
            config,
            files: 0,
        }
    }

    /// Write `contents` to a new file with `mode` and return its path.
    pub fn file(&mut self, contents: &[u8], mode: u32) -> PathBuf {
        self.files += 1;
        let path = self.dir.path().join(format!("f{}", self.files));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// A `file:` reference to a new 0600 file holding `secret`.
    pub fn secret_ref(&mut self, secret: &[u8]) -> String {
        format!("file:{}", self.file(secret, 0o600).display())
    }

    /// `cronix --config <empty config>` with a clean environment (no inherited secrets or config).
    pub fn cronix(&self) -> Command {
        let mut cmd = Command::cargo_bin("cronix").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .arg("--config")
            .arg(&self.config);
        cmd
    }
}

/// Run a command and return (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
