//! Shared glue of plan, apply, drift, prune, list and show: resolve the target and operator settings,
//! load the manifest, read the installed state, compute the plan with the core, and execute it.
//!
//! Execution order is fixed here: spec files written, then the crontab, then spec files removed, all
//! under the apply lock. Must not format output (commands do) and has no dry-run switch: a plan that
//! is only shown is never passed to `execute`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cli::{CrontabFormat, GlobalArgs, TargetArgs};
use crate::core::adopt::{self, Finding};
use crate::core::audit::{AuditOp, AuditRecord};
use crate::core::backend_kind::BackendKind;
use crate::core::check_entry;
use crate::core::crontab::{self, Crontab};
use crate::core::manifest::{self, Manifest};
use crate::core::plan::{self, Action, Plan, SpecFile};
use crate::core::schedule::Schedule;
use crate::core::scope::{self, ManifestSource, Scope};
use crate::core::target_checks::{self, Desired, TargetFacts};
use crate::error::Failure;
use crate::shell::config::{self, StatePaths};
use crate::shell::crontab_target::Target;
use crate::shell::{audit, passwd, source, spec_store, test_pause, tz};

/// Everything a reconciler command needs to know about where and as whom entries go.
#[derive(Debug, Clone)]
pub struct Context {
    /// The scheduler backend the command drives.
    pub backend: BackendKind,
    pub target: Target,
    /// The user column, for system-format targets.
    pub run_as: Option<String>,
    pub trigger_bin: String,
    pub paths: StatePaths,
    /// The refs of a single-app host: `--secret-ref`, else the config's `secret_refs`.
    pub operator_refs: Vec<String>,
    /// Whether `--secret-ref` was given.
    pub flag_refs: bool,
    /// The config's `manifest_sources`: each app, its source and its refs.
    pub manifest_sources: Vec<ManifestSource>,
    pub allow_http_hosts: Vec<String>,
    /// The zone cron fires in.
    pub host_zone: jiff::tz::TimeZone,
    pub host_zone_name: String,
    /// The env file that resolves `env:` refs when a fetch is signed.
    pub env_file: Option<PathBuf>,
    /// The operator config file that was loaded (absolute), recorded in spec files for the shim.
    pub config_path: Option<String>,
    /// Whether the config has `locks.redis` (global-scope jobs need it).
    pub global_lock: bool,
    /// How long apply and prune wait for another apply's lock.
    pub apply_lock_wait: std::time::Duration,
    /// Config `check_every`: apply keeps an owned `cronix check` entry at this interval.
    pub check_every: Option<String>,
}

/// Resolve flags over the operator config over the defaults.
pub fn context(
    global: &GlobalArgs,
    args: &TargetArgs,
    backend: BackendKind,
) -> Result<Context, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    context_from(&loaded, global, args, backend)
}

/// `context` over a config already loaded (`doctor` goes on with the defaults when loading failed).
pub fn context_from(
    loaded: &config::Loaded,
    global: &GlobalArgs,
    args: &TargetArgs,
    backend: BackendKind,
) -> Result<Context, Failure> {
    let config_path = loaded.path.as_ref().map(|p| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    });
    let cfg = &loaded.config;
    let paths = StatePaths::resolve(&args.paths, cfg);
    let target = match &args.crontab_user {
        Some(user) => Target::User {
            user: user.clone(),
            lock_dir: paths.lock_dir.clone(),
        },
        None => {
            let path = args
                .crontab_path
                .clone()
                .or(cfg.crontab_path.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CRONTAB_PATH));
            let format = args
                .crontab_format
                .or(cfg.crontab_format)
                .unwrap_or(CrontabFormat::System);
            Target::File {
                path: std::path::absolute(&path).unwrap_or(path),
                user_column: format == CrontabFormat::System,
            }
        }
    };
    target.check()?;
    let run_as = target.has_user_column().then(|| {
        args.run_as
            .clone()
            .or(cfg.run_as.clone())
            .unwrap_or_else(|| config::DEFAULT_RUN_AS.to_string())
    });
    let trigger_bin = match args.trigger_bin.clone().or(cfg.trigger_bin.clone()) {
        Some(bin) => bin,
        None => std::env::current_exe().map_err(|e| {
            Failure::backend(format!(
                "cannot find this binary's path ({e}); give --trigger-bin"
            ))
        })?,
    };
    let operator_refs = cfg.operator_secret_refs(&global.secret_refs);
    let host_zone = jiff::tz::TimeZone::system();
    let host_zone_name = host_zone.iana_name().unwrap_or("UTC").to_string();
    Ok(Context {
        backend,
        target,
        run_as,
        trigger_bin: path_text("trigger binary", "--trigger-bin", &trigger_bin)?,
        paths,
        operator_refs,
        flag_refs: !global.secret_refs.is_empty(),
        manifest_sources: cfg.manifest_sources.clone(),
        allow_http_hosts: cfg.allow_http_hosts.clone(),
        env_file: cfg.env_file.clone(),
        host_zone,
        host_zone_name,
        config_path,
        global_lock: cfg.locks.redis.is_some(),
        apply_lock_wait: std::time::Duration::from_secs(
            cfg.apply_lock_wait_seconds
                .unwrap_or(config::DEFAULT_APPLY_LOCK_WAIT_SECONDS),
        ),
        check_every: cfg.check_every.clone(),
    })
}

fn path_text(what: &str, flag: &str, path: &std::path::Path) -> Result<String, Failure> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        Failure::invalid(format!(
            "{what} {}: not UTF-8; give {flag} a plain path",
            path.display()
        ))
    })
}

impl Context {
    fn spec_dir(&self) -> &std::path::Path {
        &self.paths.spec_dir
    }

    fn facts<'a>(
        &'a self,
        scope: &'a Scope,
        dirs: &'a [String; 3],
        job_zones: &'a BTreeMap<String, jiff::tz::TimeZone>,
    ) -> TargetFacts<'a> {
        TargetFacts {
            run_as: self.run_as.as_deref(),
            trigger_bin: &self.trigger_bin,
            spec_dir: &dirs[0],
            lock_dir: &dirs[1],
            state_dir: &dirs[2],
            host_zone: &self.host_zone_name,
            host_tz: &self.host_zone,
            job_zones,
            now: jiff::Timestamp::now(),
            allowed_refs: &scope.allowed_refs,
            refs_from: &scope.refs_from,
            allow_http_hosts: &self.allow_http_hosts,
            config_path: self.config_path.as_deref(),
            target: self.target.describe(),
            global_lock: self.global_lock,
        }
    }

    fn dirs(&self) -> Result<[String; 3], Failure> {
        Ok([
            path_text("spec dir", "--spec-dir", &self.paths.spec_dir)?,
            path_text("lock dir", "--lock-dir", &self.paths.lock_dir)?,
            path_text("state dir", "--state-dir", &self.paths.state_dir)?,
        ])
    }
}

/// A parsed manifest, where it came from, and the scope fixed for its source.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub source: String,
    pub manifest: Manifest,
    pub scope: Scope,
}

/// The scope of a source: `--app` or the `manifest_sources` entry whose url it is fixes its app and
/// refs (a single-app host: the operator refs).
pub fn scope_for(
    ctx: &Context,
    source_arg: &str,
    app_flag: Option<&str>,
) -> Result<Scope, Failure> {
    source_scope(
        &ctx.manifest_sources,
        &ctx.operator_refs,
        (ctx.flag_refs, true),
        source_arg,
        app_flag,
    )
}

/// `scope_for` from the config's pieces (for `validate`, which has no target and, as a linter, reads
/// an undeclared source too: `require_declared` false).
pub fn source_scope(
    sources: &[ManifestSource],
    operator_refs: &[String],
    (flag_refs, require_declared): (bool, bool),
    source_arg: &str,
    app_flag: Option<&str>,
) -> Result<Scope, Failure> {
    let shown = source::shown(source_arg);
    let wanted = source::identity(source_arg);
    let matched = sources
        .iter()
        .position(|s| wanted.is_some() && source::identity(&s.url) == wanted);
    scope::resolve(
        sources,
        &scope::Request {
            app_flag,
            shown_source: &shown,
            matched,
            operator_refs,
            flag_refs,
            require_declared,
        },
    )
    .map_err(Failure::invalid)
}

/// Fix the source's scope, read the manifest (an HTTP fetch signed with the app's refs) and parse it;
/// every problem is listed with its JSON path; a manifest naming another app is refused.
pub fn load_manifest(
    ctx: &Context,
    source_arg: &str,
    app_flag: Option<&str>,
) -> Result<LoadedManifest, Failure> {
    let scope = scope_for(ctx, source_arg, app_flag)?;
    let shown = source::shown(source_arg);
    let auth = source::FetchAuth {
        secret_refs: scope.allowed_refs.clone(),
        env_file: ctx.env_file.clone(),
    };
    let bytes = source::load(source_arg, &auth)?;
    let manifest = manifest::parse(&bytes, &tz::zone_exists).map_err(|issues| {
        Failure::invalid(format!(
            "manifest {shown}: invalid ({}), nothing was changed:\n{}",
            manifest::problem_count(issues.len()),
            manifest::issue_lines(&issues).join("\n")
        ))
    })?;
    scope::check_app(&scope, &manifest.app, &shown).map_err(Failure::invalid)?;
    Ok(LoadedManifest {
        source: source_arg.to_string(),
        manifest,
        scope,
    })
}

/// Check the manifest against the target and derive the desired entries and spec files.
pub fn desired(ctx: &Context, loaded: &LoadedManifest) -> Result<Desired, Failure> {
    let manifest = &loaded.manifest;
    let mut errors = Vec::new();
    let user = match &ctx.target {
        Target::User { user, .. } => Some(user.as_str()),
        Target::File { .. } => ctx.run_as.as_deref(),
    };
    if let Some(user) = user
        && target_checks::is_safe_user(user)
        && !passwd::user_exists(user)
    {
        errors.push(format!(
            "user {user:?} does not exist on this host; create it or pick another with --run-as / \
             --crontab-user"
        ));
    }
    let dirs = ctx.dirs()?;
    let job_zones: BTreeMap<String, jiff::tz::TimeZone> = manifest
        .jobs
        .iter()
        .filter_map(|job| Some((job.timezone.clone(), tz::zone(&job.timezone)?)))
        .collect();
    match target_checks::desired_state(manifest, &ctx.facts(&loaded.scope, &dirs, &job_zones)) {
        Ok(desired) if errors.is_empty() => return Ok(desired),
        Ok(_) => {}
        Err(found) => errors.extend(found),
    }
    let total = errors.len();
    errors.truncate(manifest::MAX_REPORTED_PROBLEMS);
    if total > errors.len() {
        errors.push(format!(
            "… and {} more problem(s) not shown",
            total - errors.len()
        ));
    }
    Err(Failure::invalid(format!(
        "app {} cannot be applied to {}, nothing was changed:\n  {}",
        manifest.app,
        ctx.target.describe(),
        errors.join("\n  ")
    )))
}

/// What is on disk now: the crontab bytes, parsed, and the app's spec files.
#[derive(Debug, Clone)]
pub struct Installed {
    pub bytes: Vec<u8>,
    pub crontab: Crontab,
    pub specs: BTreeMap<String, SpecFile>,
}

pub fn installed(ctx: &Context, app: Option<&str>) -> Result<Installed, Failure> {
    let bytes = ctx.target.read()?;
    let crontab = crontab::parse(&bytes);
    let specs = match app {
        Some(app) => spec_store::read_app(ctx.spec_dir(), app)?,
        None => BTreeMap::new(),
    };
    Ok(Installed {
        bytes,
        crontab,
        specs,
    })
}

fn plan_against(app: &str, desired: &Desired, installed: &Installed) -> Plan {
    plan::plan_apply(
        app,
        &desired.entries,
        &desired.specs,
        &installed.crontab,
        &installed.specs,
    )
}

/// The plan for a manifest (read only, no lock) and the desired state it came from (warnings and
/// time-zone reports to show).
pub fn plan(ctx: &Context, loaded: &LoadedManifest) -> Result<(Plan, Desired), Failure> {
    let manifest = &loaded.manifest;
    let mut desired = desired(ctx, loaded)?;
    let installed = installed(ctx, Some(&manifest.app))?;
    let findings = crontab_guards(ctx, manifest, &installed);
    desired.warnings.extend(
        findings
            .iter()
            .map(|f| format!("apply would refuse: {}", f.describe())),
    );
    Ok((plan_against(&manifest.app, &desired, &installed), desired))
}

/// Lines of the crontab that make an apply unsafe: unmarked `cronix trigger` lines for the
/// manifest's jobs (a double fire), and in a system-format file, cronix lines without a user column.
fn crontab_guards(ctx: &Context, manifest: &Manifest, installed: &Installed) -> Vec<Finding> {
    let jobs: Vec<&str> = manifest.jobs.iter().map(|j| j.name.as_str()).collect();
    let mut findings = adopt::double_fires(&installed.crontab, &manifest.app, &jobs);
    if ctx.target.has_user_column() {
        findings.extend(adopt::missing_user_columns(&installed.crontab));
    }
    findings.sort_by_key(|f| f.line_no);
    findings.dedup_by_key(|f| f.line_no);
    findings
}

/// Refuse, naming every line, when the guards found anything.
pub fn refuse_on(ctx: &Context, findings: &[Finding]) -> Result<(), Failure> {
    if findings.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = findings.iter().map(Finding::describe).collect();
    Err(Failure::invalid(format!(
        "{} has lines cronix will not write next to, nothing was changed:\n  {}",
        ctx.target.describe(),
        lines.join("\n  ")
    )))
}

/// Apply a manifest: check it, take the lock, clean a crashed run's temp files, plan against what is
/// installed now, execute, and record the change. An empty plan writes nothing. Returns the plan
/// executed and the desired state (warnings and time-zone reports to show).
pub fn apply(ctx: &Context, loaded: &LoadedManifest) -> Result<(Plan, Desired), Failure> {
    let manifest = &loaded.manifest;
    let desired = desired(ctx, loaded)?;
    let check = match &ctx.check_every {
        Some(every) => Some(render_check_entry(ctx, every)?),
        None => None,
    };
    let _lock = ctx.target.lock(ctx.apply_lock_wait)?;
    clean_leftovers(ctx, &[manifest.app.as_str()])?;
    let installed = installed(ctx, Some(&manifest.app))?;
    refuse_on(ctx, &crontab_guards(ctx, manifest, &installed))?;
    let plan = plan_against(&manifest.app, &desired, &installed);
    if plan.is_empty() {
        sync_check_entry(ctx, &installed.bytes, check.as_deref())?;
        return Ok((plan, desired));
    }
    let mut journal = audit::open(&ctx.paths.state_dir)?;
    execute(ctx, &installed, &plan)?;
    journal.append(&audit_record(
        ctx,
        "apply",
        Some(loaded.source.as_str()),
        Some(manifest::digest(manifest)),
        &plan,
    ))?;
    sync_check_entry(ctx, &ctx.target.read()?, check.as_deref())?;
    Ok((plan, desired))
}

/// The plan that removes owned entries (of `app` only, when given) from this target, and the spec
/// files of this target: those that record it (including those a crashed prune left behind after their
/// entries were gone), and format-1 specs that record no target when this target holds an entry of
/// their job (or, with `--app`, of their app). A spec recorded for another target is never removed.
pub fn prune_plan(ctx: &Context, app: Option<&str>) -> Result<(Installed, Plan), Failure> {
    let installed = installed(ctx, None)?;
    let target = ctx.target.describe();
    let in_crontab: BTreeSet<(String, String)> = installed
        .crontab
        .blocks
        .iter()
        .filter_map(|b| match b {
            crontab::Block::Owned(e) => Some((e.marker.app.clone(), e.marker.job.clone())),
            crontab::Block::OrphanMarker { marker, .. } => {
                Some((marker.app.clone(), marker.job.clone()))
            }
            crontab::Block::Foreign(_) => None,
        })
        .collect();
    let specs: BTreeSet<(String, String)> = spec_store::list(ctx.spec_dir())?
        .into_iter()
        .filter(|(a, _)| app.is_none_or(|want| want == a))
        .filter(
            |(a, j)| match spec_store::recorded_target(ctx.spec_dir(), a, j) {
                Some(recorded) => recorded == target,
                None => app.is_some() || in_crontab.contains(&(a.clone(), j.clone())),
            },
        )
        .collect();
    let plan = plan::plan_prune(app, &installed.crontab, &specs);
    Ok((installed, plan))
}

/// Prune under the apply lock, re-planned against what is installed at that moment.
pub fn prune(ctx: &Context, app: Option<&str>) -> Result<Plan, Failure> {
    let _lock = ctx.target.lock(ctx.apply_lock_wait)?;
    let (installed, plan) = prune_plan(ctx, app)?;
    let apps: Vec<&str> = plan.ops.iter().map(|o| o.app.as_str()).collect();
    clean_leftovers(ctx, &apps)?;
    if plan.is_empty() {
        return Ok(plan);
    }
    let mut journal = audit::open(&ctx.paths.state_dir)?;
    execute(ctx, &installed, &plan)?;
    journal.append(&audit_record(ctx, "prune", None, None, &plan))?;
    Ok(plan)
}

/// Put the owned `cronix check` entry (config `check_every`, rendered by `render_check_entry`) in
/// place, replace it, or remove it when the config no longer asks for one; no write when it is
/// already right. The caller holds the apply lock.
fn sync_check_entry(ctx: &Context, bytes: &[u8], desired: Option<&str>) -> Result<(), Failure> {
    let next = check_entry::place(bytes, desired);
    if next != bytes {
        ctx.target.install(&next)?;
    }
    Ok(())
}

/// The two lines of the check entry, from validated parts only.
fn render_check_entry(ctx: &Context, every: &str) -> Result<String, Failure> {
    let schedule = config::check_every_schedule(every)
        .map_err(|why| Failure::invalid(format!("config check_every {every:?}: {why}")))?
        .crontab_expression();
    let config = ctx.config_path.as_deref().unwrap_or_default();
    let dirs = ctx.dirs()?;
    for (what, path) in [
        ("config file", config),
        ("trigger binary", ctx.trigger_bin.as_str()),
        ("spec dir", dirs[0].as_str()),
        ("state dir", dirs[2].as_str()),
    ] {
        if !target_checks::is_safe_path(path) {
            return Err(Failure::invalid(format!(
                "check_every: the {what} {path:?} cannot go on a crontab line (absolute paths of \
                 [A-Za-z0-9/._-] only); move it or remove check_every"
            )));
        }
    }
    Ok(check_entry::CheckEntry {
        schedule: &schedule,
        run_as: ctx.run_as.as_deref(),
        bin: &ctx.trigger_bin,
        config,
        spec_dir: &dirs[0],
        state_dir: &dirs[2],
    }
    .render())
}

pub fn clean_leftovers(ctx: &Context, apps: &[&str]) -> Result<(), Failure> {
    ctx.target.clean_temps()?;
    for app in apps {
        spec_store::clean_temps(ctx.spec_dir(), app)?;
    }
    Ok(())
}

/// Write spec files, then the crontab (only when its bytes change), then remove spec files: a spec
/// exists before any entry that uses it and outlives it. The caller holds the apply lock.
pub fn execute(ctx: &Context, installed: &Installed, plan: &Plan) -> Result<(), Failure> {
    let mut wrote_specs = false;
    for op in plan.spec_ops().filter(|o| o.op != Action::Delete) {
        if let Some(spec) = &op.spec {
            spec_store::write(ctx.spec_dir(), &op.app, &op.job, spec)?;
            wrote_specs = true;
        }
    }
    if wrote_specs {
        spec_store::sync(ctx.spec_dir())?;
    }
    test_pause::at("specs_written");
    let bytes = plan::render_crontab(&installed.crontab, plan);
    if bytes != installed.bytes {
        ctx.target.install(&bytes)?;
    }
    test_pause::at("crontab_installed");
    for op in plan.spec_ops().filter(|o| o.op == Action::Delete) {
        spec_store::remove(ctx.spec_dir(), &op.app, &op.job)?;
    }
    test_pause::at("specs_removed");
    Ok(())
}

pub fn audit_record(
    ctx: &Context,
    command: &str,
    source: Option<&str>,
    digest: Option<String>,
    plan: &Plan,
) -> AuditRecord {
    AuditRecord {
        ts: jiff::Timestamp::now().to_string(),
        command: command.to_string(),
        user: passwd::current_user(),
        sudo_user: std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()),
        source: source.map(source::shown),
        digest,
        target: ctx.target.describe(),
        ops: plan
            .ops
            .iter()
            .map(|op| AuditOp {
                op: action_name(op.op).to_string(),
                kind: match op.kind {
                    plan::Subject::Entry => "entry",
                    plan::Subject::Spec => "spec",
                }
                .to_string(),
                app: op.app.clone(),
                job: op.job.clone(),
                idx: op.idx,
            })
            .collect(),
    }
}

pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}

/// The next `count` fire times of a schedule expression, in the zone cron fires in.
pub fn next_fires(
    expr: &str,
    now: jiff::Timestamp,
    zone: &jiff::tz::TimeZone,
    count: usize,
) -> Vec<jiff::Zoned> {
    let Ok(schedule) = Schedule::parse(expr) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut after = now;
    while out.len() < count {
        let Some(next) = schedule.next_after(after, zone) else {
            break;
        };
        after = next.timestamp();
        out.push(next);
    }
    out
}

/// Print warnings on stderr (they never hold secret values).
pub fn warn(warnings: &[String]) {
    use std::io::Write;
    let mut err = anstream::stderr();
    for w in warnings {
        let _ = writeln!(err, "cronix: warning: {w}");
    }
}
