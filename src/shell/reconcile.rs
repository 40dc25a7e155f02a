//! Shared glue of plan, apply, drift, prune, list and show: resolve the target and operator settings,
//! load the manifest, read the installed state, compute the plan with the core, and execute it.
//!
//! Execution is the backend's (`Backend::execute`, in its own safe order, under the apply lock
//! taken here); this module records the intent before and the outcome after, op by op. Must not
//! format output (commands do) and has no dry-run switch: a plan that is only shown is never
//! passed to `execute`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::core::audit::{self as audit_core, AuditOp, AuditRecord, Intent};
use crate::core::backend_kind::BackendKind;
use crate::core::manifest::{self, Manifest};
use crate::core::plan::{self, Action, InstalledEntry, Plan, SpecFile};
use crate::core::schedule::Schedule;
use crate::core::scope::{self, ManifestSource, Scope};
use crate::core::target_checks::{self, Desired, TargetFacts};
use crate::error::{Failure, FailureKind};
use crate::settings::{Global, TargetFlags};
use crate::shell::backend::{self, Backend, CheckJob, Common, PreflightFor, Snapshot};
use crate::shell::config::{self, StatePaths};
use crate::shell::{audit, passwd, source, test_pause, trusted_path, tz};

/// Everything a reconciler command needs to know about where and as whom entries go.
#[derive(Debug)]
pub struct Context {
    /// The backend the command drives.
    pub backend: Box<dyn Backend>,
    /// Which backend that is, by name.
    pub backend_kind: BackendKind,
    pub trigger_bin: String,
    pub paths: StatePaths,
    /// The refs of a single-app host: `--secret-ref`, else the config's `secret_refs`.
    pub operator_refs: Vec<String>,
    /// Whether `--secret-ref` was given.
    pub flag_refs: bool,
    /// The config's `manifest_sources`: each app, its source and its refs.
    pub manifest_sources: Vec<ManifestSource>,
    pub allow_http_hosts: Vec<String>,
    /// The zone the scheduler fires in: the host's (cron, systemd), or the backend's own (Vercel
    /// fires in UTC).
    pub host_zone: jiff::tz::TimeZone,
    pub host_zone_name: String,
    /// The env file that resolves `env:` refs when a fetch is signed.
    pub env_file: Option<PathBuf>,
    /// The operator config file that was loaded (absolute), recorded in spec files for the shim.
    pub config_path: Option<String>,
    /// Whether global-scope jobs can work with the config's `locks.redis`, or why not.
    pub global_lock: Result<(), String>,
    /// How long apply and prune wait for another apply's lock.
    pub apply_lock_wait: std::time::Duration,
    /// Config `check_every`: apply keeps an owned `cronix check` entry at this interval.
    pub check_every: Option<String>,
    /// Config `spec_mode`: the permission bits of spec files.
    pub spec_mode: u32,
    /// How the manifest fetch reaches the app (config `http_proxy`, `tls_ca_file`).
    pub transport: crate::shell::http::Transport,
}

/// Resolve flags over the operator config over the defaults, and open the chosen backend.
pub fn context(global: &Global, args: &TargetFlags, kind: BackendKind) -> Result<Context, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    context_from(&loaded, global, args, kind)
}

/// `context` over a config already loaded (`doctor` goes on with the defaults when loading failed).
pub fn context_from(
    loaded: &config::Loaded,
    global: &Global,
    args: &TargetFlags,
    kind: BackendKind,
) -> Result<Context, Failure> {
    let config_path = loaded.path.as_ref().map(|p| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    });
    let cfg = &loaded.config;
    let mut paths = StatePaths::resolve(&args.paths, cfg);
    let trigger_bin = match args.trigger_bin.clone().or(cfg.trigger_bin.clone()) {
        Some(bin) => bin,
        None => crate::env::current_exe().map_err(|e| {
            Failure::backend(format!(
                "cannot find this binary's path ({e}); give --trigger-bin"
            ))
        })?,
    };
    let mut trigger_bin = path_text("trigger binary", "--trigger-bin", &trigger_bin)?;
    let common = |trigger_bin: &str, paths: &StatePaths| -> Result<Common, Failure> {
        Ok(Common {
            trigger_bin: trigger_bin.to_string(),
            spec_dir: path_text("spec dir", "--spec-dir", &paths.spec_dir)?,
            lock_dir: paths.lock_dir.clone(),
            otel: cfg.otel.as_ref().is_some_and(|o| o.render_in_entries),
        })
    };
    let mut backend = backend::open(kind, args, cfg, common(&trigger_bin, &paths)?)?;
    let spec_dir_given = args.paths.spec_dir.is_some() || cfg.spec_dir.is_some();
    let bin_given = args.trigger_bin.is_some() || cfg.trigger_bin.is_some();
    // A target whose fires run elsewhere records its own paths: nothing to look up here.
    if !(spec_dir_given && bin_given)
        && backend.fire_paths().is_none()
        && let Some(found) = recorded_settings(backend.as_ref())
    {
        if !spec_dir_given {
            paths.spec_dir = PathBuf::from(found.spec_dir);
        }
        if !bin_given {
            trigger_bin = found.trigger_bin;
        }
        backend = backend::open(kind, args, cfg, common(&trigger_bin, &paths)?)?;
    }
    let operator_refs = cfg.operator_secret_refs(&global.secret_refs);
    let host_zone = backend
        .scheduler_zone()
        .unwrap_or_else(crate::shell::tz::host_zone);
    let host_zone_name = host_zone.iana_name().unwrap_or("UTC").to_string();
    Ok(Context {
        backend,
        backend_kind: kind,
        trigger_bin,
        paths,
        operator_refs,
        flag_refs: !global.secret_refs.is_empty(),
        manifest_sources: cfg.manifest_sources.clone(),
        allow_http_hosts: cfg.allow_http_hosts.clone(),
        env_file: cfg.env_file.clone(),
        host_zone,
        host_zone_name,
        config_path,
        global_lock: cfg.global_lock(),
        apply_lock_wait: std::time::Duration::from_secs(
            cfg.apply_lock_wait_seconds
                .unwrap_or(config::DEFAULT_APPLY_LOCK_WAIT_SECONDS),
        ),
        check_every: cfg.check_every.clone(),
        spec_mode: cfg.spec_mode(),
        transport: cfg.transport(),
    })
}

/// The trigger binary and spec dir every installed entry names (`core::recorded`), for the settings
/// neither a flag nor the config gives. A target that cannot be read yet records nothing (the
/// command's own read reports why).
fn recorded_settings(backend: &dyn Backend) -> Option<crate::core::recorded::Recorded> {
    let snapshot = backend.read().ok()?;
    crate::core::recorded::agreed(snapshot.entries.iter().filter_map(|e| e.line.as_deref()))
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
    fn facts<'a>(
        &'a self,
        renderer: &'a dyn crate::core::render::Renderer,
        scope: &'a Scope,
        dirs: &'a [String; 3],
        job_zones: &'a BTreeMap<String, jiff::tz::TimeZone>,
    ) -> TargetFacts<'a> {
        // A target whose fires run elsewhere (a pod) records the paths there, and no config.
        let fire = self.backend.fire_paths();
        TargetFacts {
            renderer,
            trigger_bin: fire.map_or(self.trigger_bin.as_str(), |f| f.trigger_bin),
            spec_dir: fire.map_or(dirs[0].as_str(), |f| f.spec_dir),
            lock_dir: fire.map_or(dirs[1].as_str(), |f| f.lock_dir),
            state_dir: fire.map_or(dirs[2].as_str(), |f| f.state_dir),
            job_zones,
            now: jiff::Timestamp::now(),
            refs: scope,
            allow_http_hosts: &self.allow_http_hosts,
            config_path: match fire {
                Some(_) => None,
                None => self.config_path.as_deref(),
            },
            target: self.backend.target_id(),
            global_lock: self.global_lock.clone(),
            spec_mode: self.spec_mode,
            spec_group: self.spec_group(),
        }
    }

    /// The group spec files need so the user the fires run as can read them: that user's primary
    /// group, when it is not the user applying (root's own fires need none).
    fn spec_group(&self) -> Option<u32> {
        let (uid, gid) = passwd::ids_of(&self.backend.runs_as()?)?;
        (uid != rustix::process::geteuid().as_raw()).then_some(gid)
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
        refs_from: scope.refs_from.clone(),
        env_file: ctx.env_file.clone(),
        transport: ctx.transport.clone(),
    };
    let bytes = source::load(source_arg, &auth)?;
    let manifest = manifest::parse_owned(bytes, &tz::zone_exists).map_err(|problems| {
        Failure::invalid(format!(
            "manifest {shown}: invalid ({}), nothing was changed:\n{}",
            manifest::problem_count(problems.total()),
            manifest::issue_lines(&problems).join("\n")
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
    let mut errors = ctx.backend.preflight(PreflightFor::Apply).blocking;
    errors.extend(trust_problems(ctx));
    let dirs = ctx.dirs()?;
    let job_zones: BTreeMap<String, jiff::tz::TimeZone> = manifest
        .jobs
        .iter()
        .filter_map(|job| Some((job.timezone.clone(), tz::zone(&job.timezone)?)))
        .collect();
    let renderer = ctx.backend.renderer();
    // What is installed decides the single-app rule and what the scheduler hands a fire.
    let snapshot = ctx.backend.read()?;
    let scope = host_scope(&snapshot, loaded);
    match target_checks::desired_state(
        manifest,
        &ctx.facts(renderer.as_ref(), &scope, &dirs, &job_zones),
    ) {
        Ok(mut desired) if errors.is_empty() => {
            // Jobs a scheduler calls itself (vercel) sign nothing: their refs are never resolved.
            // Fires that run elsewhere (a pod) resolve their secrets there; the backend checks
            // what they will find (`install_conflicts`).
            if renderer.uses_spec_files() && ctx.backend.fire_paths().is_none() {
                let scheduler_env = ctx.backend.fire_env_names(&snapshot);
                desired
                    .warnings
                    .extend(dead_job_warnings(ctx, manifest, &scope, &scheduler_env));
            }
            return Ok(desired);
        }
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
        ctx.backend.describe(),
        errors.join("\n  ")
    )))
}

/// Jobs whose secret refs would all resolve to nothing when the scheduler fires them (a fire that
/// would exit 3 every time): named with each ref and the fix.
fn dead_job_warnings(
    ctx: &Context,
    manifest: &Manifest,
    scope: &Scope,
    scheduler_env: &BTreeSet<String>,
) -> Vec<String> {
    manifest
        .jobs
        .iter()
        .filter_map(|job| {
            let refs = if job.auth.secret_refs.is_empty() {
                &scope.allowed_refs
            } else {
                &job.auth.secret_refs
            };
            let gaps = crate::shell::secrets::fire_time_gaps(
                refs,
                ctx.env_file.as_deref(),
                scheduler_env,
            )?;
            let env_file = match &ctx.env_file {
                Some(path) => format!("the env file {}", path.display()),
                None => "an env file (config env_file; none is set)".to_string(),
            };
            Some(format!(
                "job {}: no secret reference would resolve when it fires ({}), so every fire would \
                 exit 3; a fire gets none of this shell's variables: put each env: variable in \
                 {env_file} (or a NAME=value line of the crontab), or make the file: refs exist",
                job.name,
                gaps.join("; ")
            ))
        })
        .collect()
}

/// The scope with the single-app rule settled: the `env:` refs a manifest's jobs name are honoured
/// only while the target holds no other app's entries (with several apps, one must not sign with
/// another's secret, so each app's refs need the operator's word).
fn host_scope(snapshot: &Snapshot, loaded: &LoadedManifest) -> Scope {
    let mut scope = loaded.scope.clone();
    if scope.job_env_refs {
        let others: BTreeSet<&str> = snapshot
            .entries
            .iter()
            .map(|e| e.app.as_str())
            .filter(|app| *app != loaded.manifest.app)
            .collect();
        scope.other_apps = others.into_iter().map(str::to_string).collect();
        scope.job_env_refs = scope.other_apps.is_empty();
    }
    scope
}

/// The uid the entries run as, when it is not root (a crontab's user column or user crontab): the
/// trigger binary may belong to that user too.
pub fn runs_as_uid(ctx: &Context) -> Option<u32> {
    ctx.backend
        .runs_as()
        .and_then(|user| passwd::uid_of(&user))
        .filter(|&uid| uid != 0)
}

/// The trigger binary by the binary rule of `trusted_path` (cron runs it at every fire, as root on
/// most hosts): `Ok(false)` when it is not installed yet and nobody else could put it there.
pub fn check_trigger_bin(ctx: &Context) -> Result<bool, String> {
    let bin = std::path::Path::new(&ctx.trigger_bin);
    let runs_as = runs_as_uid(ctx);
    trusted_path::check_binary_if_exists(bin, runs_as).map_err(|why| {
        let whom = ctx.backend.runs_as().unwrap_or_else(|| "root".to_string());
        format!(
            "trigger binary {} {why} (cron runs it as {whom} at every fire); give --trigger-bin \
             (or trigger_bin) a binary that only root can replace, such as /usr/local/bin/cronix",
            bin.display()
        )
    })
}

/// The operator's paths that entries depend on, by the trust rule, before anything is written: the
/// trigger binary and the lock dir (relative or odd paths are reported by `target_checks`).
fn trust_problems(ctx: &Context) -> Vec<String> {
    let mut problems = Vec::new();
    if ctx.trigger_bin.starts_with('/')
        && let Err(why) = check_trigger_bin(ctx)
    {
        problems.push(why);
    }
    if let Err(why) = trusted_path::check_lock_dir(&ctx.paths.lock_dir) {
        problems.push(format!("lock dir {} {why}", ctx.paths.lock_dir.display()));
    }
    problems
}

/// What is installed now: the backend's snapshot, and the app's spec files.
pub struct Installed {
    pub snapshot: Snapshot,
    pub specs: BTreeMap<String, SpecFile>,
}

impl Installed {
    /// The backend's entries (every app), in the order it read them.
    pub fn entries(&self) -> &[InstalledEntry] {
        &self.snapshot.entries
    }
}

pub fn installed(ctx: &Context, app: Option<&str>) -> Result<Installed, Failure> {
    let snapshot = ctx.backend.read()?;
    let specs = match app {
        Some(app) => ctx.backend.specs().read_app(app)?,
        None => BTreeMap::new(),
    };
    Ok(Installed { snapshot, specs })
}

fn plan_against(app: &str, desired: &Desired, installed: &Installed) -> Plan {
    plan::plan_apply(
        app,
        &desired.entries,
        &desired.specs,
        installed.entries(),
        &installed.specs,
    )
}

/// Objects in the way of the plan's creates: refused before anything is written.
fn refuse_conflicts(ctx: &Context, installed: &Installed, plan: &Plan) -> Result<(), Failure> {
    let conflicts = ctx.backend.install_conflicts(&installed.snapshot, plan);
    refuse_in_the_way(ctx, &conflicts, FailureKind::Invalid)
}

/// Refuse before any write when a foreign object stands where the owned `cronix check` job goes.
fn refuse_check_conflicts(ctx: &Context, check: Option<&CheckJob>) -> Result<(), Failure> {
    refuse_in_the_way(
        ctx,
        &ctx.backend.check_conflicts(check),
        FailureKind::Backend,
    )
}

/// One failure naming every object in the way, when there is any.
fn refuse_in_the_way(
    ctx: &Context,
    conflicts: &[String],
    kind: FailureKind,
) -> Result<(), Failure> {
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        kind,
        format!(
            "cannot apply to {}, nothing was changed:\n  {}",
            ctx.backend.describe(),
            conflicts.join("\n  ")
        ),
    ))
}

/// The plan for a manifest (read only, no lock) and the desired state it came from (warnings and
/// time-zone reports to show).
pub fn plan(ctx: &Context, loaded: &LoadedManifest) -> Result<(Plan, Desired), Failure> {
    let manifest = &loaded.manifest;
    let mut desired = desired(ctx, loaded)?;
    let installed = installed(ctx, Some(&manifest.app))?;
    let hazards = ctx
        .backend
        .hazards(&installed.snapshot, &manifest.app, &job_names(manifest));
    desired
        .warnings
        .extend(hazards.iter().map(|h| format!("apply would refuse: {h}")));
    let check = wanted_check(ctx)?;
    let plan = plan_against(&manifest.app, &desired, &installed).with_check(check_op(
        ctx,
        &installed,
        check.as_ref(),
    )?);
    refuse_conflicts(ctx, &installed, &plan)?;
    Ok((plan, desired))
}

/// The owned `cronix check` job config `check_every` asks for, if any.
fn wanted_check(ctx: &Context) -> Result<Option<CheckJob>, Failure> {
    match &ctx.check_every {
        Some(every) => check_job(ctx, every).map(Some),
        None => Ok(None),
    }
}

/// The plan op of the target's `cronix check` job: installed as `check` wants, or removed when no
/// check is wanted (a backend without such a job plans none).
fn check_op(
    ctx: &Context,
    installed: &Installed,
    check: Option<&CheckJob>,
) -> Result<Option<plan::Op>, Failure> {
    let want = check.and_then(|c| ctx.backend.check_artifact(c));
    let have = ctx.backend.installed_check(&installed.snapshot)?;
    Ok(plan::check_op(want.as_deref(), have.as_deref()))
}

fn job_names(manifest: &Manifest) -> Vec<&str> {
    manifest.jobs.iter().map(|j| j.name.as_str()).collect()
}

/// Refuse, naming every line, when the guards found anything.
pub fn refuse_on(ctx: &Context, hazards: &[String]) -> Result<(), Failure> {
    if hazards.is_empty() {
        return Ok(());
    }
    Err(Failure::invalid(format!(
        "{} has lines cronix will not write next to, nothing was changed:\n  {}",
        ctx.backend.describe(),
        hazards.join("\n  ")
    )))
}

/// Apply a manifest: check it, take the lock, clean a crashed run's temp files, plan against what is
/// installed now, execute, and record the change. An empty plan writes nothing. Returns the plan
/// executed and the desired state (warnings and time-zone reports to show).
pub fn apply(ctx: &Context, loaded: &LoadedManifest) -> Result<(Plan, Desired), Failure> {
    let manifest = &loaded.manifest;
    let desired = desired(ctx, loaded)?;
    let check = wanted_check(ctx)?;
    let _lock = ctx.backend.lock(ctx.apply_lock_wait)?;
    clean_leftovers(ctx, &[manifest.app.as_str()])?;
    let installed = installed(ctx, Some(&manifest.app))?;
    settle_interrupted(ctx, &installed)?;
    refuse_on(
        ctx,
        &ctx.backend
            .hazards(&installed.snapshot, &manifest.app, &job_names(manifest)),
    )?;
    refuse_check_conflicts(ctx, check.as_ref())?;
    let plan = plan_against(&manifest.app, &desired, &installed).with_check(check_op(
        ctx,
        &installed,
        check.as_ref(),
    )?);
    refuse_conflicts(ctx, &installed, &plan)?;
    if plan.is_empty() {
        return Ok((plan, desired));
    }
    let record = audit_record(
        ctx,
        "apply",
        Some(loaded.source.as_str()),
        Some(manifest::digest(manifest)),
        &plan,
    );
    execute_recorded(ctx, &installed, &plan, record)?;
    Ok((plan, desired))
}

/// The plan that removes owned entries (of `app` only, when given) from this target, and the spec
/// files of this target: those that record it (including those a crashed prune left behind after their
/// entries were gone), and format-1 specs that record no target when this target holds an entry of
/// their job (or, with `--app`, of their app). A spec recorded for another target is never removed.
pub fn prune_plan(ctx: &Context, app: Option<&str>) -> Result<(Installed, Plan), Failure> {
    let installed = installed(ctx, None)?;
    let target = ctx.backend.target_id();
    let in_target: BTreeSet<(String, String)> = installed
        .entries()
        .iter()
        .map(|e| (e.app.clone(), e.job.clone()))
        .collect();
    let place = ctx.backend.specs();
    let specs: BTreeSet<(String, String)> = place
        .list()?
        .into_iter()
        .filter(|(a, _)| app.is_none_or(|want| want == a))
        .filter(|(a, j)| match place.recorded_target(a, j) {
            Some(recorded) => recorded == target,
            None => app.is_some() || in_target.contains(&(a.clone(), j.clone())),
        })
        .collect();
    let plan = plan::plan_prune(app, installed.entries(), &specs);
    Ok((installed, plan))
}

/// Prune under the apply lock, re-planned against what is installed at that moment.
pub fn prune(ctx: &Context, app: Option<&str>) -> Result<Plan, Failure> {
    let _lock = ctx.backend.lock(ctx.apply_lock_wait)?;
    let (installed, plan) = prune_plan(ctx, app)?;
    settle_interrupted(ctx, &installed)?;
    let apps: Vec<&str> = plan.ops.iter().map(|o| o.app.as_str()).collect();
    clean_leftovers(ctx, &apps)?;
    if plan.is_empty() {
        return Ok(plan);
    }
    let record = audit_record(ctx, "prune", None, None, &plan);
    execute_recorded(ctx, &installed, &plan, record)?;
    Ok(plan)
}

/// The owned `cronix check` job that config `check_every` asks for, from validated parts only.
fn check_job(ctx: &Context, every: &str) -> Result<CheckJob, Failure> {
    let schedule = config::check_every_schedule(every)
        .map_err(|why| Failure::invalid(format!("config check_every {every:?}: {why}")))?;
    let config = ctx.config_path.clone().unwrap_or_default();
    let [spec_dir, _, state_dir] = ctx.dirs()?;
    for (what, path) in [
        ("config file", config.as_str()),
        ("trigger binary", ctx.trigger_bin.as_str()),
        ("spec dir", spec_dir.as_str()),
        ("state dir", state_dir.as_str()),
    ] {
        if !target_checks::is_safe_path(path) {
            return Err(Failure::invalid(format!(
                "check_every: the {what} {path:?} cannot go on a crontab line or in a unit \
                 (absolute paths of [A-Za-z0-9/._-] only); move it or remove check_every"
            )));
        }
    }
    Ok(CheckJob {
        schedule,
        bin: ctx.trigger_bin.clone(),
        config,
        spec_dir,
        state_dir,
    })
}

/// Undo what a crashed apply of `apps` left half done (the backend's temp files and specs).
pub fn clean_leftovers(ctx: &Context, apps: &[&str]) -> Result<(), Failure> {
    ctx.backend.recover(apps)
}

/// Record the intent, execute the plan, and append its record: the intent is durable before the target
/// changes and removed after the record is, so a process killed in between leaves it for the next run
/// (`settle_interrupted`). An execution that stopped part way is recorded as what happened: outcome
/// `failed` when nothing was made, `partial` with each op's `done` when some was.
pub fn execute_recorded(
    ctx: &Context,
    installed: &Installed,
    plan: &Plan,
    record: AuditRecord,
) -> Result<(), Failure> {
    let state_dir = &ctx.paths.state_dir;
    let mut journal = audit::open(state_dir)?;
    let target = record.target.clone();
    audit::begin(
        state_dir,
        &Intent::of(record.clone(), plan, installed.entries()),
    )?;
    test_pause::at("intent_written");
    let executed = ctx.backend.execute(&installed.snapshot, plan);
    match executed.failure {
        None => {
            test_pause::at("executed");
            journal.append(&record)?;
            audit::finish(state_dir, &target)
        }
        Some(failure) => {
            let failed = audit_core::stopped(record, &executed.done);
            // The intent stays when the failure cannot be recorded: the next run records it.
            if journal.append(&failed).is_ok() {
                let _ = audit::finish(state_dir, &target);
            }
            Err(failure)
        }
    }
}

/// Append the record of a change whose process died after writing its intent (under the apply
/// lock, before this run changes anything), marked by whether the target holds that change.
pub fn settle_interrupted(ctx: &Context, installed: &Installed) -> Result<(), Failure> {
    let state_dir = &ctx.paths.state_dir;
    let target = ctx.backend.target_id();
    let Some(intent) = audit::pending(state_dir, &target)? else {
        return Ok(());
    };
    audit::append(state_dir, &intent.settle(installed.entries()))?;
    audit::finish(state_dir, &target)
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
        sudo_user: crate::env::sudo_user(),
        source: source.map(source::shown),
        digest,
        target: ctx.backend.target_id(),
        ops: plan
            .ops
            .iter()
            .map(|op| AuditOp {
                op: action_name(op.op).to_string(),
                kind: match op.kind {
                    plan::Subject::Entry => "entry",
                    plan::Subject::Spec => "spec",
                    plan::Subject::Check => "check",
                }
                .to_string(),
                app: op.app.clone(),
                job: op.job.clone(),
                idx: op.idx,
                done: None,
            })
            .collect(),
        outcome: None,
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

/// Print warnings on stderr (they never hold secret values), escaped by the printer.
pub fn warn(warnings: &[String]) {
    crate::printer::warn(warnings);
}
