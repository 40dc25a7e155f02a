//! The systemd-timer backend: a timer and service unit pair per entry in the unit dir, owned through
//! the `X-Cronix-*` marks (`core::systemd_unit`), and `systemctl` to load and start them.
//!
//! Per apply with entry changes, at most four `systemctl` calls whatever the number of units:
//! `disable --now` of the deleted units, one `daemon-reload`, `enable --now` of the new and changed
//! timers, `restart` of the changed timers (a timer restart never stops the service running a fire).
//! A plan without entry ops writes nothing and runs nothing. Units without all four marks are
//! foreign: never read as entries, never written, never removed.
//!
//! Unit files are written in one `atomic::Batch` per apply (one sync for all of them, not one per
//! file); removed ones get one fsync of the unit dir.
//!
//! Config `systemctl_bin` names the `systemctl` binary (the tests point it at a stand-in that
//! records each call; the real-systemd test at a wrapper that logs and runs the real one). Spec
//! files live in the local spec dir (`shell::local_specs`). An entry whose timer is disabled or
//! stopped reads as `inactive`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::core::plan::{Action, InstalledEntry, Op, Plan};
use crate::core::render::Renderer;
use crate::core::systemd_calendar;
use crate::core::systemd_unit::{
    self, CHECK_STEM, CheckUnits, Marks, SystemdRenderer, UNIT_PREFIX, UnitOwners,
};
use crate::error::Failure;
use crate::settings::TargetFlags;
use crate::shell::backend::{
    self, ApplyGuard, Backend, Capabilities, CheckJob, Common, Executed, OwnPath, Preflight,
    PreflightCheck, PreflightFor, Snapshot, SpecPlace,
};
use crate::shell::config::{self, Config};
use crate::shell::local_specs::{self, EntrySteps, LocalSpecs};
use crate::shell::{apply_lock, atomic, test_pause, trusted_path};

/// The apply lock, beside the units (a dotted name systemd never loads).
const LOCK_NAME: &str = ".cronix-apply.lock";

#[derive(Debug)]
pub struct SystemdBackend {
    unit_dir: PathBuf,
    unit_dir_text: String,
    credstore_dir: String,
    catch_up: bool,
    systemctl: PathBuf,
    common: Common,
    /// Who holds each unit name, read once for the renderer (`core::systemd_unit::entry_stem`).
    owners: std::sync::OnceLock<UnitOwners>,
    /// The spec dir the units' fires read.
    specs: LocalSpecs,
}

/// Who holds each unit file read (`None`: a unit without cronix's marks).
fn owners_of(files: &[(String, String)]) -> UnitOwners {
    files
        .iter()
        .map(|(name, text)| {
            let owner = systemd_unit::parse_marks(text).map(|m| (m.app, m.job, m.idx));
            (name.clone(), owner)
        })
        .collect()
}

/// An entry's identity: app, job, schedule index.
type Identity = (String, String, usize);
/// A unit file found: its name, its text and its marks.
type FoundUnit = (String, String, Marks);

/// What the backend read: the unit files of each entry (by `at`), and who owns every cronix-named
/// unit file in the dir (`None` = foreign).
struct State {
    files: Vec<Vec<String>>,
    owners: UnitOwners,
}

impl SystemdBackend {
    pub fn new(args: &TargetFlags, cfg: &Config, common: Common) -> Result<Self, Failure> {
        let unit_dir = args
            .systemd_unit_dir
            .clone()
            .or(cfg.systemd_unit_dir.clone())
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SYSTEMD_UNIT_DIR));
        let unit_dir = std::path::absolute(&unit_dir).unwrap_or(unit_dir);
        let credstore = cfg
            .systemd_credstore_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SYSTEMD_CREDSTORE_DIR));
        let text = |p: &Path, flag: &str| {
            p.to_str().map(str::to_string).ok_or_else(|| {
                Failure::invalid(format!(
                    "{}: not UTF-8; give {flag} a plain path",
                    p.display()
                ))
            })
        };
        Ok(SystemdBackend {
            specs: LocalSpecs::new(&common.spec_dir),
            unit_dir_text: text(&unit_dir, "--systemd-unit-dir")?,
            credstore_dir: text(&credstore, "systemd_credstore_dir")?,
            unit_dir,
            catch_up: cfg.systemd_catch_up,
            owners: std::sync::OnceLock::new(),
            systemctl: cfg
                .systemctl_bin
                .clone()
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SYSTEMCTL_BIN)),
            common,
        })
    }

    /// Run `systemctl ARGS…` once; a failure names the call and what systemctl said.
    fn systemctl(&self, args: &[&str], units: &[String]) -> Result<String, Failure> {
        self.check_systemctl().map_err(Failure::backend)?;
        let output = Command::new(&self.systemctl)
            .args(args)
            .args(units)
            .env_clear()
            .env("PATH", crate::env::CHILD_PATH)
            .env("TZ", "UTC")
            .output()
            .map_err(|e| {
                Failure::backend(format!(
                    "cannot run {} ({e}); install systemd, or set systemctl_bin in the config",
                    self.systemctl.display()
                ))
            })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(Failure::backend(format!(
            "systemctl {} ({} unit{}) failed: {}; check `systemctl status` and the units in {}",
            args.join(" "),
            units.len(),
            if units.len() == 1 { "" } else { "s" },
            String::from_utf8_lossy(&output.stderr).trim(),
            self.unit_dir.display()
        )))
    }

    /// `systemctl_bin` passes the binary rule (root runs it): `problem; fix` otherwise.
    fn check_systemctl(&self) -> Result<(), String> {
        trusted_path::check_binary(&self.systemctl, None)
            .map_err(|why| format!("systemctl_bin {} {why}", self.systemctl.display()))
    }

    fn io_failure(&self, what: &str, path: &Path, e: &io::Error) -> Failure {
        Failure::backend(format!(
            "{what} {}: {e}; check that {} exists and that you may write it (run as root)",
            path.display(),
            self.unit_dir.display()
        ))
    }

    /// Replace the unit files `(name, text)` in one batch: every temp file written, one sync, the
    /// renames, one fsync of the unit dir (`atomic::Batch`). A crash leaves each unit old or new.
    fn write_units(&self, units: &[(String, String)]) -> Result<(), Failure> {
        if units.is_empty() {
            return Ok(());
        }
        let dir_failure = |e: io::Error| self.io_failure("unit dir", &self.unit_dir, &e);
        let mut batch = atomic::Batch::new(&self.unit_dir, "units").map_err(dir_failure)?;
        for (name, text) in units {
            let path = self.unit_dir.join(name);
            batch
                .stage(&path, text.as_bytes(), 0o644)
                .map_err(|e| self.io_failure("unit", &path, &e))?;
        }
        batch.commit().map_err(dir_failure)
    }

    /// Remove the unit files named (missing ones are fine), then fsync the unit dir once.
    fn remove_units(&self, names: &[String]) -> Result<(), Failure> {
        let mut removed = false;
        for name in names {
            let path = self.unit_dir.join(name);
            removed |= atomic::remove_unsynced_dir(&path)
                .map_err(|e| self.io_failure("unit", &path, &e))?;
        }
        if removed {
            atomic::sync_dir(&self.unit_dir)
                .map_err(|e| self.io_failure("unit dir", &self.unit_dir, &e))?;
        }
        Ok(())
    }

    /// One unit file's text after the trust check; `None` when it (or the unit dir) does not exist.
    fn read_unit(&self, name: &str) -> Result<Option<String>, Failure> {
        let dir = trusted_path::open_dir_if_exists(&self.unit_dir).map_err(|why| {
            Failure::backend(format!("unit dir {} {why}", self.unit_dir.display()))
        })?;
        let Some(dir) = dir else {
            return Ok(None);
        };
        let bytes = dir
            .read(name)
            .map_err(|why| Failure::backend(format!("unit {} {why}", dir.join(name).display())))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The cronix-named unit files of the dir with their text. The dir and every such regular file
    /// pass the trust check (owned by root or the running user, not group/other-writable): root runs
    /// what a unit says. Symlinks and non-files are skipped: cronix never writes them, so they are
    /// foreign.
    fn unit_files(&self) -> Result<Vec<(String, String)>, Failure> {
        let refused = |path: &Path, why: String| {
            Failure::backend(format!("unit dir {} {why}", path.display()))
        };
        let dir = match trusted_path::open_dir_if_exists(&self.unit_dir) {
            Ok(Some(dir)) => dir,
            Ok(None) => return Ok(Vec::new()),
            Err(why) => return Err(refused(&self.unit_dir, why)),
        };
        let entries = std::fs::read_dir(dir.path())
            .map_err(|e| self.io_failure("unit dir", &self.unit_dir, &e))?;
        let mut files = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let suffixed = name.ends_with(".timer") || name.ends_with(".service");
            if !name.starts_with(UNIT_PREFIX) || !suffixed {
                continue;
            }
            let text = if entry.file_type().is_ok_and(|t| t.is_file()) {
                let bytes = dir.read(&name).map_err(|why| {
                    Failure::backend(format!("unit {} {why}", dir.join(&name).display()))
                })?;
                String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
            } else {
                String::new()
            };
            files.push((name, text));
        }
        files.sort();
        Ok(files)
    }
}

impl Backend for SystemdBackend {
    fn describe(&self) -> String {
        format!("systemd units in {}", self.unit_dir.display())
    }

    fn target_id(&self) -> String {
        self.describe()
    }

    fn preflight(&self, purpose: PreflightFor) -> Preflight {
        if purpose == PreflightFor::Apply {
            return Preflight {
                blocking: self.host_problems(),
                checks: Vec::new(),
                own_paths: self.own_paths(),
            };
        }
        let (name, result) = self.systemd_runs();
        Preflight {
            blocking: self.host_problems(),
            checks: vec![PreflightCheck {
                name: name.to_string(),
                result,
            }],
            own_paths: self.own_paths(),
        }
    }

    fn recover(&self, apps: &[&str]) -> Result<(), Failure> {
        atomic::clean_temps(&self.unit_dir, &format!(".{UNIT_PREFIX}"))
            .map_err(|e| self.io_failure("unit dir", &self.unit_dir, &e))?;
        self.specs.recover(apps)
    }

    fn specs(&self) -> &dyn SpecPlace {
        &self.specs
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reported_next: true,
            ..Capabilities::default()
        }
    }

    /// Spec files, then the units (removed, written, one sync, then systemctl), then spec removals.
    fn execute(&self, snapshot: &Snapshot, plan: &Plan) -> Executed {
        let read_now = || self.read().map(|s| s.entries);
        let install = || {
            if plan.entry_ops().next().is_some() {
                self.install_entries(snapshot, plan)?;
            }
            match plan.check_op() {
                Some(op) => self.apply_check(op),
                None => Ok(()),
            }
        };
        local_specs::execute(
            &self.specs,
            plan,
            EntrySteps {
                target: self.describe(),
                before: &snapshot.entries,
                install: &install,
                read_now: &read_now,
            },
        )
    }

    /// The renderer names each entry's units after who holds which name now. An unreadable unit dir
    /// reads as holding none here: reading it for the plan fails with the reason, and apply checks
    /// the names again under the lock (`install_conflicts`).
    fn renderer(&self) -> Box<dyn Renderer + '_> {
        let owners = self.owners.get_or_init(|| {
            self.unit_files()
                .map(|files| owners_of(&files))
                .unwrap_or_default()
        });
        Box::new(SystemdRenderer {
            trigger_bin: &self.common.trigger_bin,
            spec_dir: &self.common.spec_dir,
            unit_dir: &self.unit_dir_text,
            credstore_dir: &self.credstore_dir,
            catch_up: self.catch_up,
            otel: self.common.otel,
            owners,
        })
    }

    fn lock(&self, wait: Duration) -> Result<ApplyGuard, Failure> {
        let path = self.unit_dir.join(LOCK_NAME);
        let file = apply_lock::take(&path, false, wait, "give --systemd-unit-dir")?;
        Ok(Box::new(file))
    }

    fn hazards(&self, _snapshot: &Snapshot, _app: &str, _jobs: &[&str]) -> Vec<String> {
        Vec::new()
    }

    fn read(&self) -> Result<Snapshot, Failure> {
        let mut groups: BTreeMap<Identity, Vec<FoundUnit>> = BTreeMap::new();
        let mut owners = BTreeMap::new();
        for (name, text) in self.unit_files()? {
            match systemd_unit::parse_marks(&text) {
                Some(marks) => {
                    let key = (marks.app.clone(), marks.job.clone(), marks.idx);
                    owners.insert(name.clone(), Some(key.clone()));
                    groups.entry(key).or_default().push((name, text, marks));
                }
                None => {
                    owners.insert(name, None);
                }
            }
        }
        let mut entries = Vec::new();
        let mut files = Vec::new();
        for ((app, job, idx), mut units) in groups {
            // The timer first, then the service: the artifact's order.
            units.sort_by_key(|(name, _, _)| !name.ends_with(".timer"));
            let hashes: BTreeSet<&str> = units.iter().map(|(_, _, m)| m.hash.as_str()).collect();
            let hash = match hashes.len() {
                1 => units[0].2.hash.clone(),
                _ => String::new(),
            };
            let line: String = units
                .iter()
                .map(|(_, text, _)| systemd_unit::without_hash(text))
                .collect();
            let schedule = Some(systemd_unit::calendar_values(&line).join(" | "));
            entries.push(InstalledEntry {
                app,
                job,
                idx,
                hash,
                line: Some(line),
                schedule,
                at: files.len(),
                inactive: None,
                revision: None,
            });
            files.push(units.into_iter().map(|(name, _, _)| name).collect());
        }
        let timers: Vec<String> = files
            .iter()
            .filter_map(|names: &Vec<String>| names.iter().find(|n| n.ends_with(".timer")).cloned())
            .collect();
        let inactive = self.inactive_timers(&timers);
        for entry in &mut entries {
            let timer = files[entry.at].iter().find(|n| n.ends_with(".timer"));
            entry.inactive = timer.and_then(|t| inactive.get(t)).cloned();
        }
        Ok(Snapshot {
            entries,
            state: Box::new(State { files, owners }),
        })
    }

    fn install_conflicts(&self, snapshot: &Snapshot, plan: &Plan) -> Vec<String> {
        let Ok(state) = backend::state_of::<State>(snapshot) else {
            return vec!["internal: snapshot of another backend".to_string()];
        };
        let mut conflicts = Vec::new();
        for op in plan.entry_ops().filter(|o| o.op != Action::Delete) {
            let identity = (op.app.clone(), op.job.clone(), op.idx.unwrap_or_default());
            for (name, _) in systemd_unit::split_artifact(op.line.as_deref().unwrap_or_default()) {
                match state.owners.get(&name) {
                    Some(None) => conflicts.push(format!(
                        "unit {name} in {} exists without cronix's X-Cronix-* marks; cronix never \
                         replaces a unit it does not own: remove or rename it",
                        self.unit_dir.display()
                    )),
                    Some(Some(owner)) if *owner != identity => conflicts.push(format!(
                        "unit {name} belongs to {}.{} schedule {}, and {}.{} schedule {} would \
                         get the same name; rename one of the apps or jobs",
                        owner.0, owner.1, owner.2, identity.0, identity.1, identity.2
                    )),
                    _ => {}
                }
            }
        }
        conflicts
    }

    fn check_artifact(&self, check: &CheckJob) -> Option<String> {
        let calendar = systemd_calendar::base_values(&check.schedule, "UTC");
        let units = CheckUnits {
            calendar: &calendar,
            bin: &check.bin,
            config: &check.config,
            spec_dir: &check.spec_dir,
            state_dir: &check.state_dir,
        }
        .render();
        Some(units.into_iter().map(|(_, text)| text).collect())
    }

    /// The two check units, when both (or either) carry the check mark, in artifact order.
    fn installed_check(&self, _snapshot: &Snapshot) -> Result<Option<String>, Failure> {
        let mut found = String::new();
        for name in check_unit_names() {
            if let Some(text) = self.read_unit(&name)?
                && systemd_unit::is_check_unit(&text)
            {
                found.push_str(&text);
            }
        }
        Ok((!found.is_empty()).then_some(found))
    }

    fn follows(&self, entry: &InstalledEntry) -> Option<(PathBuf, usize)> {
        let dir = systemd_unit::spec_dir_of(entry.line.as_deref()?)?;
        Some((PathBuf::from(dir), entry.idx))
    }

    fn check_conflicts(&self, check: Option<&CheckJob>) -> Vec<String> {
        if check.is_none() {
            return Vec::new();
        }
        let mut conflicts = Vec::new();
        for name in check_unit_names() {
            match self.read_unit(&name) {
                Ok(Some(text)) if !systemd_unit::is_check_unit(&text) => {
                    conflicts.push(foreign_check_unit(&name, &self.unit_dir))
                }
                Ok(_) => {}
                Err(e) => conflicts.push(e.to_string()),
            }
        }
        conflicts
    }

    fn reported_next(&self, snapshot: &Snapshot, ats: &[usize]) -> BTreeMap<usize, String> {
        let Ok(state) = backend::state_of::<State>(snapshot) else {
            return BTreeMap::new();
        };
        let timers: Vec<(usize, String)> = ats
            .iter()
            .filter_map(|at| {
                let names = state.files.get(*at)?;
                let timer = names.iter().find(|n| n.ends_with(".timer"))?;
                Some((*at, timer.clone()))
            })
            .collect();
        if timers.is_empty() {
            return BTreeMap::new();
        }
        let names: Vec<String> = timers.iter().map(|(_, n)| n.clone()).collect();
        let Ok(text) = self.systemctl(
            &["show", "-p", "Id", "-p", "NextElapseUSecRealtime"],
            &names,
        ) else {
            return BTreeMap::new();
        };
        let by_name = next_elapse_by_unit(&text);
        timers
            .into_iter()
            .filter_map(|(at, name)| Some((at, by_name.get(&name)?.clone())))
            .collect()
    }
}

/// The parts of the systemd backend's preflight, read and execution.
impl SystemdBackend {
    fn host_problems(&self) -> Vec<String> {
        if self.unit_dir.is_dir() {
            return Vec::new();
        }
        vec![format!(
            "unit dir {}: not a directory; create it or give --systemd-unit-dir",
            self.unit_dir.display()
        )]
    }

    fn install_entries(&self, snapshot: &Snapshot, plan: &Plan) -> Result<(), Failure> {
        let state: &State = backend::state_of(snapshot)?;
        let mut deleted: Vec<String> = Vec::new();
        let mut started: Vec<String> = Vec::new();
        let mut restarted: Vec<String> = Vec::new();
        let mut writes: Vec<(String, String)> = Vec::new();
        for op in plan.entry_ops() {
            match op.op {
                Action::Delete => {
                    let names = op.at.and_then(|at| state.files.get(at));
                    deleted.extend(names.into_iter().flatten().cloned());
                }
                Action::Create | Action::Update => {
                    // An update may move the entry to other names: the old ones go (the names
                    // rewritten are kept below).
                    if op.op == Action::Update {
                        let names = op.at.and_then(|at| state.files.get(at));
                        deleted.extend(names.into_iter().flatten().cloned());
                    }
                    let hash = op.hash.as_deref().unwrap_or_default();
                    for (name, text) in
                        systemd_unit::split_artifact(op.line.as_deref().unwrap_or_default())
                    {
                        if name.ends_with(".timer") {
                            started.push(name.clone());
                            if op.op == Action::Update {
                                restarted.push(name.clone());
                            }
                        }
                        writes.push((name, systemd_unit::with_hash(&text, hash)));
                    }
                }
            }
        }
        // A unit both deleted (an extra duplicate) and rewritten stays.
        let rewritten: BTreeSet<&str> = writes.iter().map(|(n, _)| n.as_str()).collect();
        deleted.retain(|n| !rewritten.contains(n.as_str()));
        if !deleted.is_empty() {
            self.systemctl(&["disable", "--now"], &deleted)?;
            self.remove_units(&deleted)?;
        }
        self.write_units(&writes)?;
        test_pause::at("units_written");
        self.systemctl(&["daemon-reload"], &[])?;
        if !started.is_empty() {
            self.systemctl(&["enable", "--now"], &started)?;
        }
        if !restarted.is_empty() {
            self.systemctl(&["restart"], &restarted)?;
        }
        Ok(())
    }

    fn own_paths(&self) -> Vec<OwnPath> {
        vec![
            OwnPath::Dir("unit_dir", self.unit_dir.clone()),
            OwnPath::Lock("apply_lock", self.unit_dir.join(LOCK_NAME)),
        ]
    }

    /// systemd runs as the service manager: `systemctl is-system-running` answers (`degraded`, a
    /// failed unit somewhere, still runs timers).
    fn systemd_runs(&self) -> (&'static str, Result<String, String>) {
        if let Err(why) = self.check_systemctl() {
            return ("systemd", Err(why));
        }
        let output = Command::new(&self.systemctl)
            .arg("is-system-running")
            .env_clear()
            .env("PATH", crate::env::CHILD_PATH)
            .output();
        let state = output
            .as_ref()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let status = match state.as_str() {
            "running" | "degraded" | "starting" | "initializing" => {
                Ok(format!("systemd runs (system state {state})"))
            }
            _ => Err(format!(
                "systemd does not run as the service manager here ({}): timers fire only under a \
                 booted systemd; use the crontab backend on this host",
                match &output {
                    Err(e) => format!("cannot run {}: {e}", self.systemctl.display()),
                    Ok(_) if state.is_empty() => "systemctl is-system-running said nothing".into(),
                    Ok(_) => format!("system state {state}"),
                }
            )),
        };
        ("systemd", status)
    }

    /// Bring `cronix-check.timer` and `.service` (recognized by their `X-Cronix-Check=` mark) to
    /// the check op's artifact, or remove them: at most four `systemctl` calls. Units of those names
    /// without the mark are never replaced or removed (apply refuses them up front through
    /// `check_conflicts` when a check is wanted).
    fn apply_check(&self, op: &Op) -> Result<(), Failure> {
        let wanted = op.line.as_deref().map(systemd_unit::split_artifact);
        let check = wanted.as_ref();
        let names = check_unit_names();
        let mut current = Vec::new();
        for name in &names {
            // Only marked units count as installed; a foreign one is never replaced (apply refused
            // it up front) and is left alone when no check is wanted.
            let text = self.read_unit(name)?;
            if check.is_some()
                && text
                    .as_deref()
                    .is_some_and(|t| !systemd_unit::is_check_unit(t))
            {
                return Err(Failure::backend(foreign_check_unit(name, &self.unit_dir)));
            }
            current.push(text.filter(|t| systemd_unit::is_check_unit(t)));
        }
        let timer = std::slice::from_ref(&names[0]);
        match wanted {
            Some(units) => {
                let same = units
                    .iter()
                    .zip(&current)
                    .all(|((_, want), have)| have.as_deref() == Some(want.as_str()));
                if same {
                    return Ok(());
                }
                self.write_units(&units)?;
                self.systemctl(&["daemon-reload"], &[])?;
                self.systemctl(&["enable", "--now"], timer)?;
                if current.iter().any(Option::is_some) {
                    self.systemctl(&["restart"], timer)?;
                }
            }
            None => {
                if current.iter().all(Option::is_none) {
                    return Ok(());
                }
                if current[0].is_some() {
                    self.systemctl(&["disable", "--now"], timer)?;
                }
                let present: Vec<String> = names
                    .iter()
                    .zip(&current)
                    .filter(|(_, text)| text.is_some())
                    .map(|(name, _)| name.clone())
                    .collect();
                self.remove_units(&present)?;
                self.systemctl(&["daemon-reload"], &[])?;
            }
        }
        Ok(())
    }

    /// The owned timers that are installed but do not fire (not enabled, or not active), with why,
    /// as one `systemctl show` reports them. Empty when systemctl cannot tell (no booted systemd,
    /// systemctl refused): an entry whose liveness is unknown reads as firing.
    fn inactive_timers(&self, timers: &[String]) -> BTreeMap<String, String> {
        if timers.is_empty() || self.check_systemctl().is_err() {
            return BTreeMap::new();
        }
        match self.systemctl(
            &[
                "show",
                "-p",
                "Id",
                "-p",
                "UnitFileState",
                "-p",
                "ActiveState",
            ],
            timers,
        ) {
            Ok(text) => inactive_by_unit(&text),
            Err(_) => BTreeMap::new(),
        }
    }
}

/// `systemctl show -p Id -p UnitFileState -p ActiveState` output: each timer that is not enabled
/// and active, with why.
fn inactive_by_unit(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let value = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        let (Some(id), Some(file_state), Some(active)) =
            (value("Id"), value("UnitFileState"), value("ActiveState"))
        else {
            continue;
        };
        let why = if !file_state.starts_with("enabled") {
            format!("timer {file_state}")
        } else if !matches!(active.as_str(), "active" | "activating" | "reloading") {
            format!("timer enabled but {active}")
        } else {
            continue;
        };
        let why = if file_state.is_empty() {
            "timer not loaded".to_string()
        } else {
            why
        };
        out.insert(id, why);
    }
    out
}

/// `systemctl show -p Id -p NextElapseUSecRealtime` output (run with `TZ=UTC`): unit → RFC 3339.
fn next_elapse_by_unit(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut id = None;
        let mut next = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("Id=") {
                id = Some(v.to_string());
            }
            if let Some(v) = line.strip_prefix("NextElapseUSecRealtime=") {
                next = rfc3339_of_systemd_time(v);
            }
        }
        if let (Some(id), Some(next)) = (id, next) {
            out.insert(id, next);
        }
    }
    out
}

/// `Wed 2026-12-02 00:01:00 UTC` → `2026-12-02T00:01:00Z`; `None` for an empty or other value.
fn rfc3339_of_systemd_time(value: &str) -> Option<String> {
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, date, time, "UTC"] = words.as_slice() else {
        return None;
    };
    let parsed: jiff::civil::DateTime = format!("{date}T{time}").parse().ok()?;
    let ts = parsed.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.to_string())
}

/// The error line for a unit named like the check's that cronix does not own.
fn foreign_check_unit(name: &str, unit_dir: &Path) -> String {
    format!(
        "unit {name} in {} exists without cronix's X-Cronix-Check= mark; cronix never replaces a \
         unit it does not own: remove or rename it, or remove check_every",
        unit_dir.display()
    )
}

/// The two units of the owned `cronix check` job.
fn check_unit_names() -> [String; 2] {
    [
        format!("{CHECK_STEM}.timer"),
        format!("{CHECK_STEM}.service"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemctl_show_output_maps_units_to_rfc3339() {
        let text = "Id=cronix-a-j-0.timer\nNextElapseUSecRealtime=Wed 2026-12-02 00:01:00 UTC\n\n\
                    Id=cronix-a-j-1.timer\nNextElapseUSecRealtime=\n";
        let map = next_elapse_by_unit(text);
        assert_eq!(
            map.get("cronix-a-j-0.timer").map(String::as_str),
            Some("2026-12-02T00:01:00Z")
        );
        assert!(!map.contains_key("cronix-a-j-1.timer"));
    }
}
