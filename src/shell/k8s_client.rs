//! The kubernetes API as the kubernetes backend uses it: a blocking facade over kube-rs on a small
//! current-thread tokio runtime that only this backend builds (the trigger shim never pays for it).
//!
//! Every request is bounded: connect, read and write timeouts on the client and one deadline per
//! call; lists are label-selected and paged (`limit`), with a cap on the pages read. Objects go in
//! and come out as JSON values (`core::k8s_objects` builds and reads them). Writes are server-side
//! apply with field manager `cronix`, or deletes with the revision read as a precondition.
//!
//! Owns talking to the API server; decides nothing about what to write. The environment is read
//! through `crate::env` only (`KUBECONFIG`, `HOME`); in-cluster mode finds the API server by its DNS
//! name, without the service variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    Preconditions,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::core::k8s_objects::FIELD_MANAGER;

/// One request's deadline, whatever the server does.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Objects per page of a list, and pages read at most (a namespace with more cronix objects than
/// this is refused rather than read without bound).
pub const PAGE_LIMIT: u32 = 500;
pub const MAX_PAGES: usize = 40;

/// The kinds the backend reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CronJob,
    ConfigMap,
    Job,
    Pod,
    Secret,
}

impl Kind {
    fn resource(self) -> ApiResource {
        use k8s_openapi::api::{batch::v1 as batch, core::v1 as core};
        match self {
            Kind::CronJob => ApiResource::erase::<batch::CronJob>(&()),
            Kind::ConfigMap => ApiResource::erase::<core::ConfigMap>(&()),
            Kind::Job => ApiResource::erase::<batch::Job>(&()),
            Kind::Pod => ApiResource::erase::<core::Pod>(&()),
            Kind::Secret => ApiResource::erase::<core::Secret>(&()),
        }
    }

    /// The kind's name, as errors and `kubectl` write it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::CronJob => "CronJob",
            Kind::ConfigMap => "ConfigMap",
            Kind::Job => "Job",
            Kind::Pod => "Pod",
            Kind::Secret => "Secret",
        }
    }
}

/// Writes sent at once (HTTP/1.1 connections the client opens to the API server).
pub const WRITE_CONCURRENCY: usize = 8;

/// One write request.
#[derive(Debug, Clone)]
pub enum Write {
    /// Server-side apply of the object (`force` takes fields another manager holds).
    Apply {
        kind: Kind,
        name: String,
        object: Value,
        force: bool,
    },
    /// Delete, only while the object's revision is `revision` (when given).
    Delete {
        kind: Kind,
        name: String,
        revision: Option<String>,
    },
}

/// What a failed request said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status of an API answer; `None` when no answer came (network, timeout, TLS).
    pub code: Option<u16>,
    pub message: String,
}

impl ApiError {
    pub fn is_conflict(&self) -> bool {
        self.code == Some(409)
    }
    pub fn is_not_found(&self) -> bool {
        self.code == Some(404)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} (HTTP {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn api_error(e: kube::Error) -> ApiError {
    match e {
        kube::Error::Api(status) => ApiError {
            code: Some(status.code),
            message: crate::core::escape::inline_cut(&status.message, 2000),
        },
        other => ApiError {
            code: None,
            message: crate::core::escape::inline_cut(&other.to_string(), 2000),
        },
    }
}

/// How to reach the cluster (resolved settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub kubeconfig: Option<PathBuf>,
    pub in_cluster: bool,
    pub namespace: String,
}

/// A connected client of one namespace.
pub struct Cluster {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    namespace: String,
    /// The API server's URL, as the configuration names it.
    pub server: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The kubeconfig file used when none is named: `$KUBECONFIG` (its first path), else
/// `~/.kube/config`.
pub fn default_kubeconfig() -> Option<PathBuf> {
    if let Some(list) = crate::env::kubeconfig() {
        let first = list
            .to_string_lossy()
            .split(':')
            .find(|p| !p.is_empty())
            .map(PathBuf::from);
        if first.is_some() {
            return first;
        }
    }
    crate::env::home().map(|h| h.join(".kube/config"))
}

impl Cluster {
    /// Build the client (reads the kubeconfig or the pod's service account; sends nothing).
    pub fn connect(how: &Connect) -> Result<Cluster, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the kubernetes client's runtime: {e}"))?;
        let mut config = if how.in_cluster {
            kube::Config::incluster_dns().map_err(|e| {
                format!(
                    "in-cluster kubernetes configuration: {e}; run in a pod or drop --in-cluster"
                )
            })?
        } else {
            let path = how.kubeconfig.clone().or_else(default_kubeconfig).ok_or(
                "no kubeconfig: give --kubeconfig PATH (or config kubernetes.kubeconfig), set \
                 KUBECONFIG, or use --in-cluster",
            )?;
            rt.block_on(from_kubeconfig(&path))?
        };
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.write_timeout = Some(REQUEST_TIMEOUT);
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = {
            let _guard = rt.enter();
            kube::Client::try_from(config)
                .map_err(|e| format!("cannot build the kubernetes client: {e}"))?
        };
        Ok(Cluster {
            rt,
            client,
            namespace: how.namespace.clone(),
            server,
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &kind.resource())
    }

    fn run<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ApiError> {
        self.rt.block_on(async {
            match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
                Ok(result) => result.map_err(api_error),
                Err(_) => Err(ApiError {
                    code: None,
                    message: format!(
                        "the API server did not answer within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ),
                }),
            }
        })
    }

    /// Every object of `kind` that `selector` selects, paged.
    pub fn list(&self, kind: Kind, selector: &str) -> Result<Vec<Value>, ApiError> {
        let api = self.api(kind);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = ListParams::default().labels(selector).limit(PAGE_LIMIT);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page = self.run(api.list(&params))?;
            for item in page.items {
                out.push(serde_json::to_value(item).unwrap_or(Value::Null));
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
        Err(ApiError {
            code: None,
            message: format!(
                "more than {} {}s match {selector} in namespace {}: refused rather than read \
                 without bound",
                PAGE_LIMIT as usize * MAX_PAGES,
                kind.name(),
                self.namespace
            ),
        })
    }

    /// The names of the objects of `kind` that `selector` selects (metadata only), paged.
    pub fn list_names(&self, kind: Kind, selector: &str) -> Result<Vec<String>, ApiError> {
        let api = self.api(kind);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = ListParams::default().labels(selector).limit(PAGE_LIMIT);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page = self.run(api.list_metadata(&params))?;
            out.extend(page.items.into_iter().filter_map(|i| i.metadata.name));
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
        Err(ApiError {
            code: None,
            message: format!(
                "more than {} {}s in namespace {}",
                PAGE_LIMIT as usize * MAX_PAGES,
                kind.name(),
                self.namespace
            ),
        })
    }

    /// One object, or `None`.
    pub fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, ApiError> {
        let api = self.api(kind);
        Ok(self
            .run(api.get_opt(name))?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
    }

    /// Send `writes`, at most [`WRITE_CONCURRENCY`] at a time (each bounded by the request
    /// deadline); one result per write, in order. A delete of an object already gone succeeds.
    pub fn write_all(&self, writes: &[Write]) -> Vec<Result<(), ApiError>> {
        use futures::stream::{self, StreamExt};
        self.rt.block_on(
            stream::iter(writes)
                .map(|w| self.write_one(w))
                .buffered(WRITE_CONCURRENCY)
                .collect::<Vec<_>>(),
        )
    }

    async fn write_one(&self, write: &Write) -> Result<(), ApiError> {
        let call = async {
            match write {
                Write::Apply {
                    kind,
                    name,
                    object,
                    force,
                } => {
                    let mut params = PatchParams::apply(FIELD_MANAGER);
                    if *force {
                        params = params.force();
                    }
                    self.api(*kind)
                        .patch(name, &params, &Patch::Apply(object))
                        .await
                        .map(|_| ())
                }
                Write::Delete {
                    kind,
                    name,
                    revision,
                } => {
                    let mut params = DeleteParams::background();
                    if let Some(rv) = revision {
                        params = params.preconditions(Preconditions {
                            resource_version: Some(rv.clone()),
                            uid: None,
                        });
                    }
                    match self.api(*kind).delete(name, &params).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => Err(e),
                    }
                }
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
            Ok(result) => result.map_err(api_error),
            Err(_) => Err(ApiError {
                code: None,
                message: format!(
                    "the API server did not answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    /// Server-side apply of `object` (field manager `cronix`); `force` takes over fields another
    /// manager set.
    pub fn apply(
        &self,
        kind: Kind,
        name: &str,
        object: &Value,
        force: bool,
    ) -> Result<(), ApiError> {
        let api = self.api(kind);
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if force {
            params = params.force();
        }
        self.run(api.patch(name, &params, &Patch::Apply(object)))
            .map(|_| ())
    }

    /// Delete `name` (background propagation: the CronJob's Jobs and pods follow), only while its
    /// revision is still `revision` when one is given. An object already gone is not an error.
    pub fn delete(&self, kind: Kind, name: &str, revision: Option<&str>) -> Result<(), ApiError> {
        let api = self.api(kind);
        let mut params = DeleteParams::background();
        if let Some(rv) = revision {
            params = params.preconditions(Preconditions {
                resource_version: Some(rv.to_string()),
                uid: None,
            });
        }
        match self.run(api.delete(name, &params)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The API server's version (`v1.37.2`).
    pub fn version(&self) -> Result<String, ApiError> {
        self.run(self.client.apiserver_version())
            .map(|v| v.git_version)
    }

    /// Whether the credentials may `verb` the `resource` of `group` in the namespace
    /// (SelfSubjectAccessReview), with the server's reason when not.
    pub fn can_i(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
    ) -> Result<(bool, String), ApiError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.namespace.clone()),
                    verb: Some(verb.to_string()),
                    group: Some(group.to_string()),
                    resource: Some(resource.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = self.run(api.create(&PostParams::default(), &review))?;
        let status = answer.status.unwrap_or_default();
        Ok((status.allowed, status.reason.unwrap_or_default()))
    }

    /// The keys of a Secret (never its values), or `None` when it does not exist.
    pub fn secret_keys(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(secret) = self.get(Kind::Secret, name)? else {
            return Ok(None);
        };
        let mut keys: Vec<String> = ["data", "stringData"]
            .iter()
            .filter_map(|f| secret[*f].as_object())
            .flat_map(|m| m.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        Ok(Some(keys))
    }
}

/// Largest kubeconfig read.
const MAX_KUBECONFIG_LEN: u64 = 1024 * 1024;

/// The kubeconfig after the trust check every file root reads gets (DESIGN §11): a kubeconfig may
/// name a credential plugin (`exec`) that the client runs, so one that another user could write —
/// a `KUBECONFIG` that `sudo -E` handed over from a user's environment — would let that user run a
/// command as root. Owned by root or the running user, not writable by others, every directory
/// above it too.
async fn from_kubeconfig(path: &Path) -> Result<kube::Config, String> {
    if !path.exists() {
        return Err(format!(
            "kubeconfig {} does not exist; give --kubeconfig (or config kubernetes.kubeconfig) \
             the file of the cluster, or --in-cluster inside a pod",
            path.display()
        ));
    }
    crate::shell::trusted_path::read(path, MAX_KUBECONFIG_LEN).map_err(|why| {
        format!(
            "kubeconfig {} {why} (it may name a command the client runs); give --kubeconfig a \
             file only you (or root) can write",
            path.display()
        )
    })?;
    let file =
        Kubeconfig::read_from(path).map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
    kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig {}: {e}", path.display()))
}
