//! A real Kubernetes cluster for end-to-end tests: the one `.ci/k8s up DIR` started (a v1.37.2
//! control plane and one node, kubelet on containerd, all on this machine; `.ci/run` does it as root)
//! and `CRONIX_TEST_K8S=DIR` names. The build script sets `cronix_e2e_k8s` when DIR/env exists; tests
//! without it are ignored with the reason.
//!
//! - [`cluster`]: the cluster (read once from DIR/env): `kubectl` as the admin user (`admin`, in
//!   `system:masters`), the audit log, containerd's socket and `ctr`.
//! - [`Cluster::namespace`]: a fresh namespace per test (its `default` service account and root CA
//!   ready for pods), deleted when the guard drops.
//! - [`Cluster::audit_mark`] / [`Cluster::write_requests_since`]: the write requests (create, update,
//!   patch, delete, deletecollection) a user made after a mark, from the API server's audit log.
//! - [`Cluster::import_image`]: a binary as an OCI image (`packaging/oci-image.sh`) imported into the
//!   node's containerd, once per binary per test process; pods use it with `imagePullPolicy: Never`.
//! - [`wait_for`]: polls a predicate.
//!
//! Tests share the cluster and run in parallel: each works in its own namespace and filters what it
//! reads (audit events, objects) by that namespace.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Why a k8s test is ignored without a cluster (keep in step with the `ignore` attributes).
pub const NEEDS_CLUSTER: &str = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)";

/// The admin user the kubeconfig authenticates as (client certificate CN).
pub const ADMIN: &str = "admin";

/// What `.ci/k8s up DIR` wrote to DIR/env.
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub audit_log: PathBuf,
    pub containerd_sock: PathBuf,
    /// containerd's `ctr`.
    pub ctr: PathBuf,
    /// The `kubectl` built with the cluster (v1.37.2).
    pub kubectl_bin: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// The node's name (`127.0.0.1`).
    pub node: String,
    images: Mutex<HashMap<PathBuf, String>>,
}

/// The cluster `CRONIX_TEST_K8S` names; panics with the reason when there is none.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::var_os("CRONIX_TEST_K8S")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("CRONIX_TEST_K8S is not set: {NEEDS_CLUSTER}"));
        Cluster::from_dir(&dir)
    })
}

/// `KEY=value` pairs of a shell-sourceable env file (`export KEY='value'` lines).
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(v);
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

impl Cluster {
    pub fn from_dir(dir: &Path) -> Cluster {
        let env_file = dir.join("env");
        let text = fs::read_to_string(&env_file).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e} (is the cluster up? `.ci/k8s up {}`)",
                env_file.display(),
                dir.display()
            )
        });
        let env = parse_env(&text);
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {k}", env_file.display()))
        };
        Cluster {
            dir: dir.to_path_buf(),
            kubeconfig: get("KUBECONFIG").into(),
            audit_log: get("CRONIX_K8S_AUDIT_LOG").into(),
            containerd_sock: get("CRONIX_K8S_CONTAINERD_SOCK").into(),
            ctr: get("CRONIX_K8S_CTR").into(),
            kubectl_bin: get("CRONIX_K8S_KUBECTL").into(),
            server: get("CRONIX_K8S_SERVER"),
            node: get("CRONIX_K8S_NODE"),
            images: Mutex::new(HashMap::new()),
        }
    }

    /// `kubectl --kubeconfig … ARGS` as the admin user.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.kubectl_bin.display()))
    }

    /// `kubectl ARGS` with `stdin` on its standard input (`apply -f -`, `create -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .kubectl_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.kubectl_bin.display()));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `kubectl ARGS`, which must succeed; its standard output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl ARGS -o json`, parsed.
    pub fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&all)).unwrap()
    }

    fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.kubectl_bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy");
        cmd
    }

    /// A fresh namespace `PREFIX-<pid>-<n>`, ready for pods (its `default` service account and
    /// `kube-root-ca.crt` exist); deleted (without waiting) when the guard drops.
    pub fn namespace(&'static self, prefix: &str) -> Namespace {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let prefix: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let name = format!(
            "{}-{}-{}",
            prefix.trim_matches('-'),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        self.kubectl_ok(&["create", "namespace", &name]);
        let guard = Namespace {
            name,
            cluster: self,
        };
        let ready = wait_for(
            || {
                self.kubectl(&["-n", &guard.name, "get", "serviceaccount/default"])
                    .status
                    .success()
                    && self
                        .kubectl(&["-n", &guard.name, "get", "configmap/kube-root-ca.crt"])
                        .status
                        .success()
            },
            Duration::from_secs(30),
        );
        assert!(
            ready,
            "namespace {}: no default service account or kube-root-ca.crt after 30 s (are the serviceaccount and root-ca controllers running?)",
            guard.name
        );
        guard
    }

    /// A mark in the audit log (its current length in bytes) for [`Self::write_requests_since`].
    pub fn audit_mark(&self) -> usize {
        fs::metadata(&self.audit_log).map_or(0, |m| usize::try_from(m.len()).unwrap())
    }

    /// The audit events (complete JSON lines) written after `mark`.
    pub fn audit_events_since(&self, mark: usize) -> Vec<Value> {
        let mut file = fs::File::open(&self.audit_log)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.audit_log.display()));
        // From the byte before the mark: a mark taken while a line was being written falls inside
        // it, and that line (the rest up to the first newline) belongs to before the mark.
        let from = mark.saturating_sub(1);
        file.seek(SeekFrom::Start(from as u64)).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let text = if mark == 0 {
            &text[..]
        } else {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        };
        // A line still being written has no newline yet: left for the next read.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l}: {e}")))
            .collect()
    }

    /// The write requests (verbs create, update, patch, delete, deletecollection; stage
    /// ResponseComplete) `user` made after `mark`, as `VERB RESOURCE[/SUBRESOURCE] NAMESPACE/NAME
    /// CODE` (namespace `-` for cluster-scoped objects, name `-` for collections).
    pub fn write_requests_since(&self, mark: usize, user: &str) -> Vec<String> {
        self.audit_events_since(mark)
            .iter()
            .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == user)
            .filter(|e| {
                matches!(
                    e["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                )
            })
            .map(|e| {
                let o = &e["objectRef"];
                let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
                let resource = match o["subresource"].as_str() {
                    Some(sub) => format!("{}/{sub}", s(&o["resource"])),
                    None => s(&o["resource"]),
                };
                format!(
                    "{} {resource} {}/{} {}",
                    s(&e["verb"]),
                    s(&o["namespace"]),
                    s(&o["name"]),
                    e["responseStatus"]["code"]
                )
            })
            .collect()
    }

    /// `binary` as an image in the node's containerd (namespace `k8s.io`): built by
    /// `packaging/oci-image.sh` and imported with `ctr images import`, once per binary per test
    /// process. Its name (`cronix.local/cronix:e2e-<pid>-<n>`) for a pod's `image` with
    /// `imagePullPolicy: Never`.
    pub fn import_image(&self, binary: &Path) -> String {
        let mut images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = images.get(binary) {
            return name.clone();
        }
        let name = format!(
            "cronix.local/cronix:e2e-{}-{}",
            std::process::id(),
            images.len()
        );
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("image.tar");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/oci-image.sh");
        let out = Command::new(&script)
            .arg(binary)
            .arg(&tar)
            .arg(&name)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "oci-image.sh {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&self.ctr)
            .arg("--address")
            .arg(&self.containerd_sock)
            .args(["-n", "k8s.io", "images", "import"])
            .arg(&tar)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.ctr.display()));
        assert!(
            out.status.success(),
            "ctr images import failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        images.insert(binary.to_path_buf(), name.clone());
        name
    }
}

/// A namespace a test owns; deleted when dropped (the namespace controller removes what is in it).
pub struct Namespace {
    pub name: String,
    cluster: &'static Cluster,
}

impl Namespace {
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl std::ops::Deref for Namespace {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self
            .cluster
            .kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// Polls `pred` every 100 ms until it holds (true) or `timeout` passes (false).
pub fn wait_for(mut pred: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The cronix binary the images hold: `CRONIX_TEST_BIN` when set, else this build's (debug).
pub fn cronix_binary() -> PathBuf {
    std::env::var_os("CRONIX_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cronix")))
}
