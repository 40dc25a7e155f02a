//! The plan as data: the difference between desired entries and spec files and what a backend has
//! installed, over backend-neutral entries (identity `(app, job, idx)`, rendered artifact, hash).
//!
//! Pure. It never reads or writes anything and knows no backend: each backend turns what it found
//! into [`InstalledEntry`] values and executes the plan (`shell::backend`). Ordering is fixed here:
//! deletes, then updates, then creates, each sorted by app, job, idx, and entries before specs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::core::change_view;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Delete,
    Update,
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Entry,
    Spec,
    /// The owned `cronix check` job of the target (config `check_every`), one per target.
    Check,
}

/// Why an op is needed, as `drift` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Desired but not installed.
    Missing,
    /// Installed from a different desired state (hash differs), or a spec file with other bytes or mode.
    Changed,
    /// The entry line was edited by hand while its marker kept the right hash.
    Edited,
    /// A marker without its entry line, or a spec file of a job that is no longer desired.
    Orphaned,
    /// An owned entry that is no longer desired, or a duplicate of one.
    Extra,
    /// Removed on request (prune).
    Pruned,
    /// Installed as desired but not firing: a disabled or stopped timer, a suspended CronJob.
    Inactive,
    /// A hand-written trigger line taken over by `adopt`, rewritten in place as an owned entry.
    Adopted,
}

/// One desired entry of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredEntry {
    pub app: String,
    pub job: String,
    pub idx: usize,
    /// The schedule as the manifest gives it.
    pub schedule: String,
    /// The rendered artifact without its ownership marks: a crontab entry line, or a timer and
    /// service unit pair.
    pub line: String,
    pub hash: String,
}

/// One entry a backend found it had installed, recognized by its ownership marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledEntry {
    pub app: String,
    pub job: String,
    pub idx: usize,
    /// The hash its marks carry.
    pub hash: String,
    /// The artifact as installed, marks removed; `None` for marks that own nothing (an orphaned
    /// crontab marker).
    pub line: Option<String>,
    /// The schedule the artifact shows, for reports.
    pub schedule: Option<String>,
    /// Where the backend found it: an index into what it read (crontab blocks, unit files).
    pub at: usize,
    /// Why the entry is installed but does not fire (`timer disabled`, `suspended`); `None` when it
    /// fires, or when the backend cannot tell (a crontab line always fires while cron runs).
    pub inactive: Option<String>,
    /// The version of the object as the target stores it (a Kubernetes `resourceVersion`), for
    /// optimistic concurrency; `None` for file backends.
    pub revision: Option<String>,
}

/// A spec file's bytes, permission bits and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecFile {
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// Installed: the file's group. Desired: the group that must read it (the group of the user the
    /// entries run as), or `None` when any group will do.
    pub group: Option<u32>,
}

impl SpecFile {
    /// Whether this installed file is the desired one: same bytes and mode, and the group it needs.
    pub fn is(&self, want: &SpecFile) -> bool {
        self.bytes == want.bytes
            && self.mode == want.mode
            && want.group.is_none_or(|g| self.group == Some(g))
    }
}

/// One change. `at` points at the crontab block an entry op replaces or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Op {
    pub op: Action,
    pub kind: Subject,
    pub app: String,
    pub job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idx: Option<usize>,
    pub drift: DriftKind,
    /// Entries: the schedule of the new entry (create/update) or of the removed one (delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Entries: the new line and hash (create/update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Entries: the installed line and the hash its marks carry (update/delete).
    #[serde(rename = "before", skip_serializing_if = "Option::is_none")]
    pub old_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_hash: Option<String>,
    /// Updates: what changes, for people (`core::change_view`): the lines of the artifact that go
    /// and come, or the spec fields that differ (never a header value or a body).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Where the backend finds the entry an op replaces or removes ([`InstalledEntry::at`]).
    #[serde(skip)]
    pub at: Option<usize>,
    #[serde(skip)]
    pub spec: Option<SpecFile>,
}

/// The ordered list of changes. Empty means the installed state is the desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub ops: Vec<Op>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn entry_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|o| o.kind == Subject::Entry)
    }

    pub fn spec_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|o| o.kind == Subject::Spec)
    }

    /// How many ops of each action.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for op in &self.ops {
            match op.op {
                Action::Create => counts.create += 1,
                Action::Update => counts.update += 1,
                Action::Delete => counts.delete += 1,
            }
        }
        counts
    }

    /// A plan of the given ops, in the fixed order.
    pub fn from_ops(ops: Vec<Op>) -> Plan {
        Self::sorted(ops)
    }

    /// This plan with the op of the target's `cronix check` job, when it needs one (last).
    pub fn with_check(mut self, check: Option<Op>) -> Plan {
        self.ops.extend(check);
        self
    }

    /// The op of the `cronix check` job, if the plan has one.
    pub fn check_op(&self) -> Option<&Op> {
        self.ops.iter().find(|o| o.kind == Subject::Check)
    }

    fn sorted(mut ops: Vec<Op>) -> Plan {
        ops.sort_by(|a, b| {
            (a.op, &a.app, &a.job, a.kind, a.idx, a.at)
                .cmp(&(b.op, &b.app, &b.job, b.kind, b.idx, b.at))
        });
        Plan { ops }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

/// Plan the reconciliation of `app`: its desired entries and spec files against the backend's
/// installed entries and the app's installed spec files (keyed by job name). Other apps' entries are
/// never part of the plan.
pub fn plan_apply(
    app: &str,
    desired: &[DesiredEntry],
    desired_specs: &BTreeMap<String, SpecFile>,
    installed: &[InstalledEntry],
    installed_specs: &BTreeMap<String, SpecFile>,
) -> Plan {
    let mut ops = entry_ops(app, desired, installed);
    ops.extend(spec_ops(app, desired_specs, installed_specs));
    Plan::sorted(ops)
}

fn entry_ops(app: &str, desired: &[DesiredEntry], installed: &[InstalledEntry]) -> Vec<Op> {
    let wanted: HashMap<(&str, usize), &DesiredEntry> = desired
        .iter()
        .map(|d| ((d.job.as_str(), d.idx), d))
        .collect();
    let mut seen: BTreeSet<(&str, usize)> = BTreeSet::new();
    let mut ops = Vec::new();
    for entry in installed.iter().filter(|e| e.app == app) {
        let Some(line) = &entry.line else {
            ops.push(removal(entry, DriftKind::Orphaned));
            continue;
        };
        let key = (entry.job.as_str(), entry.idx);
        match wanted.get(&key) {
            Some(d) if seen.insert(key) => {
                if let Some(drift) = entry_drift(entry, line, d) {
                    ops.push(upsert(Action::Update, drift, d, Some(entry)));
                }
            }
            _ => ops.push(removal(entry, DriftKind::Extra)),
        }
    }
    for d in desired {
        if !seen.contains(&(d.job.as_str(), d.idx)) {
            ops.push(upsert(Action::Create, DriftKind::Missing, d, None));
        }
    }
    ops
}

/// `None` when the installed entry is exactly the desired one and fires.
fn entry_drift(entry: &InstalledEntry, line: &str, desired: &DesiredEntry) -> Option<DriftKind> {
    match (entry.hash == desired.hash, line == desired.line) {
        (true, true) if entry.inactive.is_some() => Some(DriftKind::Inactive),
        (true, true) => None,
        (true, false) => Some(DriftKind::Edited),
        (false, _) => Some(DriftKind::Changed),
    }
}

/// Which entry ops of `plan` the target shows as made, read back after an execution that failed
/// part way (`now`: the backend's entries at that moment), by index into `plan.ops`; spec ops are
/// `false` here (the spec place knows which it wrote). A create or update is made when the entry
/// is there with the new hash and artifact and fires; a delete when nothing of that identity and
/// old hash is left.
pub fn observed_entry_outcomes(plan: &Plan, now: &[InstalledEntry]) -> Vec<bool> {
    plan.ops
        .iter()
        .map(|op| {
            if op.kind != Subject::Entry {
                return false;
            }
            let same =
                |e: &&InstalledEntry| e.app == op.app && e.job == op.job && Some(e.idx) == op.idx;
            match op.op {
                Action::Delete => !now
                    .iter()
                    .filter(same)
                    .any(|e| Some(&e.hash) == op.old_hash.as_ref()),
                Action::Create | Action::Update => now.iter().filter(same).any(|e| {
                    Some(&e.hash) == op.hash.as_ref() && e.line == op.line && e.inactive.is_none()
                }),
            }
        })
        .collect()
}

fn upsert(action: Action, drift: DriftKind, d: &DesiredEntry, old: Option<&InstalledEntry>) -> Op {
    Op {
        op: action,
        kind: Subject::Entry,
        app: d.app.clone(),
        job: d.job.clone(),
        idx: Some(d.idx),
        drift,
        schedule: Some(d.schedule.clone()),
        line: Some(d.line.clone()),
        hash: Some(d.hash.clone()),
        old_line: old.and_then(|e| e.line.clone()),
        old_hash: old.map(|e| e.hash.clone()),
        changes: match old {
            Some(e) if drift == DriftKind::Inactive => vec![format!(
                "installed as wanted but not firing ({}); apply makes it fire again",
                e.inactive.as_deref().unwrap_or("inactive")
            )],
            _ => old
                .and_then(|e| e.line.as_deref())
                .map(|before| entry_changes(before, d))
                .unwrap_or_default(),
        },
        at: old.map(|e| e.at),
        spec: None,
    }
}

/// The lines that go and come; a line kept as it was changes only its marker's hash (the job's
/// spec changed), which is said in words.
fn entry_changes(before: &str, d: &DesiredEntry) -> Vec<String> {
    let changes = change_view::artifact_changes(before, &d.line);
    if changes.is_empty() {
        return vec![format!(
            "same line; its marker's hash changes to {} (the job's spec changed)",
            d.hash
        )];
    }
    changes
}

fn removal(entry: &InstalledEntry, drift: DriftKind) -> Op {
    Op {
        op: Action::Delete,
        kind: Subject::Entry,
        app: entry.app.clone(),
        job: entry.job.clone(),
        idx: Some(entry.idx),
        drift,
        schedule: entry.schedule.clone(),
        line: None,
        hash: None,
        old_line: entry.line.clone(),
        old_hash: Some(entry.hash.clone()),
        changes: Vec::new(),
        at: Some(entry.at),
        spec: None,
    }
}

/// The app (empty) and job name the `cronix check` job's op carries.
pub const CHECK_JOB: &str = "check";

/// The op that brings the target's `cronix check` job from `have` (its artifact as installed) to
/// `want` (as config `check_every` asks for it): create, update, delete, or nothing.
pub fn check_op(want: Option<&str>, have: Option<&str>) -> Option<Op> {
    let (action, drift) = match (want, have) {
        (Some(w), Some(h)) if w == h => return None,
        (None, None) => return None,
        (Some(_), None) => (Action::Create, DriftKind::Missing),
        (Some(_), Some(_)) => (Action::Update, DriftKind::Changed),
        (None, Some(_)) => (Action::Delete, DriftKind::Extra),
    };
    Some(Op {
        op: action,
        kind: Subject::Check,
        app: String::new(),
        job: CHECK_JOB.to_string(),
        idx: None,
        drift,
        schedule: None,
        line: want.map(str::to_string),
        hash: None,
        old_line: have.map(str::to_string),
        old_hash: None,
        changes: match (want, have) {
            (Some(w), Some(h)) => change_view::artifact_changes(h, w),
            _ => Vec::new(),
        },
        at: None,
        spec: None,
    })
}

/// The spec op of one job: create or update its file when it differs from the desired one.
pub fn job_spec_ops(app: &str, job: &str, want: &SpecFile, have: Option<&SpecFile>) -> Vec<Op> {
    let change = match have {
        None => Some((Action::Create, DriftKind::Missing)),
        Some(have) if !have.is(want) => Some((Action::Update, DriftKind::Changed)),
        Some(_) => None,
    };
    change
        .map(|(action, drift)| {
            spec_update(spec_op(action, drift, app, job, Some(want.clone())), have)
        })
        .into_iter()
        .collect()
}

/// A spec op with what changes from the installed file `have`, if there is one.
fn spec_update(mut op: Op, have: Option<&SpecFile>) -> Op {
    if let (Some(have), Some(want)) = (have, &op.spec) {
        op.changes = change_view::spec_changes(
            &have.bytes,
            &want.bytes,
            (have.mode, want.mode),
            (have.group, want.group),
        );
    }
    op
}

fn spec_ops(
    app: &str,
    desired: &BTreeMap<String, SpecFile>,
    installed: &BTreeMap<String, SpecFile>,
) -> Vec<Op> {
    let mut ops = Vec::new();
    for (job, want) in desired {
        let change = match installed.get(job) {
            None => Some((Action::Create, DriftKind::Missing)),
            Some(have) if !have.is(want) => Some((Action::Update, DriftKind::Changed)),
            Some(_) => None,
        };
        if let Some((action, drift)) = change {
            let op = spec_op(action, drift, app, job, Some(want.clone()));
            ops.push(spec_update(op, installed.get(job)));
        }
    }
    for job in installed.keys().filter(|j| !desired.contains_key(*j)) {
        ops.push(spec_op(Action::Delete, DriftKind::Orphaned, app, job, None));
    }
    ops
}

fn spec_op(action: Action, drift: DriftKind, app: &str, job: &str, spec: Option<SpecFile>) -> Op {
    Op {
        op: action,
        kind: Subject::Spec,
        app: app.to_string(),
        job: job.to_string(),
        idx: None,
        drift,
        schedule: None,
        line: None,
        hash: None,
        old_line: None,
        old_hash: None,
        changes: Vec::new(),
        at: None,
        spec,
    }
}

/// Plan the removal of every owned entry and orphaned mark (of `app` only, when given), and of the
/// listed spec files (`(app, job)` pairs).
pub fn plan_prune(
    app: Option<&str>,
    installed: &[InstalledEntry],
    specs: &BTreeSet<(String, String)>,
) -> Plan {
    let in_scope = |a: &str| app.is_none_or(|want| want == a);
    let mut ops: Vec<Op> = installed
        .iter()
        .filter(|e| in_scope(&e.app))
        .map(|e| removal(e, DriftKind::Pruned))
        .collect();
    for (spec_app, job) in specs.iter().filter(|(a, _)| in_scope(a)) {
        ops.push(spec_op(
            Action::Delete,
            DriftKind::Pruned,
            spec_app,
            job,
            None,
        ));
    }
    Plan::sorted(ops)
}

/// The apps that own installed entries or marks.
pub fn apps_in(installed: &[InstalledEntry]) -> BTreeSet<String> {
    installed.iter().map(|e| e.app.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crontab::{self, Crontab, render_crontab};

    fn desired(app: &str, job: &str, idx: usize, hash: &str) -> DesiredEntry {
        DesiredEntry {
            app: app.into(),
            job: job.into(),
            idx,
            schedule: "0 2 * * *".into(),
            line: format!("0 2 * * * root /b trigger --spec-dir /s {app}.{job}"),
            hash: hash.into(),
        }
    }

    fn installed_text(entries: &[&DesiredEntry]) -> String {
        entries
            .iter()
            .map(|d| {
                format!(
                    "{}\n# cronix:owned app={} job={} hash={} idx={}\n",
                    d.line, d.app, d.job, d.hash, d.idx
                )
            })
            .collect()
    }

    fn plan_of(desired: &[DesiredEntry], text: &str) -> Plan {
        plan_apply(
            "a",
            desired,
            &BTreeMap::new(),
            &crontab::parse(text.as_bytes()).entries(),
            &BTreeMap::new(),
        )
    }

    const H1: &str = "1111111111111111";
    const H2: &str = "2222222222222222";

    #[test]
    fn a_missing_entry_is_created_at_the_end() {
        let d = desired("a", "j", 0, H1);
        let plan = plan_of(std::slice::from_ref(&d), "# keep\nno-newline");
        assert_eq!(plan.ops.len(), 1);
        assert_eq!(
            (plan.ops[0].op, plan.ops[0].drift),
            (Action::Create, DriftKind::Missing)
        );
        let out = render_crontab(&crontab::parse(b"# keep\nno-newline"), &plan);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("# keep\nno-newline\n{}", installed_text(&[&d]))
        );
    }

    #[test]
    fn an_installed_entry_with_equal_hash_and_line_is_left_alone() {
        let d = desired("a", "j", 0, H1);
        let plan = plan_of(std::slice::from_ref(&d), &installed_text(&[&d]));
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_changed_hash_is_updated_in_place() {
        let old = desired("a", "j", 0, H1);
        let new = desired("a", "j", 0, H2);
        let text = format!("# top\n{}# bottom\n", installed_text(&[&old]));
        let plan = plan_of(std::slice::from_ref(&new), &text);
        assert_eq!(
            (plan.ops[0].op, plan.ops[0].drift),
            (Action::Update, DriftKind::Changed)
        );
        let out = render_crontab(&crontab::parse(text.as_bytes()), &plan);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("# top\n{}# bottom\n", installed_text(&[&new]))
        );
    }

    #[test]
    fn a_hand_edited_line_with_intact_hash_is_edited_drift() {
        let d = desired("a", "j", 0, H1);
        let text = installed_text(&[&d]).replacen("0 2", "5 3", 1);
        let plan = plan_of(std::slice::from_ref(&d), &text);
        assert_eq!(
            (plan.ops[0].op, plan.ops[0].drift),
            (Action::Update, DriftKind::Edited)
        );
    }

    #[test]
    fn entries_no_longer_desired_and_duplicates_are_deleted_other_apps_untouched() {
        let keep = desired("a", "j", 0, H1);
        let gone = desired("a", "old", 0, H1);
        let other = desired("b", "j", 0, H1);
        let text = installed_text(&[&keep, &gone, &other, &keep]);
        let plan = plan_of(std::slice::from_ref(&keep), &text);
        let kinds: Vec<_> = plan
            .ops
            .iter()
            .map(|o| (o.op, o.job.as_str(), o.drift))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Action::Delete, "j", DriftKind::Extra),
                (Action::Delete, "old", DriftKind::Extra)
            ]
        );
        let out = render_crontab(&crontab::parse(text.as_bytes()), &plan);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            installed_text(&[&keep, &other])
        );
    }

    #[test]
    fn an_orphaned_marker_of_the_app_is_removed_alone() {
        let d = desired("a", "j", 0, H1);
        let text = format!("# foreign\n# cronix:owned app=a job=j hash={H1} idx=0\n# after\n");
        let plan = plan_of(std::slice::from_ref(&d), &text);
        let out =
            String::from_utf8(render_crontab(&crontab::parse(text.as_bytes()), &plan)).unwrap();
        assert_eq!(
            out,
            format!("# foreign\n# after\n{}", installed_text(&[&d]))
        );
    }

    #[test]
    fn spec_files_missing_changed_and_orphaned_are_planned() {
        let spec = |b: &str| SpecFile {
            bytes: b.as_bytes().to_vec(),
            mode: 0o644,
            group: None,
        };
        let desired_specs = BTreeMap::from([
            ("new".to_string(), spec("n")),
            ("same".to_string(), spec("s")),
            ("moved".to_string(), spec("m2")),
        ]);
        let installed_specs = BTreeMap::from([
            ("same".to_string(), spec("s")),
            ("moved".to_string(), spec("m1")),
            ("gone".to_string(), spec("g")),
        ]);
        let plan = plan_apply(
            "a",
            &[],
            &desired_specs,
            &Crontab::default().entries(),
            &installed_specs,
        );
        let got: Vec<_> = plan
            .ops
            .iter()
            .map(|o| (o.op, o.job.as_str(), o.drift))
            .collect();
        assert_eq!(
            got,
            vec![
                (Action::Delete, "gone", DriftKind::Orphaned),
                (Action::Update, "moved", DriftKind::Changed),
                (Action::Create, "new", DriftKind::Missing),
            ]
        );
    }

    #[test]
    fn ops_come_deletes_then_updates_then_creates() {
        let d0 = desired("a", "j", 0, H2);
        let d1 = desired("a", "k", 0, H1);
        let text = installed_text(&[&desired("a", "j", 0, H1), &desired("a", "z", 0, H1)]);
        let plan = plan_of(&[d0, d1], &text);
        let actions: Vec<_> = plan.ops.iter().map(|o| o.op).collect();
        assert_eq!(
            actions,
            vec![Action::Delete, Action::Update, Action::Create]
        );
    }

    #[test]
    fn prune_removes_only_the_chosen_app() {
        let a = desired("a", "j", 0, H1);
        let b = desired("b", "j", 0, H1);
        let text = format!("# x\n{}", installed_text(&[&a, &b]));
        let parsed = crontab::parse(text.as_bytes());
        let plan = plan_prune(Some("a"), &parsed.entries(), &BTreeSet::new());
        let out = String::from_utf8(render_crontab(&parsed, &plan)).unwrap();
        assert_eq!(out, format!("# x\n{}", installed_text(&[&b])));
        let all = plan_prune(None, &parsed.entries(), &BTreeSet::new());
        assert_eq!(render_crontab(&parsed, &all), b"# x\n");
    }
}
