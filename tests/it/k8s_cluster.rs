//! The real test cluster itself (tests/it/k8s_support.rs, `.ci/k8s`): the API server is the
//! Kubernetes release the backend targets and its node is Ready; a pod runs the imported cronix image
//! to completion and its log is cronix's `version` output; the API server's audit log counts a
//! client's writes (one create for one ConfigMap, none for a read). The Kubernetes backend's tests
//! build on these three.

use crate::k8s_support::{self, ADMIN, cluster, wait_for};

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn the_server_is_1_37_2_and_its_node_is_ready() {
    let c = cluster();
    let version = c.kubectl_json(&["version"]);
    assert_eq!(
        version["serverVersion"]["gitVersion"], "v1.37.2",
        "{version:#}"
    );
    assert_eq!(version["serverVersion"]["minor"], "37", "{version:#}");
    assert_eq!(
        version["clientVersion"]["gitVersion"], "v1.37.2",
        "{version:#}"
    );

    let node = c.kubectl_json(&["get", "node", &c.node]);
    let conditions = node["status"]["conditions"].as_array().unwrap();
    let ready = conditions
        .iter()
        .find(|cond| cond["type"] == "Ready")
        .unwrap_or_else(|| panic!("no Ready condition: {node:#}"));
    assert_eq!(ready["status"], "True", "{node:#}");
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.37.2");
    assert!(
        node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("containerd://1.6.20"),
        "{node:#}"
    );
    assert!(node["spec"]["taints"].is_null(), "{node:#}");
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn a_pod_runs_the_cronix_image_to_completion() {
    let c = cluster();
    let ns = c.namespace("pod-version");
    let binary = k8s_support::cronix_binary();
    let started = Instant::now();
    let image = c.import_image(&binary);
    let imported = started.elapsed();
    // The same binary is imported once per test process.
    assert_eq!(c.import_image(&binary), image);

    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "cronix-version", "namespace": ns.as_str()},
        "spec": {
            "restartPolicy": "Never",
            "hostNetwork": true,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "cronix",
                "image": image,
                "imagePullPolicy": "Never",
                "args": ["version"],
            }],
        },
    });
    let created = Instant::now();
    let out = c.kubectl_stdin(&["create", "-f", "-"], &pod.to_string());
    assert!(
        out.status.success(),
        "create pod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut phase = String::new();
    let done = wait_for(
        || {
            phase = c.kubectl_ok(&[
                "-n",
                &ns,
                "get",
                "pod",
                "cronix-version",
                "-o",
                "jsonpath={.status.phase}",
            ]);
            phase == "Succeeded" || phase == "Failed"
        },
        Duration::from_secs(120),
    );
    let latency = created.elapsed();
    let describe = || {
        String::from_utf8_lossy(
            &c.kubectl(&["-n", &ns, "describe", "pod", "cronix-version"])
                .stdout,
        )
        .into_owned()
    };
    assert!(
        done,
        "the pod is still {phase:?} after 120 s:\n{}",
        describe()
    );
    assert_eq!(phase, "Succeeded", "{}", describe());
    eprintln!(
        "image import {:.1} s, pod create -> Succeeded {:.1} s",
        imported.as_secs_f64(),
        latency.as_secs_f64()
    );

    let logs = c.kubectl_ok(&["-n", &ns, "logs", "cronix-version"]);
    let local = Command::new(&binary).arg("version").output().unwrap();
    assert!(local.status.success());
    let local = String::from_utf8(local.stdout).unwrap();
    assert!(logs.starts_with("cronix "), "{logs:?}");
    assert_eq!(logs.trim(), local.trim());

    // The container itself exited 0, from the imported image.
    let pod = c.kubectl_json(&["-n", &ns, "get", "pod", "cronix-version"]);
    let state = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(state["exitCode"], 0, "{pod:#}");
    let image_id = pod["status"]["containerStatuses"][0]["imageID"]
        .as_str()
        .unwrap();
    assert!(image_id.starts_with("sha256:"), "{pod:#}");
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn the_audit_log_counts_one_create_for_one_configmap_and_none_for_a_read() {
    let c = cluster();
    let ns = c.namespace("audit");
    let in_ns = |reqs: Vec<String>| -> Vec<String> {
        let needle = format!(" {}/", ns.as_str());
        reqs.into_iter().filter(|r| r.contains(&needle)).collect()
    };

    let mark = c.audit_mark();
    c.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "probe",
        "--from-literal=k=v",
    ]);
    let mut writes = Vec::new();
    assert!(
        wait_for(
            || {
                writes = in_ns(c.write_requests_since(mark, ADMIN));
                !writes.is_empty()
            },
            Duration::from_secs(10)
        ),
        "no write by {ADMIN} in {} reached the audit log",
        c.audit_log.display()
    );
    // A later event would have had time to arrive with the first.
    std::thread::sleep(Duration::from_millis(500));
    let writes = in_ns(c.write_requests_since(mark, ADMIN));
    assert_eq!(
        writes,
        [format!("create configmaps {}/probe 201", ns.as_str())]
    );
    // Another user's writes are not the admin's: none by a user that made none.
    assert!(c.write_requests_since(mark, "nobody").is_empty());

    let mark = c.audit_mark();
    let got = c.kubectl_json(&["-n", &ns, "get", "configmap", "probe"]);
    assert_eq!(got["data"]["k"], "v");
    // The read itself is in the log (so the log is not merely behind) ...
    let read_logged = wait_for(
        || {
            c.audit_events_since(mark).iter().any(|e| {
                e["stage"] == "ResponseComplete"
                    && e["verb"] == "get"
                    && e["user"]["username"] == ADMIN
                    && e["objectRef"]["namespace"] == ns.as_str()
                    && e["objectRef"]["name"] == "probe"
            })
        },
        Duration::from_secs(10),
    );
    assert!(read_logged, "the get is not in the audit log");
    // ... and it is not a write.
    assert_eq!(
        in_ns(c.write_requests_since(mark, ADMIN)),
        Vec::<String>::new()
    );
}

#[test]
#[cfg_attr(
    not(cronix_e2e_k8s),
    ignore = "needs a running test cluster: CRONIX_TEST_K8S=DIR after `.ci/k8s up DIR` (root; .ci/run does it)"
)]
fn a_job_runs_the_cronix_image_and_completes() {
    let c = cluster();
    let ns = c.namespace("job-version");
    let image = c.import_image(&k8s_support::cronix_binary());
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "cronix-version", "namespace": ns.as_str()},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 120,
            "template": {"spec": {
                "restartPolicy": "Never",
                "hostNetwork": true,
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "cronix",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "args": ["version"],
                }],
            }},
        },
    });
    let created = Instant::now();
    let out = c.kubectl_stdin(&["create", "-f", "-"], &job.to_string());
    assert!(
        out.status.success(),
        "create job: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut status = serde_json::Value::Null;
    let finished = wait_for(
        || {
            status = c.kubectl_json(&["-n", &ns, "get", "job", "cronix-version"])["status"].clone();
            status["succeeded"].as_u64().unwrap_or(0) > 0
                || status["failed"].as_u64().unwrap_or(0) > 0
        },
        Duration::from_secs(120),
    );
    assert!(finished, "the job has not finished after 120 s: {status:#}");
    eprintln!(
        "job create -> succeeded {:.1} s",
        created.elapsed().as_secs_f64()
    );
    assert_eq!(status["succeeded"], 1, "{status:#}");
    let complete = status["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True")
    });
    assert!(complete, "{status:#}");
    let logs = c.kubectl_ok(&["-n", &ns, "logs", "job/cronix-version"]);
    assert!(logs.starts_with("cronix "), "{logs:?}");
}

/// `packaging/oci-image.sh` (runs everywhere): the same binary gives the same bytes twice, and the
/// layout holds what docs/kubernetes-image.md says: the binary, its libraries, a non-root user, the
/// entrypoint and the name.
#[test]
fn the_image_tarball_is_reproducible_and_holds_what_the_docs_say() {
    let binary = k8s_support::cronix_binary();
    let dir = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/oci-image.sh");
    let build = |name: &str| {
        let out_file = dir.path().join(name);
        let out = Command::new(&script)
            .arg(&binary)
            .arg(&out_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out_file
    };
    let (a, b) = (build("a.tar"), build("b.tar"));
    let sha = |p: &std::path::Path| {
        let out = Command::new("sha256sum").arg(p).output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    assert_eq!(sha(&a), sha(&b), "two builds of one binary differ");

    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    let untar = |tar: &std::path::Path, into: &std::path::Path| {
        let st = Command::new("tar")
            .arg("-xf")
            .arg(tar)
            .arg("-C")
            .arg(into)
            .status()
            .unwrap();
        assert!(st.success());
    };
    untar(&a, &layout);
    let read_json = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    };
    let blob = |digest: &serde_json::Value| {
        layout
            .join("blobs/sha256")
            .join(digest.as_str().unwrap().strip_prefix("sha256:").unwrap())
    };
    let index = read_json(layout.join("index.json"));
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "cronix:local"
    );
    let manifest = read_json(blob(&entry["digest"]));
    let config = read_json(blob(&manifest["config"]["digest"]));
    assert_eq!(
        config["config"]["Entrypoint"],
        json!(["/usr/local/bin/cronix"])
    );
    assert_eq!(config["config"]["User"], "65532:65532");
    let layer = blob(&manifest["layers"][0]["digest"]);
    // An uncompressed layer: its digest is its diff_id, and both are its sha256.
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        manifest["layers"][0]["digest"]
    );
    assert_eq!(
        format!("sha256:{}", sha(&layer)),
        manifest["layers"][0]["digest"].as_str().unwrap()
    );

    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    untar(&layer, &root);
    assert_eq!(
        std::fs::read(root.join("usr/local/bin/cronix")).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("\ncronix:x:65532:65532:"), "{passwd}");
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let ldd = String::from_utf8(ldd.stdout).unwrap();
    let libs: Vec<&str> = ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .collect();
    assert!(!libs.is_empty(), "{ldd}");
    for lib in libs {
        assert!(root.join(&lib[1..]).is_file(), "{lib} is not in the layer");
    }
    // The zone database and the CA bundle of this machine, when it has them.
    for (host, what) in [
        (
            "/usr/share/zoneinfo/Europe/Paris",
            "a zone of the tz database",
        ),
        ("/etc/ssl/certs/ca-certificates.crt", "the CA bundle"),
    ] {
        if std::path::Path::new(host).exists() {
            assert_eq!(
                std::fs::read(root.join(&host[1..])).ok(),
                std::fs::read(host).ok(),
                "{what} is not in the layer"
            );
        }
    }
}
