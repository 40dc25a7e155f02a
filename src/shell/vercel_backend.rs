//! The vercel backend: the cronix-owned entries of the `crons` array in a `vercel.json`, which Vercel
//! reads at deploy time and fires itself (an HTTP GET of the entry's path on the production
//! deployment). No shim and no spec files: the request is Vercel's own (`docs/vercel.md`).
//!
//! Reads and rewrites only that one file, through `core::vercel_json` (every byte outside the `crons`
//! array and every foreign entry kept as it was); the apply lock is a dotted file beside it, the write
//! atomic (temp file in the same directory, fsync, rename, fsync the directory). A plan without entry
//! ops writes nothing. Must not write anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::core::plan::{Action, InstalledEntry, Plan, SpecFile};
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::spec::JobSpec;
use crate::core::vercel_json::{self, Document, Item, PathOwner, VercelRenderer};
use crate::error::Failure;
use crate::settings::TargetFlags;
use crate::shell::backend::{
    self, ApplyGuard, Backend, Capabilities, Executed, HistorySource, OwnPath, Preflight,
    PreflightCheck, PreflightFor, Snapshot, SpecPlace,
};
use crate::shell::config::Config;
use crate::shell::{apply_lock, atomic, trusted_path};

/// The largest `vercel.json` read (DESIGN §11: input is bounded before it is parsed).
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Debug)]
pub struct VercelBackend {
    /// The `vercel.json` (absolute).
    json_path: PathBuf,
    /// The trigger prefix, ending with `/`.
    prefix: String,
    /// Jobs of the app being planned, by name (filled as its jobs are rendered): reference-written
    /// `<prefix><job>` entries of these jobs are that app's to take over.
    claims: Mutex<BTreeMap<String, String>>,
}

/// What the backend read: the file's bytes and their parse (`None`: no file yet), and the identity
/// of every owned element (by element index).
struct State {
    file: Option<(Vec<u8>, Document)>,
    owners: BTreeMap<usize, (String, String, usize)>,
}

/// The renderer, remembering which app each rendered job belongs to (see `claims`).
struct Claiming<'a> {
    inner: VercelRenderer<'a>,
    claims: &'a Mutex<BTreeMap<String, String>>,
}

impl Renderer for Claiming<'_> {
    fn check_target(&self) -> Vec<String> {
        self.inner.check_target()
    }
    fn check_job(&self, input: &JobInput) -> Vec<String> {
        self.inner.check_job(input)
    }
    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        if let Ok(mut claims) = self.claims.lock() {
            claims.insert(input.job.name.clone(), input.app.to_string());
        }
        self.inner.render_job(input)
    }
    fn entry_hash(&self, canonical: &str, idx: usize, line: &str) -> String {
        self.inner.entry_hash(canonical, idx, line)
    }
    fn uses_spec_files(&self) -> bool {
        self.inner.uses_spec_files()
    }
}

impl VercelBackend {
    /// The backend of the settings: `--vercel-json-path` over config `vercel.json_path` over
    /// `vercel.json` in the working directory; `--vercel-trigger-prefix` over config
    /// `vercel.trigger_prefix` over `/api/v1/scheduled/`.
    pub fn from_settings(args: &TargetFlags, cfg: &Config) -> Result<Self, Failure> {
        Self::new(
            args.vercel
                .json_path
                .clone()
                .or(cfg.vercel.json_path.clone()),
            args.vercel
                .trigger_prefix
                .clone()
                .or(cfg.vercel.trigger_prefix.clone()),
        )
    }

    /// The backend for `json_path` (default `vercel.json` in the working directory) and `prefix`
    /// (default `/api/v1/scheduled/`).
    pub fn new(json_path: Option<PathBuf>, prefix: Option<String>) -> Result<Self, Failure> {
        let path = json_path.unwrap_or_else(|| PathBuf::from(vercel_json::DEFAULT_JSON_PATH));
        let path = std::path::absolute(&path).unwrap_or(path);
        if path.file_name().is_none() || path.to_str().is_none() {
            return Err(Failure::invalid(format!(
                "vercel.json path {}: give --vercel-json-path a plain UTF-8 file path",
                path.display()
            )));
        }
        let prefix = prefix.unwrap_or_else(|| vercel_json::DEFAULT_TRIGGER_PREFIX.to_string());
        if let Some(why) = vercel_json::check_prefix(&prefix) {
            return Err(Failure::invalid(why));
        }
        Ok(VercelBackend {
            json_path: path,
            prefix: vercel_json::normalize_prefix(&prefix),
            claims: Mutex::new(BTreeMap::new()),
        })
    }

    fn dir(&self) -> &Path {
        atomic::parent_of(&self.json_path)
    }

    fn name(&self) -> String {
        self.json_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn lock_path(&self) -> PathBuf {
        self.dir()
            .join(format!(".{}.cronix-apply.lock", self.name()))
    }

    fn failure(&self, why: impl std::fmt::Display) -> Failure {
        Failure::backend(format!("{} {why}", self.json_path.display()))
    }

    /// The file's bytes after the trust check; `None` when it does not exist.
    fn read_bytes(&self) -> Result<Option<Vec<u8>>, Failure> {
        trusted_path::read_if_exists(&self.json_path, MAX_FILE_BYTES)
            .map(|bytes| bytes.map(|b| b.to_vec()))
            .map_err(|why| self.failure(why))
    }

    /// The owned elements of a document: `<prefix><app>/<job>` entries first (numbered per app and
    /// job in file order), then the reference's `<prefix><job>` entries of claimed jobs.
    fn owners(&self, doc: &Document) -> BTreeMap<usize, (String, String, usize)> {
        let claims = self.claims.lock().map(|c| c.clone()).unwrap_or_default();
        let mut next: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut owners = BTreeMap::new();
        let elements = doc.crons.as_ref().map_or(&[][..], |c| &c.elements[..]);
        let mut number = |at: usize, app: String, job: String| {
            let idx = next.entry((app.clone(), job.clone())).or_insert(0);
            owners.insert(at, (app, job, *idx));
            *idx += 1;
        };
        let found: Vec<(usize, PathOwner)> = elements
            .iter()
            .enumerate()
            .filter_map(|(at, e)| {
                Some((
                    at,
                    vercel_json::path_owner(&self.prefix, &e.cron.as_ref()?.path),
                ))
            })
            .collect();
        for (at, owner) in &found {
            if let PathOwner::App { app, job } = owner {
                number(*at, app.clone(), job.clone());
            }
        }
        for (at, owner) in &found {
            if let PathOwner::Reference { job } = owner
                && let Some(app) = claims.get(job)
            {
                number(*at, app.clone(), job.clone());
            }
        }
        owners
    }
}

impl VercelBackend {
    /// One rewrite of the file for the plan's entry ops: the replaced and removed entries dropped,
    /// the new ones added, the owned entries of every app in (app, job, idx) order after the
    /// foreign ones. Nothing is written when the bytes come out the same.
    fn rewrite(&self, snapshot: &Snapshot, plan: &Plan) -> Result<(), Failure> {
        let state: &State = backend::state_of(snapshot)?;
        let mut dropped: BTreeSet<usize> = BTreeSet::new();
        let mut owned: Vec<((String, String, usize), Item)> = Vec::new();
        for op in plan.entry_ops() {
            if matches!(op.op, Action::Update | Action::Delete)
                && let Some(at) = op.at
            {
                dropped.insert(at);
            }
            if matches!(op.op, Action::Create | Action::Update) {
                let cron = op
                    .line
                    .as_deref()
                    .and_then(vercel_json::cron_from_line)
                    .ok_or_else(|| {
                        Failure::backend(
                            "internal: a vercel entry op without its entry; report this bug",
                        )
                    })?;
                let key = (op.app.clone(), op.job.clone(), op.idx.unwrap_or_default());
                owned.push((key, Item::New(cron)));
            }
        }
        let count = state
            .file
            .as_ref()
            .and_then(|(_, doc)| doc.crons.as_ref())
            .map_or(0, |c| c.elements.len());
        let mut items = Vec::new();
        for at in (0..count).filter(|at| !dropped.contains(at)) {
            match state.owners.get(&at) {
                Some(key) => owned.push((key.clone(), Item::Kept(at))),
                None => items.push(Item::Kept(at)),
            }
        }
        owned.sort_by(|a, b| a.0.cmp(&b.0));
        items.extend(owned.into_iter().map(|(_, item)| item));
        let original = state.file.as_ref().map(|(b, d)| (b.as_slice(), d));
        let bytes = vercel_json::rewrite(original, &items);
        if original.is_some_and(|(b, _)| b == bytes.as_slice()) {
            return Ok(());
        }
        atomic::write(&self.json_path, &bytes, 0o644).map_err(|e| {
            self.failure(format!(
                "cannot be written ({e}); check that you may write {}",
                self.dir().display()
            ))
        })
    }
}

/// Vercel's jobs have no spec files: nothing reads them (the shim never runs), so apply writes none,
/// and none of another backend's spec dir is ever listed, planned or removed from here.
#[derive(Debug)]
struct NoSpecs;

impl SpecPlace for NoSpecs {
    fn list(&self) -> Result<BTreeSet<(String, String)>, Failure> {
        Ok(BTreeSet::new())
    }
    fn recorded_target(&self, _app: &str, _job: &str) -> Option<String> {
        None
    }
    fn read_app(&self, _app: &str) -> Result<BTreeMap<String, SpecFile>, Failure> {
        Ok(BTreeMap::new())
    }
    fn find(&self, _app: &str, _job: &str) -> Result<Option<JobSpec>, Failure> {
        Ok(None)
    }
}

impl Backend for VercelBackend {
    fn target_id(&self) -> String {
        format!("vercel crons in {}", self.json_path.display())
    }

    fn renderer(&self) -> Box<dyn Renderer + '_> {
        Box::new(Claiming {
            inner: VercelRenderer {
                prefix: &self.prefix,
            },
            claims: &self.claims,
        })
    }

    /// The file's directory exists; for `doctor`, the file reads and is a `vercel.json` cronix can
    /// edit.
    fn preflight(&self, purpose: PreflightFor) -> Preflight {
        let mut blocking = Vec::new();
        if !self.dir().is_dir() {
            blocking.push(format!(
                "vercel.json directory {}: not a directory; give --vercel-json-path a file in \
                 your project's directory",
                self.dir().display()
            ));
        }
        let checks = match purpose {
            PreflightFor::Apply => Vec::new(),
            PreflightFor::Doctor => vec![PreflightCheck {
                name: "vercel".to_string(),
                result: match self.read() {
                    Ok(snapshot) => Ok(format!(
                        "{} holds {} cronix entr{} (Vercel fires them once the file is deployed: \
                         GET in UTC, with Authorization: Bearer $CRON_SECRET)",
                        self.json_path.display(),
                        snapshot.entries.len(),
                        if snapshot.entries.len() == 1 {
                            "y"
                        } else {
                            "ies"
                        }
                    )),
                    Err(failure) => Err(failure.message),
                },
            }],
        };
        Preflight {
            blocking,
            checks,
            own_paths: vec![
                OwnPath::Dir("vercel_json_dir", self.dir().to_path_buf()),
                OwnPath::Lock("apply_lock", self.lock_path()),
            ],
        }
    }

    fn lock(&self, wait: Duration) -> Result<ApplyGuard, Failure> {
        let file = apply_lock::take(
            &self.lock_path(),
            false,
            wait,
            "give --vercel-json-path a file in an existing directory",
        )?;
        Ok(Box::new(file))
    }

    /// Remove the temp files a crashed rewrite left beside the file.
    fn recover(&self, _apps: &[&str]) -> Result<(), Failure> {
        atomic::clean_temps(self.dir(), &atomic::temp_prefix(&self.name()))
            .map(|_| ())
            .map_err(|e| self.failure(format!("temp files: {e}")))
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let file = match self.read_bytes()? {
            Some(bytes) => {
                let doc = vercel_json::parse(&bytes).map_err(|why| {
                    self.failure(format!(
                        "{why}; fix the file by hand (cronix rewrites only its own entries of \
                         `crons` and never guesses at a broken file)"
                    ))
                })?;
                Some((bytes, doc))
            }
            None => None,
        };
        let owners = file
            .as_ref()
            .map(|(_, doc)| self.owners(doc))
            .unwrap_or_default();
        let mut entries = Vec::new();
        if let Some((_, doc)) = &file {
            let elements = doc.crons.as_ref().map_or(&[][..], |c| &c.elements[..]);
            for (at, (app, job, idx)) in &owners {
                let Some(cron) = elements.get(*at).and_then(|e| e.cron.as_ref()) else {
                    continue;
                };
                let line = vercel_json::entry_line(cron);
                entries.push(InstalledEntry {
                    app: app.clone(),
                    job: job.clone(),
                    idx: *idx,
                    hash: vercel_json::entry_hash(*idx, &line),
                    line: Some(line),
                    schedule: Some(cron.schedule.clone()),
                    at: *at,
                    inactive: None,
                    revision: None,
                });
            }
        }
        Ok(Snapshot {
            entries,
            state: Box::new(State { file, owners }),
        })
    }

    fn specs(&self) -> &dyn SpecPlace {
        &NoSpecs
    }

    /// Runs are recorded by Vercel (its dashboard, `vercel logs`), not by a shim on this host.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            history: HistorySource::Backend,
            ..Capabilities::default()
        }
    }

    /// A foreign element at the path of an entry the plan writes (an object with keys besides
    /// `path` and `schedule`): Vercel would call the route twice, and cronix never edits it.
    fn install_conflicts(&self, snapshot: &Snapshot, plan: &Plan) -> Vec<String> {
        let Ok(state) = backend::state_of::<State>(snapshot) else {
            return vec!["internal: snapshot of another backend".to_string()];
        };
        let Some(crons) = state.file.as_ref().and_then(|(_, doc)| doc.crons.as_ref()) else {
            return Vec::new();
        };
        let written: BTreeSet<String> = plan
            .entry_ops()
            .filter(|op| op.op != Action::Delete)
            .map(|op| vercel_json::entry_path(&self.prefix, &op.app, &op.job))
            .collect();
        crons
            .elements
            .iter()
            .enumerate()
            .filter(|(at, e)| e.cron.is_none() && !state.owners.contains_key(at))
            .filter_map(|(at, e)| Some((at, e.path.as_ref().filter(|p| written.contains(*p))?)))
            .map(|(at, path)| {
                format!(
                    "crons[{at}] in {} has the path {path} that cronix writes, with keys besides \
                     path and schedule, so it is not cronix's to replace; remove it (or its other \
                     keys) by hand",
                    self.json_path.display()
                )
            })
            .collect()
    }

    fn hazards(&self, _snapshot: &Snapshot, _app: &str, _jobs: &[&str]) -> Vec<String> {
        Vec::new()
    }

    /// One atomic rewrite of the file for the whole plan: every op is made or none is. (There are
    /// no spec ops: the desired state of a vercel job has no spec file, and `NoSpecs` holds none.)
    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed {
        if plan.spec_ops().next().is_some() {
            return Executed::none(
                plan,
                Failure::backend(
                    "internal: a spec file op for the vercel backend; report this bug",
                ),
            );
        }
        match self.rewrite(snapshot, plan) {
            Ok(()) => Executed::all(plan),
            Err(failure) => Executed::none(plan, failure),
        }
    }

    fn follows(&self, _entry: &InstalledEntry) -> Option<(PathBuf, usize)> {
        None
    }

    fn reported_next(&self, _snapshot: &Snapshot, _ats: &[usize]) -> BTreeMap<usize, String> {
        BTreeMap::new()
    }

    /// Vercel fires every entry in UTC, whatever this host's zone.
    fn scheduler_zone(&self) -> Option<jiff::tz::TimeZone> {
        Some(jiff::tz::TimeZone::UTC)
    }
}
