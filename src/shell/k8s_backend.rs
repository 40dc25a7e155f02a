//! The kubernetes backend: per entry a `batch/v1` CronJob, per job a spec ConfigMap, in one
//! namespace, owned through the reference's labels (`core::k8s_objects`), reached through
//! `shell::k8s_client`.
//!
//! Reads are one label-selected list per kind (CronJobs, ConfigMaps), made once per command.
//! Writes are server-side apply (field manager `cronix`) of the objects a plan changes and deletes
//! of the ones it removes, in a safe order: spec ConfigMaps first, then CronJob deletes, CronJob
//! applies, spec ConfigMap deletes, and last the reference's per-schedule spec ConfigMaps of the jobs
//! whose spec cronix replaced. A plan without ops sends nothing. Updates and deletes carry the
//! `resourceVersion` read (a 409 is "the target changed; re-run"). Apply first sends without
//! `force`; a field another manager took from cronix is taken back with `force` only for the ops
//! whose drift says so (`edited`, `inactive`): any other conflict is a refusal.
//!
//! Objects without `cronix.dev/managed=true` are never read as entries and never written; a plan
//! that needs the name of one is refused before any write (`install_conflicts`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::core::history::RunRecord;
use crate::core::k8s_objects::{
    self as objects, FOREIGN_SELECTOR, LiveCronJob, MANAGED_SELECTOR, PodSettings, SpecObject,
};
use crate::core::plan::{Action, DriftKind, InstalledEntry, Op, Plan, SpecFile, Subject};
use crate::core::render::Renderer;
use crate::core::spec::{self, HostPaths, JobSpec};
use crate::error::Failure;
use crate::settings::TargetFlags;
use crate::shell::backend::{
    ApplyGuard, Backend, Capabilities, CheckJob, Common, Executed, FirePaths, HistorySource,
    Preflight, PreflightCheck, PreflightFor, Snapshot, SpecPlace, state_of,
};
use crate::shell::config::Config;
use crate::shell::k8s_client::{ApiError, Cluster, Connect, Kind, Write};

/// What one read found: the owned CronJobs (an entry's `at` indexes them) and spec ConfigMaps.
#[derive(Debug, Clone, Default)]
pub struct K8sState {
    pub cronjobs: Vec<LiveCronJob>,
    pub specs: Vec<SpecObject>,
}

impl K8sState {
    /// The owned CronJobs as entries.
    pub fn entries(&self) -> Vec<InstalledEntry> {
        self.cronjobs
            .iter()
            .enumerate()
            .map(|(at, c)| InstalledEntry {
                app: c.app.clone(),
                job: c.job.clone(),
                idx: c.idx,
                hash: c.hash.clone(),
                line: Some(c.line.clone()),
                schedule: Some(c.schedule.clone()),
                at,
                inactive: c.inactive.clone(),
                revision: c.revision.clone(),
            })
            .collect()
    }

    /// The spec of each job of `app` that has its own ConfigMap.
    pub fn app_specs(&self, app: &str) -> BTreeMap<String, SpecFile> {
        self.specs
            .iter()
            .filter_map(|s| match s {
                SpecObject::Spec {
                    app: a,
                    job,
                    bytes,
                    mode,
                    ..
                } if a == app => Some((
                    job.clone(),
                    SpecFile {
                        bytes: bytes.clone(),
                        mode: *mode,
                        group: None,
                    },
                )),
                _ => None,
            })
            .collect()
    }

    /// Every (app, job) that has a spec ConfigMap of either form.
    pub fn spec_jobs(&self) -> Vec<(String, String)> {
        let set: BTreeSet<(String, String)> = self
            .specs
            .iter()
            .map(|s| match s {
                SpecObject::Spec { app, job, .. } | SpecObject::Legacy { app, job, .. } => {
                    (app.clone(), job.clone())
                }
            })
            .collect();
        set.into_iter().collect()
    }

    /// The spec bytes of one job, when it has its own ConfigMap.
    pub fn spec_bytes(&self, app: &str, job: &str) -> Option<Vec<u8>> {
        self.app_specs(app).remove(job).map(|s| s.bytes)
    }
}

/// Read every owned CronJob and ConfigMap of the namespace: one list per kind.
pub fn read_state(cluster: &Cluster) -> Result<K8sState, String> {
    let what = |kind: Kind, e: ApiError| {
        format!(
            "cannot list the {}s of namespace {} on {}: {e}",
            kind.name(),
            cluster.namespace(),
            cluster.server
        )
    };
    let cronjobs = cluster
        .list(Kind::CronJob, MANAGED_SELECTOR)
        .map_err(|e| what(Kind::CronJob, e))?;
    let configmaps = cluster
        .list(Kind::ConfigMap, MANAGED_SELECTOR)
        .map_err(|e| what(Kind::ConfigMap, e))?;
    let mut cronjobs: Vec<LiveCronJob> =
        cronjobs.iter().filter_map(objects::live_cronjob).collect();
    cronjobs
        .sort_by(|a, b| (&a.app, &a.job, a.idx, &a.name).cmp(&(&b.app, &b.job, b.idx, &b.name)));
    let specs = configmaps
        .iter()
        .filter_map(objects::live_configmap)
        .collect();
    Ok(K8sState { cronjobs, specs })
}

/// The names of foreign objects that a plan's creates need, as refusals; plus the names owned by
/// another identity. Lists foreign names (metadata only) only when the plan creates something.
pub fn conflicts(cluster: &Cluster, state: &K8sState, plan: &Plan) -> Vec<String> {
    let mut wanted: Vec<(Kind, String, String)> = Vec::new();
    for op in plan.ops.iter().filter(|o| o.op == Action::Create) {
        match (op.kind, op.idx) {
            (Subject::Entry, Some(idx)) => wanted.push((
                Kind::CronJob,
                objects::cronjob_name(&op.app, &op.job, idx),
                format!("{}.{} schedule {idx}", op.app, op.job),
            )),
            (Subject::Spec, _) => wanted.push((
                Kind::ConfigMap,
                objects::configmap_name(&op.app, &op.job),
                format!("the spec of {}.{}", op.app, op.job),
            )),
            _ => {}
        }
    }
    let mut errors = Vec::new();
    for (kind, name, what) in &wanted {
        let other = match kind {
            Kind::CronJob => state
                .cronjobs
                .iter()
                .find(|c| &c.name == name)
                .map(|c| format!("{}.{} schedule {}", c.app, c.job, c.idx)),
            _ => state.specs.iter().find_map(|s| match s {
                SpecObject::Legacy { name: n, app, job } if n == name => {
                    Some(format!("an older spec of {app}.{job}"))
                }
                _ => None,
            }),
        };
        if let Some(other) = other {
            errors.push(format!(
                "{} {}/{name} is cronix's, for {other}; {what} needs the same name: rename one \
                 of the jobs",
                kind.name(),
                cluster.namespace()
            ));
        }
    }
    for kind in [Kind::CronJob, Kind::ConfigMap] {
        let names: Vec<&(Kind, String, String)> =
            wanted.iter().filter(|(k, _, _)| *k == kind).collect();
        if names.is_empty() {
            continue;
        }
        match cluster.list_names(kind, FOREIGN_SELECTOR) {
            Ok(foreign) => {
                let foreign: BTreeSet<String> = foreign.into_iter().collect();
                for (_, name, what) in names {
                    if foreign.contains(name) {
                        errors.push(objects::foreign_conflict(
                            kind.name(),
                            name,
                            cluster.namespace(),
                            what,
                        ));
                    }
                }
            }
            Err(e) => errors.push(format!(
                "cannot check for foreign {}s in namespace {}: {e}",
                kind.name(),
                cluster.namespace()
            )),
        }
    }
    errors
}

/// Jobs of a plan none of whose Secret keys exist (every fire would exit 3 with nothing sent), as
/// refusals. One GET of the Secret, only when the plan writes a spec with `env:` or `file:`
/// references. A job with some keys missing is not refused: the references are optional in the
/// pod, and the shim skips the empty ones (DESIGN §6); doctor lists the missing keys.
pub fn missing_secret_keys(cluster: &Cluster, secret: &str, plan: &Plan) -> Vec<String> {
    let needed: Vec<(String, Vec<String>)> = plan
        .spec_ops()
        .filter(|o| o.op != Action::Delete)
        .filter_map(|op| {
            let keys = secret_keys_of(&op.spec.as_ref()?.bytes);
            (!keys.is_empty()).then(|| (format!("{}.{}", op.app, op.job), keys))
        })
        .collect();
    if needed.is_empty() {
        return Vec::new();
    }
    let ns = cluster.namespace();
    let keys = match cluster.secret_keys(secret) {
        Ok(Some(keys)) => keys,
        Ok(None) => {
            return vec![format!(
                "Secret {ns}/{secret} does not exist; the fires of {} read their secrets from \
                 it; create it (examples/kubernetes/secret.yaml) or name another with \
                 --k8s-secret-name",
                needed
                    .iter()
                    .map(|(job, _)| job.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )];
        }
        Err(e) => return vec![format!("cannot read Secret {ns}/{secret}: {e}")],
    };
    needed
        .into_iter()
        .filter(|(_, wanted)| wanted.iter().all(|k| !keys.contains(k)))
        .map(|(job, wanted)| {
            format!(
                "Secret {ns}/{secret} has none of the keys job {job} refers to ({}): every fire \
                 would send nothing; add one (kubectl -n {ns} create secret generic {secret} \
                 --from-literal={}=… or edit the Secret)",
                wanted.join(", "),
                wanted[0]
            )
        })
        .collect()
}

/// The Secret keys a spec's references need (`env:NAME` → NAME, `file:/p/x` → x).
pub fn secret_keys_of(spec_bytes: &[u8]) -> Vec<String> {
    let refs: Vec<String> = serde_json::from_slice::<Value>(spec_bytes)
        .ok()
        .and_then(|v| {
            v["secret_refs"].as_array().map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    let (env, files) = objects::secret_parts(&refs);
    env.into_iter()
        .chain(files.into_iter().map(|(_, key)| key))
        .collect()
}

/// Execute every op of `plan` in the safe order (spec applies, CronJob deletes, CronJob applies,
/// spec deletes; the writes of one phase are sent concurrently); stop after the first phase with a
/// failure.
pub fn execute_plan(cluster: &Cluster, state: &K8sState, plan: &Plan) -> Executed {
    let mut done = vec![false; plan.ops.len()];
    let indexed: Vec<(usize, &Op)> = plan.ops.iter().enumerate().collect();
    let phase = |f: &dyn Fn(&Op) -> bool| -> Vec<(usize, &Op)> {
        indexed.iter().filter(|(_, o)| f(o)).copied().collect()
    };
    let phases = [
        phase(&|o| o.kind == Subject::Spec && o.op != Action::Delete),
        phase(&|o| o.kind == Subject::Entry && o.op == Action::Delete),
        phase(&|o| o.kind == Subject::Entry && o.op != Action::Delete),
        phase(&|o| o.kind == Subject::Spec && o.op == Action::Delete),
    ];
    for ops in phases {
        if let Err(failure) = run_phase(cluster, state, &ops, &mut done) {
            return Executed {
                done,
                failure: Some(failure),
            };
        }
    }
    // The reference's per-schedule spec ConfigMaps of the jobs whose spec cronix wrote or removed:
    // no CronJob mounts them any more.
    let touched: BTreeSet<(&str, &str)> = plan
        .spec_ops()
        .map(|o| (o.app.as_str(), o.job.as_str()))
        .collect();
    let legacy: Vec<Write> = state
        .specs
        .iter()
        .filter_map(|s| match s {
            SpecObject::Legacy { name, app, job }
                if touched.contains(&(app.as_str(), job.as_str())) =>
            {
                Some(Write::Delete {
                    kind: Kind::ConfigMap,
                    name: name.clone(),
                    revision: None,
                })
            }
            _ => None,
        })
        .collect();
    let failure = cluster
        .write_all(&legacy)
        .into_iter()
        .find_map(|r| r.err())
        .map(|e| {
            Failure::backend(format!(
                "the plan was applied; removing an older spec ConfigMap of the reference tool \
                 failed: {e}; re-run apply to remove it"
            ))
        });
    Executed { done, failure }
}

fn run_phase(
    cluster: &Cluster,
    state: &K8sState,
    ops: &[(usize, &Op)],
    done: &mut [bool],
) -> Result<(), Failure> {
    let mut batch: Vec<(usize, &Op, Write)> = Vec::with_capacity(ops.len());
    for (i, op) in ops {
        batch.push((*i, op, prepare(cluster, state, op)?));
    }
    let writes: Vec<Write> = batch.iter().map(|(_, _, w)| w.clone()).collect();
    let mut first_failure = None;
    let mut retry: Vec<(usize, Write)> = Vec::new();
    for ((i, op, write), result) in batch.iter().zip(cluster.write_all(&writes)) {
        match result {
            Ok(()) => done[*i] = true,
            Err(e) if is_field_conflict(&e) && takes_back(op) => {
                let mut forced = write.clone();
                if let Write::Apply { force, .. } = &mut forced {
                    *force = true;
                }
                retry.push((*i, forced));
            }
            Err(e) => {
                first_failure.get_or_insert_with(|| write_failure(cluster, write, e));
            }
        }
    }
    let writes: Vec<Write> = retry.iter().map(|(_, w)| w.clone()).collect();
    for ((i, write), result) in retry.iter().zip(cluster.write_all(&writes)) {
        match result {
            Ok(()) => done[*i] = true,
            Err(e) => {
                first_failure.get_or_insert_with(|| write_failure(cluster, write, e));
            }
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// The write of one op. An update of a CronJob found under another name than the one cronix gives
/// it (labels copied by hand) first deletes that one.
fn prepare(cluster: &Cluster, state: &K8sState, op: &Op) -> Result<Write, Failure> {
    let ns = cluster.namespace().to_string();
    Ok(match (op.kind, op.op) {
        (Subject::Check, _) => {
            return Err(Failure::backend(
                "the kubernetes backend has no owned `cronix check` job; remove check_every",
            ));
        }
        (Subject::Spec, Action::Delete) => Write::Delete {
            kind: Kind::ConfigMap,
            name: objects::configmap_name(&op.app, &op.job),
            revision: None,
        },
        (Subject::Spec, _) => {
            let spec = op.spec.as_ref().ok_or_else(|| {
                Failure::backend(format!(
                    "internal: spec op of {}.{} without bytes",
                    op.app, op.job
                ))
            })?;
            if spec.bytes.len() > objects::MAX_SPEC_BYTES {
                return Err(Failure::backend(format!(
                    "the spec of {}.{} is {} bytes; a ConfigMap holds at most {}",
                    op.app,
                    op.job,
                    spec.bytes.len(),
                    objects::MAX_SPEC_BYTES
                )));
            }
            Write::Apply {
                kind: Kind::ConfigMap,
                name: objects::configmap_name(&op.app, &op.job),
                object: objects::configmap_object(&ns, &op.app, &op.job, &spec.bytes, spec.mode),
                force: false,
            }
        }
        (Subject::Entry, Action::Delete) => {
            let live = live_of(state, op)?;
            Write::Delete {
                kind: Kind::CronJob,
                name: live.name.clone(),
                revision: live.revision.clone(),
            }
        }
        (Subject::Entry, action) => {
            let idx = op.idx.unwrap_or(0);
            let (Some(line), Some(hash)) = (&op.line, &op.hash) else {
                return Err(Failure::backend(format!(
                    "internal: entry op of {}.{} without its artifact",
                    op.app, op.job
                )));
            };
            let mut object = objects::cronjob_object(line, &ns, &op.app, &op.job, idx, hash)
                .map_err(Failure::backend)?;
            let name = objects::name_of(&object).to_string();
            if action == Action::Update {
                let live = live_of(state, op)?;
                // Found under another name (labels copied by hand), or written by another tool
                // (the reference): its other fields would outlive an apply, so it is replaced.
                if live.name != name || !live.applied_by_cronix {
                    let delete = Write::Delete {
                        kind: Kind::CronJob,
                        name: live.name.clone(),
                        revision: live.revision.clone(),
                    };
                    if let Some(Err(e)) = cluster.write_all(std::slice::from_ref(&delete)).pop() {
                        return Err(write_failure(cluster, &delete, e));
                    }
                } else if let Some(rv) = &live.revision {
                    object["metadata"]["resourceVersion"] = Value::String(rv.clone());
                }
            }
            Write::Apply {
                kind: Kind::CronJob,
                name,
                object,
                force: false,
            }
        }
    })
}

fn live_of<'a>(state: &'a K8sState, op: &Op) -> Result<&'a LiveCronJob, Failure> {
    op.at.and_then(|at| state.cronjobs.get(at)).ok_or_else(|| {
        Failure::backend(format!(
            "internal: no CronJob read for {}.{} schedule {:?}",
            op.app, op.job, op.idx
        ))
    })
}

/// Whether a field conflict on `op` is taken back with `force`: the plan showed a hand edit
/// (`edited`, `inactive`) that apply repairs.
fn takes_back(op: &Op) -> bool {
    matches!(op.drift, DriftKind::Edited | DriftKind::Inactive)
}

/// A field conflict of server-side apply (another manager owns a field cronix sends).
fn is_field_conflict(e: &ApiError) -> bool {
    e.is_conflict() && e.message.contains("Apply failed with")
}

fn write_failure(cluster: &Cluster, write: &Write, e: ApiError) -> Failure {
    let ns = cluster.namespace();
    let (kind, name) = match write {
        Write::Apply { kind, name, .. } | Write::Delete { kind, name, .. } => (kind, name),
    };
    if is_field_conflict(&e) {
        return Failure::backend(format!(
            "{} {ns}/{name}: {}; another field manager owns fields cronix sends, and the plan \
             did not show them as hand edits: nothing more was written. See who changed the \
             object (kubectl get -o yaml --show-managed-fields), then re-run",
            kind.name(),
            e.message
        ));
    }
    if e.is_conflict() {
        return Failure::conflict(format!("{} {ns}/{name} ({})", kind.name(), e.message));
    }
    Failure::backend(format!("{} {ns}/{name}: {e}", kind.name()))
}

/// The verbs and resources apply, prune and history need, as (verb, group, resource).
pub const NEEDED_ACCESS: &[(&str, &str, &str)] = &[
    ("list", "batch", "cronjobs"),
    ("patch", "batch", "cronjobs"),
    ("delete", "batch", "cronjobs"),
    ("list", "", "configmaps"),
    ("patch", "", "configmaps"),
    ("delete", "", "configmaps"),
    ("create", "batch", "cronjobs"),
    ("create", "", "configmaps"),
    ("list", "batch", "jobs"),
    ("list", "", "pods"),
    ("get", "", "secrets"),
];

/// doctor's checks: the API server answers, the credentials may do what apply needs, the image is
/// set, the Secret exists and holds the keys the installed specs refer to.
pub fn preflight_checks(
    cluster: &Cluster,
    settings: &PodSettings,
    state: Option<&K8sState>,
) -> Vec<(String, Result<String, String>)> {
    let mut checks = Vec::new();
    let version = cluster.version();
    let reachable = version.is_ok();
    checks.push((
        "kubernetes API".to_string(),
        version
            .map(|v| {
                format!(
                    "{} answers ({v}), namespace {}",
                    cluster.server,
                    cluster.namespace()
                )
            })
            .map_err(|e| {
                format!(
                    "{} does not answer: {e}; check --kubeconfig / --in-cluster and the network",
                    cluster.server
                )
            }),
    ));
    checks.push((
        "kubernetes image".to_string(),
        if settings.image.trim().is_empty() {
            Err("no image set; give --k8s-image or config kubernetes.image".to_string())
        } else {
            Ok(format!(
                "{} (pull policy {})",
                settings.image, settings.image_pull_policy
            ))
        },
    ));
    if !reachable {
        return checks;
    }
    let mut denied = Vec::new();
    let mut asked = 0;
    for (verb, group, resource) in NEEDED_ACCESS {
        match cluster.can_i(verb, group, resource) {
            Ok((true, _)) => asked += 1,
            Ok((false, reason)) => denied.push(format!(
                "{verb} {resource}{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            )),
            Err(e) => denied.push(format!("{verb} {resource}: cannot ask ({e})")),
        }
    }
    checks.push((
        "kubernetes permissions".to_string(),
        if denied.is_empty() {
            Ok(format!(
                "may do all {asked} things apply, prune and history need in namespace {}",
                cluster.namespace()
            ))
        } else {
            Err(format!(
                "denied in namespace {}: {}; grant them (examples/kubernetes/rbac.yaml)",
                cluster.namespace(),
                denied.join(", ")
            ))
        },
    ));
    let needed: BTreeSet<String> = state
        .map(|s| {
            s.specs
                .iter()
                .filter_map(|sp| match sp {
                    SpecObject::Spec { bytes, .. } => Some(secret_keys_of(bytes)),
                    SpecObject::Legacy { .. } => None,
                })
                .flatten()
                .collect()
        })
        .unwrap_or_default();
    let secret = &settings.secret_name;
    checks.push((
        "kubernetes secret".to_string(),
        match cluster.secret_keys(secret) {
            Ok(Some(keys)) => {
                let missing: Vec<&String> = needed.iter().filter(|k| !keys.contains(k)).collect();
                if missing.is_empty() {
                    Ok(format!(
                        "Secret {secret} holds {} key(s), every one the installed jobs refer to",
                        keys.len()
                    ))
                } else {
                    Err(format!(
                        "Secret {secret} lacks key(s) {} that installed jobs refer to",
                        missing
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
            Ok(None) if needed.is_empty() => Ok(format!(
                "Secret {secret} does not exist; no installed job needs it yet"
            )),
            Ok(None) => Err(format!(
                "Secret {secret} does not exist; create it (examples/kubernetes/secret.yaml)"
            )),
            Err(e) => Err(format!("cannot read Secret {secret}: {e}")),
        },
    ));
    checks
}

/// The run records of a job's fires that the cluster still keeps: the termination messages of the
/// pods of its Jobs, oldest first.
pub fn history(cluster: &Cluster, app: &str, job: &str) -> Result<Vec<RunRecord>, String> {
    let selector = format!("{}={app},{}={job}", objects::LABEL_APP, objects::LABEL_JOB);
    let pods = cluster
        .list(Kind::Pod, &selector)
        .map_err(|e| format!("cannot list the pods of {app}.{job}: {e}"))?;
    let mut records: Vec<RunRecord> = pods
        .iter()
        .flat_map(|pod| {
            pod["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|status| {
            let message = status["state"]["terminated"]["message"].as_str()?;
            serde_json::from_str::<RunRecord>(message.trim()).ok()
        })
        .filter(|r| r.app == app && r.job == job)
        .collect();
    records.sort_by(|a, b| (&a.started_at, &a.run_id).cmp(&(&b.started_at, &b.run_id)));
    Ok(records)
}

/// The connection, made once per process, on first use (building the client sends nothing).
#[derive(Debug, Default)]
pub struct Lazy {
    cluster: OnceLock<Result<Cluster, String>>,
    state: Mutex<Option<K8sState>>,
}

impl Lazy {
    pub fn cluster(&self, how: &Connect) -> Result<&Cluster, Failure> {
        self.cluster
            .get_or_init(|| Cluster::connect(how))
            .as_ref()
            .map_err(|e| Failure::backend(e.clone()))
    }

    /// Drop what was read, so the next read asks the API server again.
    pub fn forget(&self) -> Option<K8sState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The state read by this process (read once; `fresh` reads again).
    pub fn state(&self, how: &Connect, fresh: bool) -> Result<K8sState, Failure> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if fresh || guard.is_none() {
            let cluster = self.cluster(how)?;
            *guard = Some(read_state(cluster).map_err(Failure::backend)?);
        }
        Ok(guard.clone().unwrap_or_default())
    }
}

/// `~/x` as `$HOME/x` (the reference's config writes kubeconfig paths so); other paths as given.
fn home_relative(path: std::path::PathBuf) -> std::path::PathBuf {
    match (path.strip_prefix("~"), crate::env::home()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path,
    }
}

/// The kubernetes backend: one namespace of one cluster.
#[derive(Debug)]
pub struct K8sBackend {
    settings: PodSettings,
    connect: Connect,
    lazy: Lazy,
}

impl K8sBackend {
    /// Settings from the flags over the config's `kubernetes:` (builds nothing, sends nothing).
    pub fn new(target: &TargetFlags, config: &Config, common: Common) -> Result<Self, Failure> {
        let flags = &target.kubernetes;
        let conf = &config.kubernetes;
        let namespace = flags
            .namespace
            .clone()
            .or_else(|| conf.namespace.clone())
            .unwrap_or_else(|| "default".to_string());
        if !objects::is_dns_label(&namespace) {
            return Err(Failure::usage(format!(
                "namespace {namespace:?} is not a valid Kubernetes namespace name; fix \
                 --k8s-namespace or config kubernetes.namespace"
            )));
        }
        Ok(K8sBackend {
            settings: PodSettings {
                image: flags
                    .image
                    .clone()
                    .or_else(|| conf.image.clone())
                    .unwrap_or_default(),
                image_pull_policy: conf
                    .image_pull_policy
                    .clone()
                    .unwrap_or_else(|| "IfNotPresent".to_string()),
                secret_name: flags
                    .secret_name
                    .clone()
                    .or_else(|| conf.secret_name.clone())
                    .unwrap_or_else(|| "cronix-secrets".to_string()),
                host_network: conf.host_network,
                otel: common.otel,
            },
            connect: Connect {
                kubeconfig: flags
                    .kubeconfig
                    .clone()
                    .or_else(|| conf.kubeconfig.clone())
                    .map(home_relative),
                in_cluster: flags.in_cluster || conf.in_cluster,
                namespace,
            },
            lazy: Lazy::default(),
        })
    }

    fn cluster(&self) -> Result<&Cluster, Failure> {
        self.lazy.cluster(&self.connect)
    }

    fn state(&self) -> Result<K8sState, Failure> {
        self.lazy.state(&self.connect, false)
    }

    /// Where the cluster is, as the configuration names it (without connecting when it cannot).
    fn server(&self) -> String {
        match self.cluster() {
            Ok(c) => c.server.trim_end_matches('/').to_string(),
            Err(_) if self.connect.in_cluster => "https://kubernetes.default.svc".to_string(),
            Err(_) => "unknown-cluster".to_string(),
        }
    }
}

impl SpecPlace for K8sBackend {
    fn list(&self) -> Result<BTreeSet<(String, String)>, Failure> {
        Ok(self.state()?.spec_jobs().into_iter().collect())
    }

    fn recorded_target(&self, app: &str, job: &str) -> Option<String> {
        let bytes = self.state().ok()?.spec_bytes(app, job)?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        value["target"].as_str().map(str::to_string)
    }

    fn read_app(&self, app: &str) -> Result<BTreeMap<String, SpecFile>, Failure> {
        Ok(self.state()?.app_specs(app))
    }

    fn find(&self, app: &str, job: &str) -> Result<Option<JobSpec>, Failure> {
        let Some(bytes) = self.state()?.spec_bytes(app, job) else {
            return Ok(None);
        };
        let paths = HostPaths {
            lock_dir: objects::POD_LOCK_DIR,
            state_dir: objects::POD_STATE_DIR,
        };
        spec::parse(&bytes, &paths).map(Some).map_err(|e| {
            Failure::backend(format!(
                "ConfigMap {}/{}: the spec does not parse: {e}; re-run apply",
                self.connect.namespace,
                objects::configmap_name(app, job)
            ))
        })
    }
}

impl Backend for K8sBackend {
    fn target_id(&self) -> String {
        format!("kubernetes:{}/{}", self.server(), self.connect.namespace)
    }

    fn describe(&self) -> String {
        format!(
            "kubernetes namespace {} on {}",
            self.connect.namespace,
            self.server()
        )
    }

    fn renderer(&self) -> Box<dyn Renderer + '_> {
        Box::new(objects::K8sRenderer {
            settings: &self.settings,
        })
    }

    fn preflight(&self, purpose: PreflightFor) -> Preflight {
        let mut pre = Preflight::default();
        let cluster = match self.cluster() {
            Ok(c) => c,
            Err(f) => {
                pre.blocking.push(f.message.clone());
                pre.checks.push(PreflightCheck {
                    name: "kubernetes API".to_string(),
                    result: Err(f.message),
                });
                return pre;
            }
        };
        if purpose == PreflightFor::Doctor {
            let state = self.state().ok();
            pre.checks = preflight_checks(cluster, &self.settings, state.as_ref())
                .into_iter()
                .map(|(name, result)| PreflightCheck { name, result })
                .collect();
        }
        pre
    }

    /// The API server orders writes (each update carries the revision read); there is no local
    /// lock to take.
    fn lock(&self, _wait: std::time::Duration) -> Result<ApplyGuard, Failure> {
        Ok(Box::new(()))
    }

    fn recover(&self, _apps: &[&str]) -> Result<(), Failure> {
        Ok(())
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let state = self.state()?;
        Ok(Snapshot {
            entries: state.entries(),
            state: Box::new(state),
        })
    }

    fn specs(&self) -> &dyn SpecPlace {
        self
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            adopt: false,
            reported_next: false,
            history: HistorySource::Backend,
        }
    }

    fn history(
        &self,
        app: &str,
        job: &str,
    ) -> Result<Vec<crate::core::history::RunRecord>, Failure> {
        history(self.cluster()?, app, job).map_err(Failure::backend)
    }

    fn install_conflicts(&self, snapshot: &Snapshot, plan: &Plan) -> Vec<String> {
        if plan.is_empty() {
            return Vec::new();
        }
        let (cluster, state) = match (self.cluster(), state_of::<K8sState>(snapshot)) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(f), _) | (_, Err(f)) => return vec![f.message],
        };
        let mut errors = conflicts(cluster, state, plan);
        errors.extend(missing_secret_keys(
            cluster,
            &self.settings.secret_name,
            plan,
        ));
        errors
    }

    fn hazards(&self, _snapshot: &Snapshot, _app: &str, _jobs: &[&str]) -> Vec<String> {
        Vec::new()
    }

    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed {
        if plan.is_empty() {
            return Executed::all(plan);
        }
        let (cluster, state) = match (self.cluster(), state_of::<K8sState>(snapshot)) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(f), _) | (_, Err(f)) => return Executed::none(plan, f),
        };
        crate::shell::test_pause::at("k8s_execute");
        let executed = execute_plan(cluster, state, plan);
        // What this process read is stale now.
        let _ = self.lazy.forget();
        executed
    }

    fn follows(&self, entry: &InstalledEntry) -> Option<(std::path::PathBuf, usize)> {
        let _ = entry;
        None
    }

    fn reported_next(&self, _snapshot: &Snapshot, _ats: &[usize]) -> BTreeMap<usize, String> {
        BTreeMap::new()
    }

    fn check_conflicts(&self, check: Option<&CheckJob>) -> Vec<String> {
        match check {
            Some(_) => vec![
                "config check_every: the kubernetes backend has no owned `cronix check` job (its \
                 fires keep their records in the cluster, not in this host's history); remove \
                 check_every for this target"
                    .to_string(),
            ],
            None => Vec::new(),
        }
    }

    /// Gated CronJobs fire in `Etc/UTC` (the others in their own `timeZone`).
    fn scheduler_zone(&self) -> Option<jiff::tz::TimeZone> {
        Some(jiff::tz::TimeZone::UTC)
    }

    fn fire_paths(&self) -> Option<FirePaths> {
        Some(FirePaths {
            trigger_bin: objects::POD_TRIGGER_BIN,
            spec_dir: objects::POD_SPEC_DIR,
            lock_dir: objects::POD_LOCK_DIR,
            state_dir: objects::POD_STATE_DIR,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(app: &str, job: &str, idx: usize, suspended: bool) -> LiveCronJob {
        LiveCronJob {
            name: objects::cronjob_name(app, job, idx),
            app: app.into(),
            job: job.into(),
            idx,
            hash: "h".into(),
            line: "{}\n".into(),
            schedule: "0 2 * * * (UTC)".into(),
            inactive: suspended.then(|| "suspended".to_string()),
            revision: Some("7".into()),
            last_schedule: None,
            applied_by_cronix: true,
        }
    }

    #[test]
    fn entries_carry_liveness_and_revision_and_point_at_what_was_read() {
        let state = K8sState {
            cronjobs: vec![live("a", "x", 0, false), live("a", "y", 0, true)],
            specs: Vec::new(),
        };
        let entries = state.entries();
        assert_eq!(entries[1].at, 1);
        assert_eq!(entries[1].inactive.as_deref(), Some("suspended"));
        assert_eq!(entries[0].inactive, None);
        assert_eq!(entries[0].revision.as_deref(), Some("7"));
    }

    #[test]
    fn specs_are_per_job_and_the_references_only_count_as_present_jobs() {
        let state = K8sState {
            cronjobs: Vec::new(),
            specs: vec![
                SpecObject::Spec {
                    name: "cronix-a-x-spec".into(),
                    app: "a".into(),
                    job: "x".into(),
                    bytes: b"{}".to_vec(),
                    mode: 0o644,
                },
                SpecObject::Legacy {
                    name: "cronix-a-y-0-spec".into(),
                    app: "a".into(),
                    job: "y".into(),
                },
                SpecObject::Spec {
                    name: "cronix-b-x-spec".into(),
                    app: "b".into(),
                    job: "x".into(),
                    bytes: b"{}".to_vec(),
                    mode: 0o644,
                },
            ],
        };
        let a = state.app_specs("a");
        assert_eq!(a.keys().collect::<Vec<_>>(), ["x"]);
        assert_eq!(a["x"].mode, 0o644);
        assert_eq!(
            state.spec_jobs(),
            [
                ("a".to_string(), "x".to_string()),
                ("a".to_string(), "y".to_string()),
                ("b".to_string(), "x".to_string())
            ]
        );
        assert_eq!(state.spec_bytes("b", "x"), Some(b"{}".to_vec()));
        assert_eq!(state.spec_bytes("a", "y"), None);
    }

    #[test]
    fn the_secret_keys_a_spec_needs_are_its_env_names_and_file_names() {
        let spec = br#"{"secret_refs": ["env:A", "B", "file:/run/s/token", "raw:x"]}"#;
        assert_eq!(secret_keys_of(spec), ["A", "B", "token"]);
        assert!(secret_keys_of(b"not json").is_empty());
    }
}
