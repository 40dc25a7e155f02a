//! Docs that run: every ```sh block of README.md and docs/*.md is run here as written (only paths
//! and hosts move: `/etc/crontab` and the default dirs into a temp dir, `https://billing.example.com`
//! to a local server that verifies the signed fetch), or by the test named for it; every other block
//! that shows a command is fenced ```text, an illustration. A block that fails, or a runnable block
//! no test knows, fails here.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cronix::core::secret::Secret;
use cronix::core::signature;
use serde_json::json;
use support::{Reply, SENTINEL, Server};

/// One fenced block: the file, the line of its fence, its info string and its text.
struct Block {
    file: String,
    line: usize,
    info: String,
    text: String,
}

fn blocks() -> Vec<Block> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let mut open: Option<(usize, String, String)> = None;
        for (n, line) in text.lines().enumerate() {
            match (&mut open, line.strip_prefix("```")) {
                (None, Some(info)) => open = Some((n + 1, info.trim().to_string(), String::new())),
                (Some(_), Some(_)) => {
                    let (line, info, text) = open.take().unwrap();
                    out.push(Block {
                        file: name.clone(),
                        line,
                        info,
                        text,
                    });
                }
                (Some((_, _, body)), None) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
    }
    out
}

/// Whether a block shows a command someone would type (a line that starts with a program name
/// cronix docs use).
fn shows_a_command(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        ["cronix ", "cargo ", "systemctl ", "sudo ", "install "]
            .iter()
            .any(|p| l.starts_with(p))
    })
}

#[test]
fn every_block_that_shows_a_command_is_run_or_marked_an_illustration() {
    let unmarked: Vec<String> = blocks()
        .into_iter()
        .filter(|b| shows_a_command(&b.text) && b.info != "sh" && b.info != "text")
        .map(|b| format!("{}:{} (```{})", b.file, b.line, b.info))
        .collect();
    assert!(
        unmarked.is_empty(),
        "fence each of these ```sh (run by tests/it/docs_commands.rs) or ```text (an illustration):\n{}",
        unmarked.join("\n")
    );
}

/// A temp host: `cronix` on `PATH`, a config that moves the default dirs into it, its `/etc`.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().unwrap(),
        };
        let bin = host.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cronix"), bin.join("cronix")).unwrap();
        std::fs::create_dir_all(host.path("etc")).unwrap();
        let root = host.dir.path().display();
        std::fs::write(
            host.path("cronix.yaml"),
            format!(
                "spec_dir: {root}/jobs\nstate_dir: {root}/state\nlock_dir: {root}/locks\n\
                 run_as: {}\n",
                cronix::shell::passwd::current_user()
            ),
        )
        .unwrap();
        host
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Run `script` with bash (`set -e`: every command must succeed) in the host's dir.
    fn run(&self, block: &Block, script: &str, env: &[(&str, String)]) -> String {
        let path = format!("{}:/usr/bin:/bin", self.path("bin").display());
        let out = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", script])
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("CRONIX_CONFIG", self.path("cronix.yaml"))
            .env("TZ", "UTC")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}:{} failed as written ({}):\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
            block.file,
            block.line,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// The README's migration recipe: validate the signed manifest, adopt the job's hand-written line
/// (dry run, then for real), then apply: every step exits 0 and the line becomes an owned entry.
fn migration(block: &Block) {
    let manifest = json!({"version": 1, "app": "billing", "jobs": [{
        "name": "reconcile-payments", "schedules": ["*/15 * * * *"],
        "request": {"url": "https://billing.example.com/cron/reconcile-payments"},
        "auth": {"secret_refs": ["env:CRON_SECRET"]}}]});
    let server = Server::start(vec![Reply::status(200).body(&manifest.to_string())]);
    let host = Host::new();
    std::fs::write(
        host.path("etc/crontab"),
        "SHELL=/bin/sh\n0,15,30,45 * * * * root /usr/local/bin/cronix trigger billing.reconcile-payments\n",
    )
    .unwrap();
    let base = server.url("");
    let script = block
        .text
        .replace("https://billing.example.com", &base)
        .replace(
            "/etc/crontab",
            &host.path("etc/crontab").display().to_string(),
        );
    host.run(block, &script, &[("CRON_SECRET", SENTINEL.to_string())]);
    let crontab = std::fs::read_to_string(host.path("etc/crontab")).unwrap();
    assert!(
        crontab.contains("# cronix:owned app=billing job=reconcile-payments"),
        "{crontab}"
    );
    assert!(server.received().iter().all(|r| r.verified == Ok(0)));
}

/// The alert receiver's shell check: verify an alert's signature from the request's variables.
fn alert_verify(block: &Block) {
    let host = Host::new();
    let body = br#"{"event":"failing","app":"billing-service","job":"settle-invoices"}"#;
    std::fs::write(host.path("body.json"), body).unwrap();
    let secret = Secret::new(b"alert-secret-0123".to_vec());
    let now = jiff::Timestamp::now().as_second();
    let header = signature::sign(&secret, now, "POST", "/cronix", body);
    let out = host.run(
        block,
        &block.text,
        &[
            ("ALERT_SECRET", "alert-secret-0123".to_string()),
            ("REQUEST_PATH", "/cronix".to_string()),
            ("HTTP_X_CRON_SIGNATURE", header.expose().to_string()),
        ],
    );
    assert!(out.contains("\"ok\":true"), "{out}");
}

#[test]
fn the_sh_blocks_run_as_written() {
    let mut ran = 0;
    for block in blocks().into_iter().filter(|b| b.info == "sh") {
        let first = block.text.lines().next().unwrap_or("").to_string();
        match (block.file.as_str(), first.as_str()) {
            ("README.md", l) if l.starts_with("cargo run --quiet -- apply") => readme_demo(&block),
            ("README.md", l) if l.starts_with("cronix validate https://billing.example.com") => {
                migration(&block)
            }
            ("docs/alerts-and-metrics.md", l) if l.starts_with("cronix verify") => {
                alert_verify(&block)
            }
            // Run inside a booted systemd by tests/systemd_e2e.rs (the page's own block).
            ("docs/systemd.md", l)
                if l.starts_with("cronix apply systemd-timer")
                    || l.starts_with("install -d -m 0700 /etc/credstore.encrypted") =>
            {
                continue;
            }
            _ => panic!(
                "{}:{}: a ```sh block no test runs; add it to tests/it/docs_commands.rs or fence it \
                 ```text if it is an illustration:\n{}",
                block.file, block.line, block.text
            ),
        }
        ran += 1;
    }
    assert!(ran >= 3, "ran {ran} blocks");
}

/// The README's first two commands: the demo apply (cargo run = this build's binary, in a copy of
/// examples/ so the demo's out/ stays clean) twice, the second changing nothing. The second command
/// (`cargo test`) is the suite running this.
fn readme_demo(block: &Block) {
    let host = Host::new();
    let copy = Command::new("cp")
        .args([
            "-r",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples"),
            &host.path("examples").display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(copy.success());
    // A fresh clone: out/ holds only its .gitignore.
    for entry in std::fs::read_dir(host.path("examples/demo/out")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != ".gitignore") {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    let apply = block
        .text
        .lines()
        .next()
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .trim();
    let script = apply.replace("cargo run --quiet --", "cronix");
    host.run(block, &script, &[]);
    let again = host.run(block, &script, &[]);
    assert!(again.contains("nothing changed"), "{again}");
    assert!(host.path("examples/demo/out/crontab").exists());
}
