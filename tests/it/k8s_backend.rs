//! The kubernetes backend against a real cluster (tests/it/k8s_support.rs, `.ci/k8s`): apply creates
//! objects the API server accepts and a second apply makes no write request (the audit log counts
//! them); a hand `kubectl patch` of a schedule is `edited` drift (exit 5) that apply repairs; a deleted
//! CronJob is `missing`; a suspended one `inactive` and apply un-suspends it; a foreign CronJob with
//! a name cronix needs is refused untouched; prune removes exactly the owned objects; the reference
//! tool's objects are taken over; and a `* * * * *` job makes the real CronJob controller start a
//! pod of the locally built image that sends a request signed with the secret from the Secret to a
//! local server, whose run `history kubernetes APP.JOB` then shows.

use crate::k8s_support::{ADMIN, Namespace, cluster, wait_for};
use crate::support::{self, Reply, SENTINEL, Server};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

const APP: &str = "billing";

/// A test's namespace, temp dir (config, state, lock, manifest) and image.
struct Env {
    ns: Namespace,
    dir: tempfile::TempDir,
    image: String,
}

impl Env {
    fn new(prefix: &str, image: Option<String>) -> Env {
        let c = cluster();
        let ns = c.namespace(prefix);
        let dir = tempfile::tempdir().unwrap();
        for d in ["state", "lock", "spec"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let p = |d: &str| dir.path().join(d).display().to_string();
        std::fs::write(
            dir.path().join("cronix.yaml"),
            format!(
                "state_dir: {}\nlock_dir: {}\nspec_dir: {}\nkubernetes:\n  image_pull_policy: \
                 Never\n  host_network: true\n",
                p("state"),
                p("lock"),
                p("spec")
            ),
        )
        .unwrap();
        // The Secret the fires read E2E_SECRET from (apply refuses a job whose key is missing).
        c.kubectl_ok(&[
            "-n",
            &ns,
            "create",
            "secret",
            "generic",
            "cronix-secrets",
            &format!("--from-literal=E2E_SECRET={SENTINEL}"),
        ]);
        Env {
            ns,
            dir,
            image: image.unwrap_or_else(|| "cronix.local/cronix:absent".to_string()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_manifest(&self, manifest: &Value) -> PathBuf {
        let path = self.path("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
        path
    }

    /// `cronix --config … COMMAND kubernetes ARGS --k8s-namespace … --kubeconfig … --k8s-image …`.
    fn cronix(&self, command: &str, args: &[&str]) -> Output {
        self.cronix_as(&cluster().kubeconfig, command, args)
    }

    /// [`Env::cronix`] with another kubeconfig (another identity).
    fn cronix_as(&self, kubeconfig: &Path, command: &str, args: &[&str]) -> Output {
        Command::new(support::cronix_bin())
            .arg("--config")
            .arg(self.path("cronix.yaml"))
            .arg(command)
            .arg("kubernetes")
            .args(args)
            .arg("--k8s-namespace")
            .arg(self.ns.as_str())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--k8s-image")
            .arg(&self.image)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    fn reconcile(&self, command: &str, manifest: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["--manifest", manifest.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.cronix(command, &args)
    }

    fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let out = cluster().kubectl(&[
            "-n",
            &self.ns,
            "get",
            kind,
            name,
            "--show-managed-fields",
            "-o",
            "json",
        ]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    fn names(&self, kind: &str) -> Vec<String> {
        let list = cluster().kubectl_json(&["-n", &self.ns, "get", kind]);
        let mut names: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .filter(|n| n != "kube-root-ca.crt")
            .collect();
        names.sort();
        names
    }

    /// The admin's write requests in this namespace after `mark`.
    fn writes_since(&self, mark: usize) -> Vec<String> {
        let needle = format!(" {}/", self.ns.as_str());
        cluster()
            .write_requests_since(mark, ADMIN)
            .into_iter()
            .filter(|w| w.contains(&needle))
            .collect()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

fn manifest(url: &str, jobs: &[(&str, &str)]) -> Value {
    json!({
        "version": 1, "app": APP,
        "jobs": jobs.iter().map(|(name, schedule)| json!({
            "name": name, "schedule": schedule, "timezone": "UTC",
            "request": {"url": format!("{url}/{name}")},
            "policy": {"timeout_seconds": 10, "retries": {"max_attempts": 1}},
            "auth": {"secret_refs": ["env:E2E_SECRET"]},
        })).collect::<Vec<_>>(),
    })
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn apply_creates_accepted_objects_and_a_second_apply_writes_nothing() {
    let env = Env::new("k8s-apply", None);
    let m = env.write_manifest(&manifest(
        "http://127.0.0.1:9",
        &[("settle", "0 2 * * *"), ("report", "*/15 * * * *")],
    ));
    let c = cluster();
    let mark = c.audit_mark();
    ok(env.reconcile("apply", &m, &[]));
    assert_eq!(
        env.names("cronjobs"),
        ["cronix-billing-report-0", "cronix-billing-settle-0"]
    );
    assert_eq!(
        env.names("configmaps"),
        ["cronix-billing-report-spec", "cronix-billing-settle-spec"]
    );
    let writes = env.writes_since(mark);
    assert_eq!(writes.len(), 4, "{writes:#?}");
    assert!(
        writes.iter().all(|w| w.starts_with("patch ")),
        "{writes:#?}"
    );

    let cj = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(cj["spec"]["schedule"], "0 2 * * *");
    assert_eq!(cj["spec"]["timeZone"], "UTC");
    assert_eq!(cj["metadata"]["labels"]["cronix.dev/managed"], "true");
    assert_eq!(cj["metadata"]["labels"]["cronix.dev/index"], "0");
    let fields = cj["metadata"]["managedFields"].to_string();
    assert!(fields.contains("\"manager\":\"cronix\""), "{fields}");

    std::thread::sleep(Duration::from_millis(1100));
    let mark = c.audit_mark();
    let out = ok(env.reconcile("apply", &m, &[]));
    // The audit log is written asynchronously: give it a moment before counting nothing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.writes_since(mark), Vec::<String>::new(), "{out}");
    ok(env.reconcile("drift", &m, &["--exit-on-drift"]));
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn hand_edits_deletes_and_suspensions_are_drift_that_apply_repairs() {
    let env = Env::new("k8s-drift", None);
    let m = env.write_manifest(&manifest(
        "http://127.0.0.1:9",
        &[("settle", "0 2 * * *"), ("report", "0 3 * * *")],
    ));
    let c = cluster();
    ok(env.reconcile("apply", &m, &[]));

    c.kubectl_ok(&[
        "-n",
        &env.ns,
        "patch",
        "cronjob",
        "cronix-billing-settle-0",
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"5 2 * * *"}}"#,
    ]);
    c.kubectl_ok(&[
        "-n",
        &env.ns,
        "patch",
        "cronjob",
        "cronix-billing-report-0",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    let out = env.reconcile("drift", &m, &["--exit-on-drift"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("edited"), "{report}");
    assert!(report.contains("inactive"), "{report}");

    ok(env.reconcile("apply", &m, &[]));
    let settle = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(settle["spec"]["schedule"], "0 2 * * *");
    let report_cj = env.get("cronjob", "cronix-billing-report-0").unwrap();
    assert_eq!(report_cj["spec"]["suspend"], false);
    ok(env.reconcile("drift", &m, &["--exit-on-drift"]));

    c.kubectl_ok(&[
        "-n",
        &env.ns,
        "delete",
        "cronjob",
        "cronix-billing-settle-0",
    ]);
    let out = env.reconcile("drift", &m, &["--exit-on-drift"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("missing"), "{}", text(&out));
    ok(env.reconcile("apply", &m, &[]));
    assert!(env.get("cronjob", "cronix-billing-settle-0").is_some());
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn a_foreign_cronjob_is_refused_untouched_and_prune_removes_only_owned_objects() {
    let env = Env::new("k8s-foreign", None);
    let c = cluster();
    let foreign = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cronix-billing-settle-0", "labels": {"team": "ops"}},
        "spec": {"schedule": "1 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "x", "image": "busybox", "imagePullPolicy": "Never"}]}}}}},
    });
    let out = c.kubectl_stdin(&["-n", &env.ns, "create", "-f", "-"], &foreign.to_string());
    assert!(out.status.success(), "{}", text(&out));
    let before = env.get("cronjob", "cronix-billing-settle-0").unwrap();

    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("settle", "0 2 * * *")]));
    let mark = c.audit_mark();
    let out = env.reconcile("apply", &m, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not cronix's"), "{}", text(&out));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.writes_since(mark), Vec::<String>::new());
    let after = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );

    // Another job applies; prune removes it and its spec, and leaves the foreign CronJob.
    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("other", "0 4 * * *")]));
    ok(env.reconcile("apply", &m, &[]));
    assert_eq!(
        env.names("cronjobs"),
        ["cronix-billing-other-0", "cronix-billing-settle-0"]
    );
    ok(env.cronix("prune", &["--app", APP, "--yes"]));
    assert_eq!(env.names("cronjobs"), ["cronix-billing-settle-0"]);
    assert_eq!(env.names("configmaps"), Vec::<String>::new());
    let after = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn objects_the_reference_wrote_are_taken_over() {
    let env = Env::new("k8s-takeover", None);
    let c = cluster();
    let labels = json!({
        "cronix.dev/managed": "true", "cronix.dev/app": APP, "cronix.dev/job": "settle",
        "cronix.dev/hash": "0123456789abcdef", "cronix.dev/index": "0",
    });
    let reference = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "cronix-billing-settle-0-spec", "labels": labels},
         "data": {"billing.settle.json": "{}"}},
        {"apiVersion": "batch/v1", "kind": "CronJob",
         "metadata": {"name": "cronix-billing-settle-0", "labels": labels},
         "spec": {"schedule": "0 2 * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "cronix", "image": "awbx/cronix:v0.2.0",
                    "args": ["trigger", "billing.settle"]}],
                "volumes": [{"name": "job-spec",
                    "configMap": {"name": "cronix-billing-settle-0-spec"}}]}}}}}},
    ]});
    let out = c.kubectl_stdin(
        &["-n", &env.ns, "create", "-f", "-"],
        &reference.to_string(),
    );
    assert!(out.status.success(), "{}", text(&out));

    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("settle", "0 2 * * *")]));
    let plan = ok(env.reconcile("plan", &m, &[]));
    assert!(!plan.contains("create entry"), "{plan}");
    ok(env.reconcile("apply", &m, &[]));
    assert_eq!(env.names("cronjobs"), ["cronix-billing-settle-0"]);
    assert_eq!(env.names("configmaps"), ["cronix-billing-settle-spec"]);
    let cj = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_ne!(
        cj["metadata"]["labels"]["cronix.dev/hash"],
        "0123456789abcdef"
    );
    ok(env.reconcile("drift", &m, &["--exit-on-drift"]));
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn a_cronjob_fires_a_signed_request_from_a_pod_and_history_shows_it() {
    let c = cluster();
    let image = c.import_image(&crate::k8s_support::cronix_binary());
    let env = Env::new("k8s-fire", Some(image));
    let server = Server::start(vec![Reply::status(200)]);
    // A zone other than UTC: the pod's shim checks it against the image's tz database.
    let mut zoned = manifest(
        &format!("http://127.0.0.1:{}", server.port),
        &[("tick", "* * * * *")],
    );
    zoned["jobs"][0]["timezone"] = json!("Europe/Paris");
    let m = env.write_manifest(&zoned);
    ok(env.reconcile("apply", &m, &[]));
    let arrived = server.wait_for(1, Duration::from_secs(150));
    let pods = c.kubectl(&["-n", &env.ns, "get", "pods", "-o", "wide"]);
    assert!(
        arrived >= 1,
        "no request within 150 s; pods:\n{}",
        text(&pods)
    );
    let got = &server.received()[0];
    assert_eq!(got.url, "/tick");
    assert_eq!(got.verified, Ok(0), "{got:?}");
    assert_eq!(got.header("x-cron-schedule-name"), Some("tick"));

    let mut shown = String::new();
    let found = wait_for(
        || {
            let out = env.cronix("history", &[&format!("{APP}.tick"), "-o", "json"]);
            shown = text(&out);
            out.status.success()
                && (shown.contains("\"status\": \"ok\"") || shown.contains("\"status\":\"ok\""))
        },
        Duration::from_secs(60),
    );
    assert!(found, "history shows no ok run:\n{shown}");
    assert!(!shown.contains(SENTINEL), "{shown}");
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn an_object_changed_between_read_and_write_is_a_conflict_to_re_run() {
    let env = Env::new("k8s-stale", None);
    let c = cluster();
    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("settle", "0 2 * * *")]));
    ok(env.reconcile("apply", &m, &[]));
    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("settle", "0 3 * * *")]));
    // apply stops itself after its read, before its first write; the CronJob changes meanwhile.
    let child = Command::new(support::cronix_bin())
        .arg("--config")
        .arg(env.path("cronix.yaml"))
        .args(["apply", "kubernetes", "--manifest", m.to_str().unwrap()])
        .args([
            "--k8s-namespace",
            env.ns.as_str(),
            "--k8s-image",
            &env.image,
        ])
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .env("CRONIX_TEST_PAUSE_AT", "k8s_execute")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    let stopped = wait_for(
        || {
            std::fs::read_to_string(&stat)
                .is_ok_and(|t| t.rsplit(") ").next().is_some_and(|r| r.starts_with('T')))
        },
        Duration::from_secs(30),
    );
    assert!(stopped, "apply did not reach its write step");
    c.kubectl_ok(&[
        "-n",
        &env.ns,
        "label",
        "cronjob",
        "cronix-billing-settle-0",
        "team=ops",
    ]);
    let cont = Command::new("kill")
        .args(["-CONT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(cont.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cronix-billing-settle-0") && err.contains("changed since it was read"),
        "{err}"
    );
    let cj = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(cj["spec"]["schedule"], "0 2 * * *");
    // Re-run: it reads the new revision and applies.
    ok(env.reconcile("apply", &m, &[]));
    let cj = env.get("cronjob", "cronix-billing-settle-0").unwrap();
    assert_eq!(cj["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cj["metadata"]["labels"]["team"], "ops");
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn the_example_role_is_all_that_apply_drift_doctor_history_and_prune_need() {
    let env = Env::new("k8s-rbac", None);
    let c = cluster();
    let rbac = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/rbac.yaml"),
    )
    .unwrap()
    .replace(
        "namespace: cronix",
        &format!("namespace: {}", env.ns.as_str()),
    );
    c.kubectl_ok(&["-n", &env.ns, "create", "serviceaccount", "cronix-deployer"]);
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &rbac);
    assert!(out.status.success(), "{}", text(&out));
    let token = c.kubectl_ok(&["-n", &env.ns, "create", "token", "cronix-deployer"]);
    let admin = c.kubectl_json(&["config", "view", "--raw"]);
    let mut cluster_entry = admin["clusters"][0].clone();
    cluster_entry["name"] = json!("test");
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster_entry],
        "users": [{"name": "deployer", "user": {"token": token.trim()}}],
        "contexts": [{"name": "deployer", "context": {"cluster": "test", "user": "deployer"}}],
        "current-context": "deployer",
    });
    let path = env.path("deployer.kubeconfig");
    std::fs::write(&path, kubeconfig.to_string()).unwrap();

    let m = env.write_manifest(&manifest("http://127.0.0.1:9", &[("settle", "0 2 * * *")]));
    let manifest_args = ["--manifest", m.to_str().unwrap()];
    ok(env.cronix_as(&path, "apply", &manifest_args));
    let mut drift = manifest_args.to_vec();
    drift.push("--exit-on-drift");
    ok(env.cronix_as(&path, "drift", &drift));
    ok(env.cronix_as(&path, "history", &["billing.settle"]));
    let doctor = Command::new(support::cronix_bin())
        .arg("--config")
        .arg(env.path("cronix.yaml"))
        .args([
            "doctor",
            "--backend",
            "kubernetes",
            "--k8s-namespace",
            env.ns.as_str(),
        ])
        .args(["--k8s-image", "x", "--kubeconfig"])
        .arg(&path)
        .output()
        .unwrap();
    let report = text(&doctor);
    assert!(
        report.contains("may do all") && report.contains("kubernetes permissions"),
        "{report}"
    );
    ok(env.cronix_as(&path, "prune", &["--app", APP, "--yes"]));
    assert_eq!(env.names("cronjobs"), Vec::<String>::new());
}
