//! The kubernetes backend's objects as values: the names cronix gives them, the labels that mark
//! them as cronix's, the `batch/v1` CronJob of one entry `(app, job, idx)` and the ConfigMap of one
//! job's spec, and the way back from a live object (JSON as the API server returns it) to an
//! installed entry or spec.
//!
//! Pure: values in, values out. It never talks to an API server (that is `shell::k8s_client`) and
//! never decides what to apply (that is the plan).
//!
//! What an entry's artifact is: the canonical JSON (sorted keys, pretty) of the fields cronix owns
//! in a CronJob, without its labels and without `spec.suspend` (liveness is reported apart, as
//! `inactive`). The same projection ([`owned_view`]) turns a live object into the artifact it
//! carries, so a hand `kubectl patch` of any owned field reads back as `edited` drift, and fields
//! the API server defaults (or other managers own) never do.
//!
//! Objects the reference tool wrote carry the same labels (`cronix.dev/managed=true`, `/app`,
//! `/job`, `/index`, `/hash`) and the same names, so they are read as cronix's entries and taken
//! over. Its per-schedule spec ConfigMaps (`cronix-<app>-<job>-<idx>-spec`, labelled with an index)
//! are read as [`SpecObject::Legacy`] and removed once the job's own ConfigMap replaced them.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::core::manifest::Concurrency;
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::schedule::Schedule;
use crate::core::secret::SecretRef;
use crate::core::tz_gate::{self, DstEffect, Window};

pub const LABEL_MANAGED: &str = "cronix.dev/managed";
pub const LABEL_APP: &str = "cronix.dev/app";
pub const LABEL_JOB: &str = "cronix.dev/job";
pub const LABEL_INDEX: &str = "cronix.dev/index";
pub const LABEL_HASH: &str = "cronix.dev/hash";
/// The selector of every list cronix makes: its own objects only.
pub const MANAGED_SELECTOR: &str = "cronix.dev/managed=true";
/// The selector of objects that are not cronix's (the label missing or not `true`).
pub const FOREIGN_SELECTOR: &str = "cronix.dev/managed!=true";
/// The annotation that records a spec's permission bits (a ConfigMap has none of its own).
pub const ANNOTATION_SPEC_MODE: &str = "cronix.dev/spec-mode";
/// Server-side apply's field manager.
pub const FIELD_MANAGER: &str = "cronix";

/// Longest CronJob name the API server accepts (its Jobs get an 11-character suffix).
pub const MAX_CRONJOB_NAME: usize = 52;
/// Longest ConfigMap name (a DNS-1123 subdomain).
pub const MAX_CONFIGMAP_NAME: usize = 253;
/// Longest label value.
const MAX_LABEL_VALUE: usize = 63;
/// Largest spec a ConfigMap holds (the API server's limit is 1 MiB for the whole object).
pub const MAX_SPEC_BYTES: usize = 1_000_000;

/// Where the pod finds things: paths of the image's own filesystem.
pub const POD_SPEC_DIR: &str = "/etc/cronix/jobs";
pub const POD_TRIGGER_BIN: &str = "/usr/local/bin/cronix";
/// Lock and state dirs of a fire in a pod: under `/dev/shm`, the pod's own root-owned sticky tmpfs
/// (the root filesystem is read-only, and an emptyDir volume is a world-writable directory that
/// the trust rules refuse as a parent). Both live as long as the pod: the controller, not a lock
/// file, keeps fires from overlapping (`concurrencyPolicy`), and the run record leaves through the
/// termination message.
pub const POD_LOCK_DIR: &str = "/dev/shm/cronix-lock";
pub const POD_STATE_DIR: &str = "/dev/shm/cronix-state";
/// Where the shim writes its run record for the kubelet to keep as the termination message.
pub const POD_TERMINATION_LOG: &str = "/dev/termination-log";
/// The uid and gid the container runs as (the image's `cronix` user).
pub const POD_UID: i64 = 65532;

/// Seconds a Job may start late before the controller skips it; also keeps a controller outage
/// from ending in "too many missed start times" (it counts misses within this deadline only).
pub const STARTING_DEADLINE_SECONDS: i64 = 300;
/// Time on top of the fire's worst case for pulling nothing, starting the container and exiting.
pub const POD_MARGIN_SECONDS: u64 = 60;
pub const HISTORY_LIMIT: i64 = 3;
/// Mode of the mounted spec and secret files: the mount is root's, the container's user reads it.
const MOUNT_MODE: i64 = 0o444;

/// Settings of the kubernetes target that the objects are rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSettings {
    pub image: String,
    /// `IfNotPresent` (default), `Never` (images imported into the node) or `Always`.
    pub image_pull_policy: String,
    /// The operator's Secret that `env:` and `file:` references are read from.
    pub secret_name: String,
    /// Pods share the node's network (a target on the node's loopback).
    pub host_network: bool,
    /// Every fire exports its trace (`trigger --otel`).
    pub otel: bool,
}

pub const PULL_POLICIES: &[&str] = &["IfNotPresent", "Never", "Always"];

/// The CronJob name of an entry: `cronix-<app>-<job>-<idx>` when it fits in 52 characters, else a
/// deterministic shortened name that keeps the index and ends in a hash of the full identity.
pub fn cronjob_name(app: &str, job: &str, idx: usize) -> String {
    let full = format!("cronix-{app}-{job}-{idx}");
    if full.len() <= MAX_CRONJOB_NAME && is_dns_label(&full) {
        return full;
    }
    let digest = Sha256::digest(format!("{app}\n{job}\n{idx}").as_bytes());
    let suffix = format!("-{idx}-{}", hex::encode(&digest[..4]));
    let stem: String = format!("cronix-{app}-{job}")
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .take(MAX_CRONJOB_NAME - suffix.len())
        .collect();
    format!("{}{suffix}", stem.trim_end_matches('-'))
}

/// The ConfigMap that holds a job's spec: `cronix-<app>-<job>-spec`.
pub fn configmap_name(app: &str, job: &str) -> String {
    format!("cronix-{app}-{job}-spec")
}

/// The key of the spec in its ConfigMap, the file name the shim reads.
pub fn spec_key(app: &str, job: &str) -> String {
    format!("{app}.{job}.json")
}

/// Lowercase letters, digits and `-`, starting and ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Whether `value` can be a label value (≤ 63, alphanumeric at both ends, `-_.` inside).
pub fn is_label_value(value: &str) -> bool {
    value.len() <= MAX_LABEL_VALUE
        && (value.is_empty()
            || (value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && value.as_bytes()[0].is_ascii_alphanumeric()
                && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric()))
}

/// Whether the controller's fire set of `schedule` in `zone` differs from DESIGN §3 in the window:
/// the controller skips a fixed time in a spring-forward gap (§3 runs it right after the jump) and
/// runs a fixed time of a repeated fall-back hour twice (§3 once). Wildcard times behave alike.
pub fn needs_gate(schedule: &Schedule, zone: &TimeZone, window: &Window) -> bool {
    tz_gate::dst_events(schedule, zone, window.start, window.end)
        .iter()
        .any(|e| matches!(e.effect, DstEffect::Shifted | DstEffect::Deduplicated))
}

/// The `concurrencyPolicy` of a manifest's overlap setting.
pub fn concurrency_policy(concurrency: Concurrency) -> &'static str {
    match concurrency {
        Concurrency::Allow => "Allow",
        Concurrency::Forbid => "Forbid",
        Concurrency::Replace => "Replace",
    }
}

/// The renderer of the kubernetes backend.
#[derive(Debug, Clone)]
pub struct K8sRenderer<'a> {
    pub settings: &'a PodSettings,
}

impl Renderer for K8sRenderer<'_> {
    fn check_target(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.settings.image.trim().is_empty() {
            errors.push(
                "no image for the kubernetes backend: give --k8s-image IMAGE or config \
                 kubernetes.image (see docs/kubernetes-image.md to build one)"
                    .to_string(),
            );
        }
        if !PULL_POLICIES.contains(&self.settings.image_pull_policy.as_str()) {
            errors.push(format!(
                "image pull policy {:?}: use one of {}",
                self.settings.image_pull_policy,
                PULL_POLICIES.join(", ")
            ));
        }
        if !is_dns_subdomain(&self.settings.secret_name) {
            errors.push(format!(
                "secret name {:?} is not a valid Kubernetes object name; fix --k8s-secret-name or \
                 config kubernetes.secret_name",
                self.settings.secret_name
            ));
        }
        errors
    }

    fn check_job(&self, input: &JobInput) -> Vec<String> {
        let job = &input.job.name;
        let mut errors = Vec::new();
        if !is_label_value(job) || !is_label_value(input.app) {
            errors.push(format!(
                "job {job}: app and job names are label values on kubernetes and must end with a \
                 letter or digit; rename the job"
            ));
        }
        for r in input.secret_refs {
            match SecretRef::parse(r) {
                Ok(SecretRef::Raw(_)) => errors.push(format!(
                    "job {job}: secret reference raw:[redacted] is refused on the kubernetes \
                     backend: the spec lives in a ConfigMap, readable by anyone who may read \
                     ConfigMaps; put the secret in the Secret {} and refer to it as env:NAME",
                    self.settings.secret_name
                )),
                Ok(SecretRef::Cred(name)) => errors.push(format!(
                    "job {job}: secret reference cred:{name} is a systemd credential, which a pod \
                     does not have; put the secret in the Secret {} and refer to it as env:{name}",
                    self.settings.secret_name
                )),
                Ok(SecretRef::Env(name)) if !is_secret_key(&name) => errors.push(format!(
                    "job {job}: env:{name} cannot be a key of a Secret (keys hold [-._a-zA-Z0-9])"
                )),
                Ok(SecretRef::File(path)) => {
                    let base = path.file_name().and_then(|b| b.to_str()).unwrap_or("");
                    if !is_secret_key(base) {
                        errors.push(format!(
                            "job {job}: file:{} cannot be mounted from a Secret: its file name \
                             must be a Secret key ([-._a-zA-Z0-9])",
                            path.display()
                        ));
                    }
                }
                _ => {}
            }
        }
        errors
    }

    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        let window = Window::around(input.now);
        input
            .schedules
            .iter()
            .enumerate()
            .map(|(idx, schedule)| {
                let (expression, zone, gate, wakeups) = if needs_gate(schedule, input.zone, &window)
                {
                    let entry = tz_gate::gated_entry(schedule, input.zone, &TimeZone::UTC, &window);
                    (
                        entry.expression,
                        "Etc/UTC".to_string(),
                        Some(idx),
                        Some(entry.wakeups_per_day),
                    )
                } else {
                    (
                        schedule.crontab_expression(),
                        input.job.timezone.clone(),
                        None,
                        None,
                    )
                };
                let body = cronjob_body(self.settings, input, idx, &expression, &zone, gate);
                Rendered {
                    line: canonical(&body),
                    shown: format!("{expression} ({zone})"),
                    gate_wakeups_per_day: wakeups,
                }
            })
            .collect()
    }

    fn starts_overlapping_fires(&self) -> bool {
        true
    }
}

fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= MAX_CONFIGMAP_NAME && name.split('.').all(is_dns_label)
}

/// The fields of one entry's CronJob that cronix owns, without labels and liveness.
fn cronjob_body(
    settings: &PodSettings,
    input: &JobInput,
    idx: usize,
    expression: &str,
    zone: &str,
    gate: Option<usize>,
) -> Value {
    let app = input.app;
    let job = &input.job.name;
    let mut args: Vec<String> = vec![
        "trigger".into(),
        "--backend".into(),
        "kubernetes".into(),
        "--spec-dir".into(),
        POD_SPEC_DIR.into(),
        "--termination-log".into(),
        POD_TERMINATION_LOG.into(),
    ];
    if let Some(gate) = gate {
        args.extend(["--gate".into(), gate.to_string()]);
    }
    if settings.otel {
        args.push("--otel".into());
    }
    args.push(format!("{app}.{job}"));

    let (env, file_refs) = secret_parts(input.secret_refs);
    let env: Vec<Value> = env
        .iter()
        .map(|name| {
            // Optional: a missing key is an empty resolution the shim skips (DESIGN §6), not a
            // pod that cannot start; apply refuses a job none of whose keys exist.
            json!({"name": name, "valueFrom": {"secretKeyRef": {
                "name": settings.secret_name, "key": name, "optional": true}}})
        })
        .collect();
    let mut mounts = vec![json!({
        "name": "spec", "mountPath": format!("{POD_SPEC_DIR}/{}", spec_key(app, job)),
        "subPath": spec_key(app, job), "readOnly": true,
    })];
    let mut volumes = vec![json!({"name": "spec", "configMap": {
        "name": configmap_name(app, job), "defaultMode": MOUNT_MODE,
        "items": [{"key": spec_key(app, job), "path": spec_key(app, job)}],
    }})];
    if !file_refs.is_empty() {
        let keys: BTreeMap<&str, ()> = file_refs.iter().map(|(_, k)| (k.as_str(), ())).collect();
        volumes.push(json!({"name": "secret-files", "secret": {
            "secretName": settings.secret_name, "defaultMode": MOUNT_MODE, "optional": true,
            "items": keys.keys().map(|k| json!({"key": k, "path": k})).collect::<Vec<_>>(),
        }}));
        for (path, key) in &file_refs {
            mounts.push(
                json!({"name": "secret-files", "mountPath": path, "subPath": key,
                "readOnly": true}),
            );
        }
    }
    let ids = json!({LABEL_APP: app, LABEL_JOB: job, LABEL_INDEX: idx.to_string()});
    let worst = crate::core::systemd_unit::worst_case_fire_seconds(input.job) + POD_MARGIN_SECONDS;
    let mut pod = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {"runAsNonRoot": true, "runAsUser": POD_UID, "runAsGroup": POD_UID},
        "containers": [{
            "name": "cronix",
            "image": settings.image,
            "imagePullPolicy": settings.image_pull_policy,
            "command": [POD_TRIGGER_BIN],
            "args": args,
            "env": env,
            "volumeMounts": mounts,
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                          "limits": {"memory": "128Mi"}},
            "securityContext": {
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "runAsNonRoot": true, "runAsUser": POD_UID,
                "capabilities": {"drop": ["ALL"]},
            },
        }],
        "volumes": volumes,
    });
    if settings.host_network {
        pod["hostNetwork"] = Value::Bool(true);
    }
    if env.is_empty() {
        // The API server drops an empty list; the artifact must read back the same.
        if let Some(c) = pod["containers"][0].as_object_mut() {
            c.remove("env");
        }
    }
    json!({
        "metadata": {"name": cronjob_name(app, job, idx)},
        "spec": {
            "schedule": expression,
            "timeZone": zone,
            "concurrencyPolicy": concurrency_policy(input.job.policy.concurrency),
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": HISTORY_LIMIT,
            "failedJobsHistoryLimit": HISTORY_LIMIT,
            "jobTemplate": {
                "metadata": {"labels": ids},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": worst,
                    "template": {"metadata": {"labels": ids}, "spec": pod},
                },
            },
        },
    })
}

/// The `env:` names and the `file:` (path, Secret key = file name) pairs of a job's references, in
/// order, each once. Other schemes are refused by `check_job`.
pub fn secret_parts(refs: &[String]) -> (Vec<String>, Vec<(String, String)>) {
    let mut env = Vec::new();
    let mut files = Vec::new();
    for r in refs {
        match SecretRef::parse(r) {
            Ok(SecretRef::Env(name)) if !env.contains(&name) => env.push(name),
            Ok(SecretRef::File(path)) => {
                let key = path
                    .file_name()
                    .and_then(|b| b.to_str())
                    .unwrap_or_default()
                    .to_string();
                let path = path.display().to_string();
                if !files.iter().any(|(p, _)| *p == path) {
                    files.push((path, key));
                }
            }
            _ => {}
        }
    }
    (env, files)
}

/// The shape of the owned fields: an object lists the keys taken, an array's single element is the
/// shape of every element, `null` takes the value whole.
fn owned_shape() -> Value {
    let items = json!([{"key": null, "path": null, "mode": null}]);
    let labels = json!({"labels": null});
    json!({
        "metadata": {"name": null},
        "spec": {
            "schedule": null, "timeZone": null, "concurrencyPolicy": null,
            "startingDeadlineSeconds": null, "successfulJobsHistoryLimit": null,
            "failedJobsHistoryLimit": null,
            "jobTemplate": {"metadata": labels, "spec": {
                "backoffLimit": null, "activeDeadlineSeconds": null,
                "template": {"metadata": labels, "spec": {
                    "restartPolicy": null, "hostNetwork": null,
                    "automountServiceAccountToken": null, "terminationGracePeriodSeconds": null,
                    "securityContext": {"runAsNonRoot": null, "runAsUser": null, "runAsGroup": null},
                    "containers": [{
                        "name": null, "image": null, "imagePullPolicy": null, "command": null,
                        "args": null,
                        "env": [{"name": null, "value": null,
                                 "valueFrom": {"secretKeyRef": {"name": null, "key": null,
                                                                "optional": null}}}],
                        "volumeMounts": [{"name": null, "mountPath": null, "subPath": null,
                                          "readOnly": null}],
                        "resources": {"requests": null, "limits": null},
                        "securityContext": {"allowPrivilegeEscalation": null,
                            "readOnlyRootFilesystem": null, "runAsNonRoot": null,
                            "runAsUser": null, "capabilities": {"drop": null}},
                    }],
                    "volumes": [{"name": null,
                        "configMap": {"name": null, "defaultMode": null, "items": items},
                        "secret": {"secretName": null, "defaultMode": null, "optional": null,
                                   "items": items}}],
                }},
            }},
        },
    })
}

fn project(value: &Value, shape: &Value) -> Option<Value> {
    match (shape, value) {
        (Value::Null, v) => Some(v.clone()),
        (Value::Object(keys), Value::Object(fields)) => {
            let mut out = Map::new();
            for (key, sub) in keys {
                if let Some(v) = fields.get(key).and_then(|v| project(v, sub)) {
                    out.insert(key.clone(), v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Value::Array(shapes), Value::Array(items)) => {
            let sub = shapes.first().unwrap_or(&Value::Null);
            Some(Value::Array(
                items
                    .iter()
                    .map(|i| project(i, sub).unwrap_or_else(|| json!({})))
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// The owned fields of a CronJob (desired or live), as the artifact compares them.
pub fn owned_view(cronjob: &Value) -> Value {
    project(cronjob, &owned_shape()).unwrap_or_else(|| json!({}))
}

/// Pretty JSON with sorted keys and a final newline.
pub fn canonical(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The identity labels every owned object carries.
fn labels(app: &str, job: &str, idx: Option<usize>, hash: Option<&str>) -> Value {
    let mut labels = json!({LABEL_MANAGED: "true", LABEL_APP: app, LABEL_JOB: job});
    if let Some(idx) = idx {
        labels[LABEL_INDEX] = Value::String(idx.to_string());
    }
    if let Some(hash) = hash {
        labels[LABEL_HASH] = Value::String(hash.to_string());
    }
    labels
}

/// The CronJob to apply for an entry: its artifact plus the kind, namespace, labels and
/// `suspend: false` (sent so that cronix owns it, and a hand suspension is undone by apply).
pub fn cronjob_object(
    artifact: &str,
    namespace: &str,
    app: &str,
    job: &str,
    idx: usize,
    hash: &str,
) -> Result<Value, String> {
    let mut object: Value = serde_json::from_str(artifact)
        .map_err(|e| format!("internal: the artifact of {app}.{job}[{idx}] is not JSON: {e}"))?;
    if !object.is_object() {
        return Err(format!(
            "internal: the artifact of {app}.{job}[{idx}] is not an object"
        ));
    }
    object["apiVersion"] = json!("batch/v1");
    object["kind"] = json!("CronJob");
    object["metadata"]["namespace"] = json!(namespace);
    object["metadata"]["labels"] = labels(app, job, Some(idx), Some(hash));
    object["spec"]["suspend"] = json!(false);
    Ok(object)
}

/// The ConfigMap that holds one job's spec file.
pub fn configmap_object(namespace: &str, app: &str, job: &str, bytes: &[u8], mode: u32) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(app, job),
            "namespace": namespace,
            "labels": labels(app, job, None, None),
            "annotations": {ANNOTATION_SPEC_MODE: format!("{mode:04o}")},
        },
        "data": {spec_key(app, job): String::from_utf8_lossy(bytes)},
    })
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["labels"][key].as_str()
}

/// The object's name.
pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or("")
}

/// Whether the object carries `cronix.dev/managed=true`.
pub fn is_managed(object: &Value) -> bool {
    label(object, LABEL_MANAGED) == Some("true")
}

/// An owned CronJob read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCronJob {
    pub name: String,
    pub app: String,
    pub job: String,
    pub idx: usize,
    /// The hash its label carries (empty when it has none: always `changed`).
    pub hash: String,
    /// The artifact it carries.
    pub line: String,
    /// The schedule and zone it fires by.
    pub schedule: String,
    /// Why it does not fire although it exists (`suspended`).
    pub inactive: Option<String>,
    pub revision: Option<String>,
    /// The controller's `status.lastScheduleTime`.
    pub last_schedule: Option<String>,
    /// Whether cronix ever server-side applied it (else another tool wrote it: the reference, or a
    /// hand `kubectl create` of the labels; apply takes its fields over).
    pub applied_by_cronix: bool,
}

/// A live CronJob as an entry; `None` for a foreign one (no `cronix.dev/managed=true`, or no
/// identity labels).
pub fn live_cronjob(object: &Value) -> Option<LiveCronJob> {
    if !is_managed(object) {
        return None;
    }
    let app = label(object, LABEL_APP)?.to_string();
    let job = label(object, LABEL_JOB)?.to_string();
    let idx = label(object, LABEL_INDEX)?.parse().ok()?;
    let spec = &object["spec"];
    let schedule = match spec["timeZone"].as_str() {
        Some(zone) => format!("{} ({zone})", spec["schedule"].as_str().unwrap_or("")),
        None => spec["schedule"].as_str().unwrap_or("").to_string(),
    };
    Some(LiveCronJob {
        name: name_of(object).to_string(),
        app,
        job,
        idx,
        hash: label(object, LABEL_HASH).unwrap_or("").to_string(),
        line: canonical(&owned_view(object)),
        schedule,
        inactive: (spec["suspend"].as_bool() == Some(true)).then(|| "suspended".to_string()),
        revision: object["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
        last_schedule: object["status"]["lastScheduleTime"]
            .as_str()
            .map(str::to_string),
        applied_by_cronix: object["metadata"]["managedFields"]
            .as_array()
            .is_some_and(|fields| {
                fields
                    .iter()
                    .any(|f| f["manager"] == FIELD_MANAGER && f["operation"] == "Apply")
            }),
    })
}

/// An owned ConfigMap read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecObject {
    /// The job's own spec ConfigMap: its bytes and recorded mode.
    Spec {
        name: String,
        app: String,
        job: String,
        bytes: Vec<u8>,
        mode: u32,
    },
    /// The reference's per-schedule spec ConfigMap, or any other owned ConfigMap of a job that is
    /// not the one cronix names: removed once the job's own spec is in place.
    Legacy {
        name: String,
        app: String,
        job: String,
    },
}

/// A live ConfigMap as a spec; `None` for a foreign one.
pub fn live_configmap(object: &Value) -> Option<SpecObject> {
    if !is_managed(object) {
        return None;
    }
    let app = label(object, LABEL_APP)?.to_string();
    let job = label(object, LABEL_JOB)?.to_string();
    let name = name_of(object).to_string();
    if name != configmap_name(&app, &job) || label(object, LABEL_INDEX).is_some() {
        return Some(SpecObject::Legacy { name, app, job });
    }
    let bytes = object["data"][spec_key(&app, &job)]
        .as_str()
        .unwrap_or("")
        .as_bytes()
        .to_vec();
    let mode = object["metadata"]["annotations"][ANNOTATION_SPEC_MODE]
        .as_str()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0o644);
    Some(SpecObject::Spec {
        name,
        app,
        job,
        bytes,
        mode,
    })
}

/// Whether an owned object's labels name this identity (`idx` `None` for a spec ConfigMap).
pub fn has_identity(object: &Value, app: &str, job: &str, idx: Option<usize>) -> bool {
    is_managed(object)
        && label(object, LABEL_APP) == Some(app)
        && label(object, LABEL_JOB) == Some(job)
        && match idx {
            Some(i) => label(object, LABEL_INDEX) == Some(i.to_string().as_str()),
            None => true,
        }
}

/// The refusal for a name cronix needs that a foreign object holds.
pub fn foreign_conflict(kind: &str, name: &str, namespace: &str, wanted_for: &str) -> String {
    format!(
        "{kind} {namespace}/{name} exists and is not cronix's (no label {MANAGED_SELECTOR}); \
         cronix needs that name for {wanted_for} and changes nothing: rename or delete the \
         object, or label it {MANAGED_SELECTOR} to let cronix take it over"
    )
}

/// A run record from a pod's termination message (the shim writes one JSON history record).
pub fn termination_record(message: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(message.trim()).ok()?;
    value.is_object().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::manifest::Job;

    fn settings() -> PodSettings {
        PodSettings {
            image: "cronix:local".into(),
            image_pull_policy: "IfNotPresent".into(),
            secret_name: "cronix-secrets".into(),
            host_network: false,
            otel: false,
        }
    }

    fn job(name: &str, schedules: &[&str], tz: &str) -> Job {
        let text = format!(
            r#"{{"version":1,"app":"billing","jobs":[{{"name":"{name}","schedules":{:?},
            "timezone":"{tz}","request":{{"method":"POST","url":"https://x.example/h"}}}}]}}"#,
            schedules
        );
        crate::core::manifest::parse(text.as_bytes(), &|_| true)
            .expect("manifest")
            .jobs
            .remove(0)
    }

    fn render(job: &Job, refs: &[String], now: &str) -> Vec<Rendered> {
        let zone = TimeZone::get(&job.timezone).unwrap();
        let schedules = Schedule::parse_valid(&job.schedules);
        let settings = settings();
        K8sRenderer {
            settings: &settings,
        }
        .render_job(&JobInput {
            app: "billing",
            job,
            schedules: &schedules,
            zone: &zone,
            secret_refs: refs,
            now: now.parse().unwrap(),
        })
    }

    #[test]
    fn short_names_are_the_references_and_long_ones_are_shortened_deterministically() {
        assert_eq!(
            cronjob_name("billing", "settle", 0),
            "cronix-billing-settle-0"
        );
        let long = "a".repeat(40);
        let name = cronjob_name("billing", &long, 3);
        assert!(name.len() <= MAX_CRONJOB_NAME, "{name}");
        assert!(is_dns_label(&name), "{name}");
        assert!(
            name.starts_with("cronix-billing-aaa") && name.contains("-3-"),
            "{name}"
        );
        assert_eq!(name, cronjob_name("billing", &long, 3));
        assert_ne!(name, cronjob_name("billing", &long, 4));
        let other = format!("{}b", "a".repeat(39));
        assert_ne!(name, cronjob_name("billing", &other, 3));
        let max = "x".repeat(63);
        let name = cronjob_name(&max, &max, 12);
        assert!(
            name.len() <= MAX_CRONJOB_NAME && is_dns_label(&name),
            "{name}"
        );
        assert_eq!(
            configmap_name("billing", "settle"),
            "cronix-billing-settle-spec"
        );
        assert!(configmap_name(&max, &max).len() <= MAX_CONFIGMAP_NAME);
    }

    #[test]
    fn label_values_must_end_in_a_letter_or_digit() {
        assert!(is_label_value("settle-2"));
        assert!(!is_label_value("settle-"));
        assert!(!is_label_value(&"a".repeat(64)));
    }

    #[test]
    fn a_cronjob_carries_the_schedule_zone_policy_and_a_locked_down_pod() {
        let j = job("settle", &["0 2 * * *"], "UTC");
        let r = render(&j, &["env:TOKEN".into()], "2026-06-01T00:00:00Z");
        assert_eq!(r.len(), 1);
        let body: Value = serde_json::from_str(&r[0].line).unwrap();
        let spec = &body["spec"];
        assert_eq!(spec["schedule"], "0 2 * * *");
        assert_eq!(spec["timeZone"], "UTC");
        assert_eq!(spec["concurrencyPolicy"], "Forbid");
        assert_eq!(spec["startingDeadlineSeconds"], STARTING_DEADLINE_SECONDS);
        let jt = &spec["jobTemplate"]["spec"];
        assert_eq!(jt["backoffLimit"], 0);
        assert!(jt["activeDeadlineSeconds"].as_u64().unwrap() > POD_MARGIN_SECONDS);
        let pod = &jt["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(c["securityContext"]["runAsUser"], POD_UID);
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args.last(), Some(&"billing.settle"));
        assert!(args.windows(2).any(|w| w == ["--spec-dir", POD_SPEC_DIR]));
        assert!(!args.contains(&"--gate"));
        assert_eq!(
            c["env"],
            json!([{"name": "TOKEN", "valueFrom": {"secretKeyRef":
                {"name": "cronix-secrets", "key": "TOKEN", "optional": true}}}])
        );
        assert_eq!(
            c["volumeMounts"][0]["mountPath"],
            "/etc/cronix/jobs/billing.settle.json"
        );
        assert_eq!(
            pod["volumes"][0]["configMap"]["name"],
            "cronix-billing-settle-spec"
        );
        assert!(pod.get("hostNetwork").is_none());
    }

    #[test]
    fn concurrency_maps_one_to_one() {
        assert_eq!(concurrency_policy(Concurrency::Allow), "Allow");
        assert_eq!(concurrency_policy(Concurrency::Forbid), "Forbid");
        assert_eq!(concurrency_policy(Concurrency::Replace), "Replace");
    }

    #[test]
    fn a_fixed_time_in_a_fall_back_hour_gets_the_gate_on_utc() {
        let j = job(
            "settle",
            &["30 1 * * *", "*/30 * * * *"],
            "America/New_York",
        );
        let r = render(&j, &[], "2026-06-01T00:00:00Z");
        let fixed: Value = serde_json::from_str(&r[0].line).unwrap();
        assert_eq!(fixed["spec"]["timeZone"], "Etc/UTC");
        let args =
            fixed["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
                .to_string();
        assert!(args.contains("\"--gate\",\"0\""), "{args}");
        assert!(r[0].gate_wakeups_per_day.is_some());
        // A wildcard schedule fires by the wall clock in both passes, as the controller does.
        let wild: Value = serde_json::from_str(&r[1].line).unwrap();
        assert_eq!(wild["spec"]["timeZone"], "America/New_York");
        assert_eq!(wild["spec"]["schedule"], "*/30 * * * *");
        assert!(!wild.to_string().contains("--gate"));
        // A fixed time in the spring-forward gap: the controller would skip it, §3 runs it late.
        let j = job("settle", &["30 2 * * *"], "America/New_York");
        let r = render(&j, &[], "2026-06-01T00:00:00Z");
        assert!(r[0].line.contains("\"--gate\""), "{}", r[0].line);
        // A fixed time away from the changes needs no gate.
        let j = job("settle", &["0 12 * * *"], "America/New_York");
        let r = render(&j, &[], "2026-06-01T00:00:00Z");
        assert!(!r[0].line.contains("--gate"));
    }

    #[test]
    fn secrets_map_to_key_refs_and_mounts_of_that_job_only() {
        let refs = vec![
            "env:A".to_string(),
            "B".to_string(),
            "file:/run/secrets/token".to_string(),
            "env:A".to_string(),
        ];
        let (env, files) = secret_parts(&refs);
        assert_eq!(env, ["A", "B"]);
        assert_eq!(files, [("/run/secrets/token".into(), "token".into())]);
        let j = job("settle", &["0 2 * * *"], "UTC");
        let r = render(&j, &refs, "2026-06-01T00:00:00Z");
        let body: Value = serde_json::from_str(&r[0].line).unwrap();
        let pod = &body["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["volumes"][1]["secret"]["secretName"], "cronix-secrets");
        assert_eq!(
            pod["volumes"][1]["secret"]["items"],
            json!([{"key": "token", "path": "token"}])
        );
        let mount = &pod["containers"][0]["volumeMounts"][1];
        assert_eq!(mount["mountPath"], "/run/secrets/token");
        assert_eq!(mount["subPath"], "token");
        assert_eq!(mount["readOnly"], true);
    }

    #[test]
    fn raw_and_cred_refs_are_refused_with_the_reason() {
        let j = job("settle", &["0 2 * * *"], "UTC");
        let zone = TimeZone::UTC;
        let schedules = Schedule::parse_valid(&j.schedules);
        let s = settings();
        let refs = vec!["raw:hunter2".to_string(), "cred:TOKEN".to_string()];
        let errors = K8sRenderer { settings: &s }.check_job(&JobInput {
            app: "billing",
            job: &j,
            schedules: &schedules,
            zone: &zone,
            secret_refs: &refs,
            now: jiff::Timestamp::UNIX_EPOCH,
        });
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("raw:[redacted]") && !errors[0].contains("hunter2"));
        assert!(errors[1].contains("cred:TOKEN") && errors[1].contains("env:TOKEN"));
        let mut empty = settings();
        empty.image = String::new();
        empty.image_pull_policy = "Sometimes".into();
        let errors = K8sRenderer { settings: &empty }.check_target();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    fn live(line: &str, hash: &str) -> Value {
        let mut object = cronjob_object(line, "ns", "billing", "settle", 0, hash).expect("object");
        // What the API server adds: defaults, status, metadata of its own.
        object["metadata"]["resourceVersion"] = json!("42");
        object["metadata"]["uid"] = json!("u");
        object["metadata"]["labels"]["team"] = json!("x");
        object["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] =
            json!("ClusterFirst");
        object["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
            json!("/dev/termination-log");
        object["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["extra"] =
            json!(1);
        object["status"] = json!({"lastScheduleTime": "2026-06-01T02:00:00Z"});
        object
    }

    #[test]
    fn a_live_object_reads_back_as_its_artifact_and_a_hand_patch_as_edited() {
        let j = job("settle", &["0 2 * * *"], "UTC");
        let r = render(&j, &["env:TOKEN".into()], "2026-06-01T00:00:00Z");
        let object = live(&r[0].line, "0123456789abcdef");
        let entry = live_cronjob(&object).expect("owned");
        assert_eq!(
            (entry.app.as_str(), entry.job.as_str(), entry.idx),
            ("billing", "settle", 0)
        );
        assert_eq!(entry.hash, "0123456789abcdef");
        assert_eq!(entry.line, r[0].line, "defaults must not read as edits");
        assert_eq!(entry.inactive, None);
        assert_eq!(entry.revision.as_deref(), Some("42"));
        assert_eq!(entry.schedule, "0 2 * * * (UTC)");
        assert_eq!(entry.last_schedule.as_deref(), Some("2026-06-01T02:00:00Z"));

        let mut patched = object.clone();
        patched["spec"]["schedule"] = json!("5 2 * * *");
        assert_ne!(live_cronjob(&patched).unwrap().line, r[0].line);

        let mut suspended = object.clone();
        suspended["spec"]["suspend"] = json!(true);
        let entry = live_cronjob(&suspended).unwrap();
        assert_eq!(entry.inactive.as_deref(), Some("suspended"));
        assert_eq!(entry.line, r[0].line);
    }

    #[test]
    fn objects_without_the_managed_label_are_foreign() {
        let j = job("settle", &["0 2 * * *"], "UTC");
        let r = render(&j, &[], "2026-06-01T00:00:00Z");
        let mut object = live(&r[0].line, "h");
        object["metadata"]["labels"] = json!({"cronix.dev/app": "billing"});
        assert!(live_cronjob(&object).is_none());
        object["metadata"]["labels"][LABEL_MANAGED] = json!("false");
        assert!(live_cronjob(&object).is_none());
        assert!(!has_identity(&object, "billing", "settle", Some(0)));
        let cm = json!({"metadata": {"name": "cronix-billing-settle-spec"}});
        assert!(live_configmap(&cm).is_none());
    }

    #[test]
    fn spec_configmaps_round_trip_and_the_references_are_legacy() {
        let object = configmap_object("ns", "billing", "settle", b"{\"a\":1}\n", 0o644);
        assert_eq!(
            live_configmap(&object),
            Some(SpecObject::Spec {
                name: "cronix-billing-settle-spec".into(),
                app: "billing".into(),
                job: "settle".into(),
                bytes: b"{\"a\":1}\n".to_vec(),
                mode: 0o644,
            })
        );
        let reference = json!({"metadata": {"name": "cronix-billing-settle-0-spec", "labels": {
            LABEL_MANAGED: "true", LABEL_APP: "billing", LABEL_JOB: "settle", LABEL_INDEX: "0"}},
            "data": {"billing.settle.json": "{}"}});
        assert_eq!(
            live_configmap(&reference),
            Some(SpecObject::Legacy {
                name: "cronix-billing-settle-0-spec".into(),
                app: "billing".into(),
                job: "settle".into(),
            })
        );
    }

    #[test]
    fn a_reference_cronjob_is_read_as_an_owned_entry_to_update() {
        let reference = json!({"metadata": {"name": "cronix-billing-settle-0", "labels": {
            LABEL_MANAGED: "true", LABEL_APP: "billing", LABEL_JOB: "settle", LABEL_INDEX: "0",
            LABEL_HASH: "deadbeefdeadbeef"}, "resourceVersion": "7"},
            "spec": {"schedule": "0 2 * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid"}});
        let entry = live_cronjob(&reference).expect("taken over");
        assert_eq!(entry.name, "cronix-billing-settle-0");
        assert_eq!(entry.hash, "deadbeefdeadbeef");
    }

    #[test]
    fn the_applied_object_adds_labels_kind_and_suspend_false() {
        let j = job("settle", &["0 2 * * *"], "UTC");
        let r = render(&j, &[], "2026-06-01T00:00:00Z");
        let object = cronjob_object(&r[0].line, "ns", "billing", "settle", 0, "h").unwrap();
        assert_eq!(object["kind"], "CronJob");
        assert_eq!(object["metadata"]["labels"][LABEL_HASH], "h");
        assert_eq!(object["metadata"]["labels"][LABEL_MANAGED], "true");
        assert_eq!(object["spec"]["suspend"], false);
        assert_eq!(canonical(&owned_view(&object)), r[0].line);
    }

    #[test]
    fn a_termination_message_is_a_record_or_nothing() {
        assert!(termination_record("{\"outcome\":\"ok\"}\n").is_some());
        assert!(termination_record("panic").is_none());
    }
}
