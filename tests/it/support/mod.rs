//! Test fixtures for the trigger shim: a temp dir with spec, lock and state dirs and a config; a local
//! HTTP server that answers from a script and verifies every request's signature with the project's
//! verifier; and a runner for the real binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cronix::core::history::RunRecord;
use cronix::core::secret::Secret;
use cronix::core::signature;
use serde_json::{Value, json};

/// A secret value that must never show up anywhere but the environment of the shim.
pub const SENTINEL: &str = "sentinel-secret-5f3a9c1e7b2d4086";
pub const SECRET_ENV: &str = "CRONIX_TEST_SECRET";
pub const APP: &str = "billing";
pub const JOB: &str = "settle";

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (a hanging server).
    pub delay: Duration,
    /// The response body (default: a marker text that must never be recorded).
    pub body: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: None,
        }
    }
    pub fn body(mut self, body: &str) -> Reply {
        self.body = Some(body.into());
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// What the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub url: String,
    /// Lowercased header names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The verifier's verdict: the index of the matching secret, or the error code.
    pub verified: Result<usize, String>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A local HTTP server answering from a script (the last reply repeats).
pub struct Server {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    pub fn start(script: Vec<Reply>) -> Server {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for (n, request) in server.incoming_requests().enumerate() {
                let reply = script
                    .get(n)
                    .or(script.last())
                    .cloned()
                    .unwrap_or(Reply::status(200));
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || answer(request, reply, &sink));
            }
        });
        Server { port, received }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests arrived (or `limit` passed); returns how many did.
    pub fn wait_for(&self, n: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let count = self.received.lock().unwrap().len();
            if count >= n || Instant::now() >= deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn answer(mut request: tiny_http::Request, reply: Reply, sink: &Mutex<Vec<Received>>) {
    let at = Instant::now();
    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body).unwrap();
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let now = jiff::Timestamp::now().as_second();
    let secrets = [Secret::new(SENTINEL.as_bytes().to_vec())];
    let verified = signature::verify(
        &secrets,
        headers.get("x-cron-signature").map(String::as_str),
        request.method().as_str(),
        request.url(),
        &body,
        now,
        300,
    )
    .map_err(|e| e.code.as_str().to_string());
    sink.lock().unwrap().push(Received {
        method: request.method().as_str().to_string(),
        url: request.url().to_string(),
        headers,
        body,
        at,
        verified,
    });
    std::thread::sleep(reply.delay);
    let text = reply
        .body
        .clone()
        .unwrap_or_else(|| "response body must never be recorded".into());
    let mut response = tiny_http::Response::from_string(text).with_status_code(reply.status);
    for (name, value) in &reply.headers {
        response
            .add_header(tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap());
    }
    let _ = request.respond(response);
}

/// A temp dir laid out like a host: `jobs/` (spec dir), `locks/`, `state/` and `cronix.yaml`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["jobs", "locks", "state"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("cronix.yaml"), "version: 1\n").unwrap();
        Fixture { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn spec_dir(&self) -> PathBuf {
        self.path("jobs")
    }

    pub fn config(&self) -> PathBuf {
        self.path("cronix.yaml")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    /// A spec for `billing.settle` POSTing to `url`, signed with `env:CRONIX_TEST_SECRET`; `policy`
    /// is merged over the defaults (Forbid, 5 s timeout, 3 attempts, no backoff).
    pub fn spec(&self, url: &str, policy: Value) -> Value {
        let mut base_policy = json!({
            "concurrency": "Forbid", "concurrency_scope": "host", "timeout_seconds": 5,
            "retries": { "max_attempts": 3, "min_seconds": 0, "max_seconds": 1 }
        });
        merge(&mut base_policy, policy);
        json!({
            "format": 1,
            "app": APP,
            "job": {
                "name": JOB,
                "schedules": ["* * * * *"],
                "timezone": "UTC",
                "request": {
                    "method": "POST", "url": url,
                    "headers": { "Accept": "application/json" },
                    "body": "{\"invoice\":42}"
                },
                "policy": base_policy,
                "auth": { "secret_refs": [format!("env:{SECRET_ENV}")] }
            },
            "secret_refs": [format!("env:{SECRET_ENV}")],
            "lock_dir": self.path("locks").display().to_string(),
            "state_dir": self.path("state").display().to_string(),
        })
    }

    pub fn write_spec(&self, spec: &Value) -> PathBuf {
        let path = self.spec_dir().join(format!("{APP}.{JOB}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
        path
    }

    /// The trigger command for `billing.settle`, with the sentinel secret in its environment.
    pub fn trigger(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(cronix_bin());
        cmd.args(self.trigger_args())
            .env(SECRET_ENV, SENTINEL)
            .env("HOME", self.dir.path());
        cmd
    }

    pub fn trigger_args(&self) -> Vec<String> {
        vec![
            "--config".into(),
            self.config().display().to_string(),
            "trigger".into(),
            "--spec-dir".into(),
            self.spec_dir().display().to_string(),
            format!("{APP}.{JOB}"),
        ]
    }

    /// The same, as a spawned child (for tests that watch a running shim).
    pub fn spawn_trigger(&self) -> std::process::Child {
        std::process::Command::new(cronix_bin())
            .args(self.trigger_args())
            .env(SECRET_ENV, SENTINEL)
            .env("HOME", self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn history_path(&self) -> PathBuf {
        self.path(&format!("state/history/{APP}.{JOB}.jsonl"))
    }

    pub fn history(&self) -> Vec<RunRecord> {
        let text = std::fs::read_to_string(self.history_path()).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn lock_path(&self) -> PathBuf {
        self.path(&format!("locks/{APP}.{JOB}.lock"))
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                merge(base.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Every file under `dir`, as bytes (for leak sweeps).
pub fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The child's exit status once it has exited, polling until `limit`; `None` when it still runs.
pub fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The cronix binary the tests run: this build's, or the one `CRONIX_TEST_BIN` names (`.ci/run` runs
/// the trust model's high findings against the release binary that way).
pub fn cronix_bin() -> std::path::PathBuf {
    std::env::var_os("CRONIX_TEST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_cronix")))
}
