//! Unit tests of the reconcile orchestration over the in-memory backend (`shell::fake_backend`):
//! plan → refusals → execute → audit, a no-op that writes nothing, a plan stopped part way and
//! audited as what happened, a target changed under the apply, and `inactive` and `edited` drift
//! repaired. The real backends have their own end-to-end tests in `tests/it/`.

use std::path::Path;

use crate::core::audit::{AuditRecord, OUTCOME_FAILED, OUTCOME_PARTIAL};
use crate::core::backend_kind::BackendKind;
use crate::core::manifest;
use crate::core::plan::{Action, DriftKind, Subject};
use crate::core::scope::Scope;
use crate::error::FailureKind;
use crate::shell::config::StatePaths;
use crate::shell::fake_backend::{FakeBackend, Faults};
use crate::shell::reconcile::{self, Context, LoadedManifest};

/// One app with two jobs: `settle` (two schedules) and `sweep` (one).
const MANIFEST: &str = r#"{"version": 1, "app": "billing", "jobs": [
  {"name": "settle", "schedules": ["0 2 * * *", "0 14 * * 1-5"],
   "request": {"url": "https://billing.example.com/cron/settle", "method": "POST"}},
  {"name": "sweep", "schedule": "*/15 * * * *",
   "request": {"url": "https://billing.example.com/cron/sweep", "method": "POST"}}
]}"#;

fn loaded(text: &str) -> LoadedManifest {
    let manifest = manifest::parse(text.as_bytes(), &crate::shell::tz::zone_exists)
        .unwrap_or_else(|p| panic!("test manifest does not parse: {p:?}"));
    LoadedManifest {
        source: "memory.json".to_string(),
        manifest,
        scope: Scope {
            expected_app: None,
            allowed_refs: vec!["env:BILLING_KEY".to_string()],
            refs_from: "the test".to_string(),
            job_env_refs: false,
            other_apps: Vec::new(),
        },
    }
}

fn context(fake: &FakeBackend, dir: &Path) -> Context {
    let paths = StatePaths {
        spec_dir: dir.join("specs"),
        lock_dir: dir.join("locks"),
        state_dir: dir.join("state"),
    };
    for d in [&paths.spec_dir, &paths.lock_dir, &paths.state_dir] {
        std::fs::create_dir_all(d).expect("temp dirs");
    }
    Context {
        backend: Box::new(fake.clone()),
        backend_kind: BackendKind::Crontab,
        trigger_bin: "/usr/local/bin/cronix".to_string(),
        paths,
        operator_refs: vec!["env:BILLING_KEY".to_string()],
        flag_refs: true,
        manifest_sources: Vec::new(),
        allow_http_hosts: Vec::new(),
        host_zone: jiff::tz::TimeZone::UTC,
        host_zone_name: "UTC".to_string(),
        env_file: None,
        config_path: None,
        global_lock: Ok(()),
        apply_lock_wait: std::time::Duration::from_secs(1),
        check_every: None,
        spec_mode: 0o600,
        transport: Default::default(),
    }
}

fn journal(dir: &Path) -> Vec<AuditRecord> {
    std::fs::read_to_string(dir.join("state").join(crate::core::audit::AUDIT_FILE))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line"))
        .collect()
}

struct Setup {
    _tmp: tempfile::TempDir,
    fake: FakeBackend,
    ctx: Context,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("temp dir");
        let fake = FakeBackend::new();
        let ctx = context(&fake, tmp.path());
        Setup {
            _tmp: tmp,
            fake,
            ctx,
        }
    }

    fn dir(&self) -> &Path {
        self._tmp.path()
    }
}

#[test]
fn a_first_apply_writes_every_op_once_and_a_second_writes_nothing() {
    let s = Setup::new();
    let m = loaded(MANIFEST);
    let (plan, _) = reconcile::plan(&s.ctx, &m).expect("plan");
    assert_eq!(plan.entry_ops().count(), 3, "{plan:?}");
    assert_eq!(plan.spec_ops().count(), 2, "{plan:?}");
    assert!(plan.ops.iter().all(|o| o.op == Action::Create));
    assert_eq!(s.fake.writes(), 0, "a plan writes nothing");

    let (applied, _) = reconcile::apply(&s.ctx, &m).expect("apply");
    assert_eq!(applied.ops.len(), 5);
    assert_eq!(s.fake.writes(), 5);
    assert_eq!(s.fake.entries().len(), 3);
    assert_eq!(s.fake.spec_names().len(), 2);
    let records = journal(s.dir());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, None);
    assert_eq!(records[0].target, "fake:memory");
    assert!(records[0].ops.iter().all(|o| o.done.is_none()));

    let (again, _) = reconcile::apply(&s.ctx, &m).expect("second apply");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(s.fake.writes(), 5, "a no-op apply made a write request");
    assert_eq!(journal(s.dir()).len(), 1, "a no-op apply was audited");
}

#[test]
fn a_preflight_problem_or_a_foreign_object_refuses_before_any_write() {
    let s = Setup::new();
    let m = loaded(MANIFEST);
    s.fake.set_faults(Faults {
        blocking: vec!["the API is not reachable".to_string()],
        ..Faults::default()
    });
    let err = reconcile::apply(&s.ctx, &m).expect_err("refused");
    assert!(err.message.contains("the API is not reachable"), "{err}");
    assert_eq!(s.fake.writes(), 0);

    s.fake.set_faults(Faults {
        foreign: [("billing".to_string(), "sweep".to_string(), 0)].into(),
        ..Faults::default()
    });
    let err = reconcile::apply(&s.ctx, &m).expect_err("refused");
    assert!(
        err.message.contains("foreign object") && err.message.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(s.fake.writes(), 0);
    assert!(journal(s.dir()).is_empty());
}

#[test]
fn a_plan_stopped_part_way_is_audited_op_by_op_and_the_next_apply_finishes_it() {
    let s = Setup::new();
    let m = loaded(MANIFEST);
    // Specs go first (2 writes), then the first entry; the fourth write fails.
    s.fake.set_faults(Faults {
        fail_write: Some(3),
        ..Faults::default()
    });
    let err = reconcile::apply(&s.ctx, &m).expect_err("stopped");
    assert!(err.message.contains("write request 3 refused"), "{err}");
    let records = journal(s.dir());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome.as_deref(), Some(OUTCOME_PARTIAL));
    let made: Vec<(String, String, Option<usize>, bool)> = records[0]
        .ops
        .iter()
        .map(|o| (o.kind.clone(), o.job.clone(), o.idx, o.done == Some(true)))
        .collect();
    assert_eq!(made.iter().filter(|m| m.3).count(), 3, "{made:?}");
    assert!(
        made.iter().filter(|m| m.0 == "spec").all(|m| m.3),
        "{made:?}"
    );
    assert_eq!(s.fake.entries().len(), 1);

    s.fake.set_faults(Faults::default());
    let before = s.fake.writes();
    let (plan, _) = reconcile::apply(&s.ctx, &m).expect("finishing apply");
    assert_eq!(plan.ops.len(), 2, "only what was not made: {plan:?}");
    assert_eq!(s.fake.writes() - before, 2);
    assert_eq!(s.fake.entries().len(), 3);
    assert_eq!(journal(s.dir()).len(), 2);
}

#[test]
fn a_plan_that_fails_at_its_first_write_is_audited_as_failed() {
    let s = Setup::new();
    s.fake.set_faults(Faults {
        fail_write: Some(0),
        ..Faults::default()
    });
    reconcile::apply(&s.ctx, &loaded(MANIFEST)).expect_err("failed");
    let records = journal(s.dir());
    assert_eq!(records[0].outcome.as_deref(), Some(OUTCOME_FAILED));
    assert!(records[0].ops.iter().all(|o| o.done.is_none()));
}

#[test]
fn a_target_changed_under_the_apply_is_a_conflict_to_re_run() {
    let s = Setup::new();
    let m = loaded(MANIFEST);
    reconcile::apply(&s.ctx, &m).expect("first apply");
    let changed = MANIFEST.replace("*/15 * * * *", "*/20 * * * *");
    s.fake.set_faults(Faults {
        changed_under_us: true,
        ..Faults::default()
    });
    let err = reconcile::apply(&s.ctx, &loaded(&changed)).expect_err("conflict");
    assert_eq!(err.kind, FailureKind::Conflict, "{err}");
    assert!(err.message.contains("re-run"), "{err}");
    let (plan, _) = reconcile::apply(&s.ctx, &loaded(&changed)).expect("re-run");
    assert!(plan.entry_ops().any(|o| o.op == Action::Update));
    let (again, _) = reconcile::plan(&s.ctx, &loaded(&changed)).expect("plan");
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn an_inactive_or_edited_entry_is_drift_that_apply_repairs() {
    let s = Setup::new();
    let m = loaded(MANIFEST);
    reconcile::apply(&s.ctx, &m).expect("first apply");
    s.fake.suspend("billing", "settle", 1);
    s.fake
        .edit("billing", "sweep", 0, "fake * * * * * billing.sweep#0");
    let (plan, _) = reconcile::plan(&s.ctx, &m).expect("plan");
    let drifts: Vec<(String, Option<usize>, DriftKind)> = plan
        .ops
        .iter()
        .filter(|o| o.kind == Subject::Entry)
        .map(|o| (o.job.clone(), o.idx, o.drift))
        .collect();
    assert_eq!(
        drifts,
        vec![
            ("settle".to_string(), Some(1), DriftKind::Inactive),
            ("sweep".to_string(), Some(0), DriftKind::Edited),
        ]
    );
    let inactive = &plan.ops[0];
    assert!(inactive.changes[0].contains("suspended"), "{inactive:?}");
    reconcile::apply(&s.ctx, &m).expect("repair");
    assert!(s.fake.entries().iter().all(|e| !e.suspended));
    let (after, _) = reconcile::plan(&s.ctx, &m).expect("plan");
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn prune_removes_the_apps_entries_and_specs_and_audits_it() {
    let s = Setup::new();
    reconcile::apply(&s.ctx, &loaded(MANIFEST)).expect("apply");
    let plan = reconcile::prune(&s.ctx, Some("billing")).expect("prune");
    assert_eq!(plan.ops.len(), 5, "{plan:?}");
    assert!(s.fake.entries().is_empty());
    assert!(s.fake.spec_names().is_empty());
    let records = journal(s.dir());
    assert_eq!(records.last().map(|r| r.command.as_str()), Some("prune"));
}

#[test]
fn the_check_job_is_an_ordinary_plan_entry_planned_audited_and_removed() {
    let mut s = Setup::new();
    s.ctx.check_every = Some("5m".to_string());
    s.ctx.config_path = Some("/etc/cronix/cronix.yaml".to_string());
    let m = loaded(MANIFEST);
    let (plan, _) = reconcile::plan(&s.ctx, &m).expect("plan");
    let check = plan.check_op().expect("a check op");
    assert_eq!(
        (check.op, check.drift),
        (Action::Create, DriftKind::Missing)
    );
    reconcile::apply(&s.ctx, &m).expect("apply");
    assert!(
        s.fake
            .check()
            .is_some_and(|c| c.starts_with("fake check */5 * * * *")),
        "{:?}",
        s.fake.check()
    );
    let records = journal(s.dir());
    assert!(
        records[0]
            .ops
            .iter()
            .any(|o| o.kind == "check" && o.op == "create"),
        "{:?}",
        records[0].ops
    );

    let writes = s.fake.writes();
    let (again, _) = reconcile::apply(&s.ctx, &m).expect("no-op");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(s.fake.writes(), writes);

    s.ctx.check_every = Some("1h".to_string());
    let (changed, _) = reconcile::apply(&s.ctx, &m).expect("changed interval");
    let op = changed.check_op().expect("a check op");
    assert_eq!(op.op, Action::Update);
    assert!(s.fake.check().is_some_and(|c| c.contains("0 */1 * * *")));

    s.ctx.check_every = None;
    let (removed, _) = reconcile::apply(&s.ctx, &m).expect("removed");
    assert_eq!(removed.check_op().map(|o| o.op), Some(Action::Delete));
    assert_eq!(s.fake.check(), None);
    assert_eq!(journal(s.dir()).len(), 3);
}
