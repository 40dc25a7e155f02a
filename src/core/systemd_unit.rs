//! The systemd-timer backend's units as text: the `cronix-<app>-<job>-<idx>.timer` and `.service`
//! pair of one entry (or `cronix-<app>_<job>-<idx>` when another owns that name: `entry_stem`), their
//! ownership marks (`X-Cronix-App=`, `X-Cronix-Job=`, `X-Cronix-Index=`,
//! `X-Cronix-Hash=` in `[Unit]`), unit-name rules, and the renderer.
//!
//! Pure. An entry's artifact is the timer then the service, each opening with a `# cronix unit NAME`
//! line, without the hash line (the hash covers the artifact; `shell::systemd_backend` inserts it
//! when writing). Only validated parts reach a unit: parsed schedules, zone names from the tz
//! database, names, absolute paths of `[A-Za-z0-9/._-]` and credential names. No secret ever does.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::core::backoff;
use crate::core::manifest::{Concurrency, Job, is_identifier};
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::secret::SecretRef;
use crate::core::systemd_calendar::{self, ExtraWindow};
use crate::core::target_checks::is_safe_path;

/// Every cronix unit's name starts with this.
pub const UNIT_PREFIX: &str = "cronix-";
/// The first line of every unit cronix writes starts with this, then the unit's name.
pub const HEADER_PREFIX: &str = "# cronix unit ";
/// Longest unit name systemd accepts, suffix included.
const MAX_UNIT_NAME: usize = 255;
/// The exit status of a fire whose overlap lock is held (`Forbid`): not a unit failure.
const LOCK_CONTENDED_EXIT: u8 = crate::core::exit_status::ExitStatus::FIRE_CONTENDED.0;
/// Seconds a fire may take beyond its attempts and waits: start-up, secrets, history.
const FIRE_MARGIN_SECONDS: u64 = 60;

/// The ownership marks of one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    pub app: String,
    pub job: String,
    pub idx: usize,
    pub hash: String,
}

/// `cronix-<app>-<job>-<idx>` (the timer and service add their suffix).
pub fn unit_stem(app: &str, job: &str, idx: usize) -> String {
    format!("{UNIT_PREFIX}{app}-{job}-{idx}")
}

/// `cronix-<app>_<job>-<idx>`: no app or job name holds a `_`, so the name says where the app ends
/// (`cronix-a-b-c-0` is both app `a` job `b-c` and app `a-b` job `c`; `cronix-a_b-c-0` is only the
/// first). No reference name holds a `_` either, so no other entry's units can ever have this name.
pub fn unambiguous_stem(app: &str, job: &str, idx: usize) -> String {
    format!("{UNIT_PREFIX}{app}_{job}-{idx}")
}

/// Who holds each cronix-named unit file of the unit dir: its name → the `(app, job, idx)` its marks
/// name, or `None` for a unit without them (foreign).
pub type UnitOwners = BTreeMap<String, Option<(String, String, usize)>>;

/// The stem of an entry's units: the reference's `cronix-<app>-<job>-<idx>`, unless a unit of that
/// name belongs to anything but this entry (another app's job, a foreign unit) or this entry's units
/// already have the unambiguous name; then `unambiguous_stem`. So an app can never take, replace or
/// keep out another app's units by the choice of its name, and names match the reference's wherever
/// no clash exists.
pub fn entry_stem(app: &str, job: &str, idx: usize, owners: &UnitOwners) -> String {
    let me = (app.to_string(), job.to_string(), idx);
    let holders = |stem: &str| {
        ["timer", "service"]
            .into_iter()
            .filter_map(|suffix| owners.get(&format!("{stem}.{suffix}")))
            .collect::<Vec<_>>()
    };
    let unambiguous = unambiguous_stem(app, job, idx);
    if holders(&unambiguous)
        .iter()
        .any(|o| o.as_ref() == Some(&me))
    {
        return unambiguous;
    }
    let plain = unit_stem(app, job, idx);
    if holders(&plain).iter().any(|o| o.as_ref() != Some(&me)) {
        unambiguous
    } else {
        plain
    }
}

/// Whether `name` is a unit name systemd accepts for a plain (non-template) unit: at most 255
/// bytes of `[A-Za-z0-9:_.\-]` with a `.timer` or `.service` suffix and a non-empty stem.
pub fn is_unit_name(name: &str) -> bool {
    let stem = name
        .strip_suffix(".timer")
        .or_else(|| name.strip_suffix(".service"));
    name.len() <= MAX_UNIT_NAME
        && stem.is_some_and(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":_.-\\".contains(&b))
        })
}

/// The marks in a unit's `[Unit]` section; `None` unless all four are there and well formed.
pub fn parse_marks(text: &str) -> Option<Marks> {
    let mut section = "";
    let (mut app, mut job, mut idx, mut hash) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[Unit]" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "X-Cronix-App" => app = Some(value.trim()),
            "X-Cronix-Job" => job = Some(value.trim()),
            "X-Cronix-Index" => idx = Some(value.trim()),
            "X-Cronix-Hash" => hash = Some(value.trim()),
            _ => {}
        }
    }
    let (app, job, idx, hash) = (app?, job?, idx?, hash?);
    let hash_ok = hash.len() == 16
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_identifier(app) || !is_identifier(job) || !hash_ok {
        return None;
    }
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Marks {
        app: app.to_string(),
        job: job.to_string(),
        idx: idx.parse().ok()?,
        hash: hash.to_string(),
    })
}

/// A unit's text without its `X-Cronix-Hash=` line: what the artifact compares.
pub fn without_hash(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| !l.trim_start().starts_with("X-Cronix-Hash="))
        .collect()
}

/// A unit's text with the hash line inserted after `X-Cronix-Index=`.
pub fn with_hash(text: &str, hash: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("X-Cronix-Index=") {
            out.push_str(&format!("X-Cronix-Hash={hash}\n"));
        }
    }
    out
}

/// The units of an artifact: `(name, text)` in order, split at the header lines.
pub fn split_artifact(artifact: &str) -> Vec<(String, String)> {
    let mut units: Vec<(String, String)> = Vec::new();
    for line in artifact.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(HEADER_PREFIX) {
            let name = rest
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            units.push((name, String::new()));
        }
        if let Some((_, text)) = units.last_mut() {
            text.push_str(line);
        }
    }
    units
}

/// The `OnCalendar=` values of an artifact's timer.
pub fn calendar_values(artifact: &str) -> Vec<String> {
    artifact
        .lines()
        .filter_map(|l| l.strip_prefix("OnCalendar="))
        .map(str::to_string)
        .collect()
}

/// The spec dir an artifact's `ExecStart=` passes to the shim.
pub fn spec_dir_of(artifact: &str) -> Option<String> {
    let exec = artifact
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))?;
    let words: Vec<&str> = exec.split_ascii_whitespace().collect();
    let at = words.iter().position(|w| *w == "--spec-dir")?;
    words.get(at + 1).map(|w| (*w).to_string())
}

/// What every unit of a systemd target shares.
#[derive(Debug, Clone)]
pub struct SystemdRenderer<'a> {
    pub trigger_bin: &'a str,
    pub spec_dir: &'a str,
    pub unit_dir: &'a str,
    /// Where `cred:NAME` finds `NAME.cred`.
    pub credstore_dir: &'a str,
    /// `Persistent=true`: a fire missed while the host was down runs once at boot.
    pub catch_up: bool,
    /// `trigger --otel` in every `ExecStart=` (config `otel.render_in_entries`).
    pub otel: bool,
    /// Who holds the unit names in the unit dir now (`entry_stem` picks each entry's name from it).
    pub owners: &'a UnitOwners,
}

impl Renderer for SystemdRenderer<'_> {
    fn check_target(&self) -> Vec<String> {
        [
            ("unit dir", "--systemd-unit-dir", self.unit_dir),
            (
                "credential store",
                "systemd_credstore_dir in cronix.yaml",
                self.credstore_dir,
            ),
        ]
        .into_iter()
        .filter(|(_, _, path)| !is_safe_path(path))
        .map(|(what, flag, path)| {
            format!(
                "{what} {path:?}: a unit may only name absolute paths of [A-Za-z0-9/._-]; give \
                 {flag} such a path"
            )
        })
        .collect()
    }

    fn check_job(&self, input: &JobInput) -> Vec<String> {
        let last = input.schedules.len().saturating_sub(1);
        let longest = format!(
            "{}.service",
            entry_stem(input.app, &input.job.name, last, self.owners)
        );
        if is_unit_name(&longest) {
            return Vec::new();
        }
        vec![format!(
            "job {}: unit name {longest} is not a name systemd accepts (at most {MAX_UNIT_NAME} \
             bytes); shorten the app or job name",
            input.job.name
        )]
    }

    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        let window = ExtraWindow::for_apply_at(input.now);
        input
            .schedules
            .iter()
            .enumerate()
            .map(|(idx, schedule)| {
                let values = systemd_calendar::on_calendar(
                    schedule,
                    input.zone,
                    &input.job.timezone,
                    &window,
                );
                let base = systemd_calendar::base_values(schedule, &input.job.timezone).len();
                let stem = entry_stem(input.app, &input.job.name, idx, self.owners);
                let timer = self.timer(input, idx, &stem, schedule.source(), &values);
                let service = self.service(input, idx, &stem);
                let extra = values.len() - base;
                let mut shown = values[..base].join(" | ");
                if extra > 0 {
                    shown.push_str(&format!(" (+{extra} DST value{})", plural(extra)));
                }
                Rendered {
                    line: format!("{timer}{service}"),
                    shown,
                    gate_wakeups_per_day: None,
                }
            })
            .collect()
    }

    fn starts_overlapping_fires(&self) -> bool {
        false
    }
}

impl SystemdRenderer<'_> {
    fn marks(input: &JobInput, idx: usize) -> String {
        format!(
            "X-Cronix-App={}\nX-Cronix-Job={}\nX-Cronix-Index={idx}\n",
            input.app, input.job.name
        )
    }

    fn timer(
        &self,
        input: &JobInput,
        idx: usize,
        stem: &str,
        source: &str,
        values: &[String],
    ) -> String {
        let calendar: String = values.iter().map(|v| format!("OnCalendar={v}\n")).collect();
        format!(
            "{HEADER_PREFIX}{stem}.timer: written by cronix apply; hand edits show in cronix drift\n\
             [Unit]\n\
             Description=cronix {app}.{job} schedule {idx}: {source} ({zone})\n\
             {marks}\n\
             [Timer]\n\
             Unit={stem}.service\n\
             {calendar}\
             AccuracySec=1s\n\
             RandomizedDelaySec=0\n\
             Persistent={persistent}\n\
             \n\
             [Install]\n\
             WantedBy=timers.target\n",
            app = input.app,
            job = input.job.name,
            zone = input.job.timezone,
            marks = Self::marks(input, idx),
            persistent = self.catch_up,
        )
    }

    fn service(&self, input: &JobInput, idx: usize, stem: &str) -> String {
        let credentials: String = credential_names(input.secret_refs)
            .iter()
            .map(|name| {
                format!(
                    "LoadCredentialEncrypted={name}:{}/{name}.cred\n",
                    self.credstore_dir
                )
            })
            .collect();
        format!(
            "{HEADER_PREFIX}{stem}.service: written by cronix apply; hand edits show in cronix drift\n\
             [Unit]\n\
             Description=cronix {app}.{job} fire (schedule {idx})\n\
             {marks}\n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart={bin} trigger --spec-dir {spec_dir} {otel}{app}.{job}\n\
             TimeoutStartSec={timeout}\n\
             SuccessExitStatus={LOCK_CONTENDED_EXIT}\n\
             {credentials}",
            app = input.app,
            job = input.job.name,
            marks = Self::marks(input, idx),
            bin = self.trigger_bin,
            spec_dir = self.spec_dir,
            otel = if self.otel { "--otel " } else { "" },
            timeout = worst_case_fire_seconds(input.job),
        )
    }
}

/// The stem of the owned `cronix check` timer and service (config `check_every`); no entry's unit can
/// have it (theirs end in `-<job>-<idx>`).
pub const CHECK_STEM: &str = "cronix-check";
/// The mark of the check units, with the hash of their text: `X-Cronix-Check=<16 hex>`.
pub const CHECK_MARK: &str = "X-Cronix-Check=";

/// What the check timer and service run and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUnits<'a> {
    /// The `OnCalendar=` values (of an `@every` schedule, in UTC).
    pub calendar: &'a [String],
    pub bin: &'a str,
    pub config: &'a str,
    pub spec_dir: &'a str,
    pub state_dir: &'a str,
}

impl CheckUnits<'_> {
    /// `(name, text)` of the timer and the service, each marked with the hash of both texts. The
    /// output goes nowhere (alerts tell people), as on the crontab entry.
    pub fn render(&self) -> Vec<(String, String)> {
        let calendar: String = self
            .calendar
            .iter()
            .map(|v| format!("OnCalendar={v}\n"))
            .collect();
        let timer = format!(
            "{HEADER_PREFIX}{CHECK_STEM}.timer: written by cronix apply for check_every\n\
             [Unit]\n\
             Description=cronix check: missed fires\n\
             {CHECK_MARK}\n\
             [Timer]\n\
             Unit={CHECK_STEM}.service\n\
             {calendar}\
             AccuracySec=1s\n\
             \n\
             [Install]\n\
             WantedBy=timers.target\n"
        );
        let service = format!(
            "{HEADER_PREFIX}{CHECK_STEM}.service: written by cronix apply for check_every\n\
             [Unit]\n\
             Description=cronix check: missed fires\n\
             {CHECK_MARK}\n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart={bin} --config {config} check --spec-dir {spec_dir} --state-dir {state_dir}\n\
             StandardOutput=null\n",
            bin = self.bin,
            config = self.config,
            spec_dir = self.spec_dir,
            state_dir = self.state_dir,
        );
        let digest = Sha256::digest(format!("{timer}{service}").as_bytes());
        let digest = &hex::encode(digest)[..16];
        let marked = |text: String| {
            text.replace(
                &format!("{CHECK_MARK}\n"),
                &format!("{CHECK_MARK}{digest}\n"),
            )
        };
        vec![
            (format!("{CHECK_STEM}.timer"), marked(timer)),
            (format!("{CHECK_STEM}.service"), marked(service)),
        ]
    }
}

/// Whether a unit's text carries the check mark in its `[Unit]` section.
pub fn is_check_unit(text: &str) -> bool {
    let mut section = "";
    text.lines().map(str::trim).any(|line| {
        if line.starts_with('[') {
            section = line;
        }
        section == "[Unit]" && line.starts_with(CHECK_MARK)
    })
}

/// The `cred:` names among the references, in order, each once.
pub fn credential_names(refs: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in refs {
        if let Ok(SecretRef::Cred(name)) = SecretRef::parse(r)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// The longest a fire can take: every attempt's timeout, the longest wait between attempts, the
/// wait for a `Replace` holder to stop, and a margin — so systemd never cuts retries short.
pub fn worst_case_fire_seconds(job: &Job) -> u64 {
    let policy = &job.policy;
    let timeout = u64::from(policy.timeout_seconds);
    let replace = match policy.concurrency {
        Concurrency::Replace => (timeout / 2).max(5),
        _ => 0,
    };
    backoff::worst_case_fire(policy).as_secs() + replace + FIRE_MARGIN_SECONDS
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry's identity as the tests write it.
    type Id<'a> = (&'a str, &'a str, usize);

    fn owners(held: &[(&str, Option<Id<'_>>)]) -> UnitOwners {
        held.iter()
            .flat_map(|(stem, owner)| {
                let owner = owner.map(|(a, j, i)| (a.to_string(), j.to_string(), i));
                ["timer", "service"].map(|s| (format!("{stem}.{s}"), owner.clone()))
            })
            .collect()
    }

    #[test]
    fn an_app_whose_name_joins_like_another_apps_never_gets_or_blocks_its_units() {
        // App `a-b` job `c` holds the name app `a` job `b-c` would have: `a` gets the other name.
        let held = owners(&[("cronix-a-b-c-0", Some(("a-b", "c", 0)))]);
        assert_eq!(entry_stem("a", "b-c", 0, &held), "cronix-a_b-c-0");
        assert_eq!(entry_stem("a-b", "c", 0, &held), "cronix-a-b-c-0");
        // And the other way round.
        let held = owners(&[("cronix-a-b-c-0", Some(("a", "b-c", 0)))]);
        assert_eq!(entry_stem("a-b", "c", 0, &held), "cronix-a-b_c-0");
        assert_eq!(entry_stem("a", "b-c", 0, &held), "cronix-a-b-c-0");
        // A foreign unit in the way is never taken either.
        let held = owners(&[("cronix-a-b-c-0", None)]);
        assert_eq!(entry_stem("a", "b-c", 0, &held), "cronix-a_b-c-0");
        // Without a clash the name is the reference's.
        let none = UnitOwners::new();
        assert_eq!(
            entry_stem("billing-service", "settle", 1, &none),
            "cronix-billing-service-settle-1"
        );
        // An entry keeps the unambiguous name it has once the clash is gone (no rename churn).
        let held = owners(&[("cronix-a_b-c-0", Some(("a", "b-c", 0)))]);
        assert_eq!(entry_stem("a", "b-c", 0, &held), "cronix-a_b-c-0");
    }

    #[test]
    fn unambiguous_names_are_one_per_entry_and_never_a_reference_name() {
        let names = ["a", "a-b", "a-b-c", "b", "b-c", "c", "c-0", "c-1"];
        let mut unambiguous = std::collections::BTreeMap::new();
        let mut plain = std::collections::BTreeSet::new();
        for app in names {
            for job in names {
                for idx in 0..3 {
                    let stem = unambiguous_stem(app, job, idx);
                    assert!(is_unit_name(&format!("{stem}.service")));
                    if let Some(other) = unambiguous.insert(stem.clone(), (app, job, idx)) {
                        panic!("{stem} is both {other:?} and {:?}", (app, job, idx));
                    }
                    plain.insert(unit_stem(app, job, idx));
                }
            }
        }
        assert!(unambiguous.keys().all(|s| !plain.contains(s)));
        assert!(
            plain.len() < unambiguous.len(),
            "the reference's names do clash (the reason for the other name)"
        );
    }

    #[test]
    fn unit_names_follow_systemds_rules() {
        assert!(is_unit_name("cronix-billing-settle-0.timer"));
        assert!(is_unit_name("cronix-billing-settle-12.service"));
        assert!(!is_unit_name("cronix-a b-0.timer"));
        assert!(!is_unit_name("cronix-a-0.socket"));
        assert!(!is_unit_name(".timer"));
        assert!(!is_unit_name(&format!("{}.timer", "a".repeat(250))));
    }

    #[test]
    fn marks_need_all_four_keys_in_the_unit_section() {
        let unit = "[Unit]\nX-Cronix-App=a\nX-Cronix-Job=j\nX-Cronix-Index=2\nX-Cronix-Hash=0123456789abcdef\n";
        assert_eq!(
            parse_marks(unit),
            Some(Marks {
                app: "a".into(),
                job: "j".into(),
                idx: 2,
                hash: "0123456789abcdef".into()
            })
        );
        assert_eq!(parse_marks(&unit.replace("X-Cronix-Hash", "X-Other")), None);
        assert_eq!(parse_marks(&unit.replace("[Unit]", "[Service]")), None);
        assert_eq!(parse_marks(&unit.replace("=a\n", "=A\n")), None);
    }

    #[test]
    fn the_hash_line_goes_in_after_the_index_and_comes_out_again() {
        let text = "[Unit]\nX-Cronix-Index=0\n\n[Timer]\n";
        let sealed = with_hash(text, "0123456789abcdef");
        assert!(sealed.contains("X-Cronix-Index=0\nX-Cronix-Hash=0123456789abcdef\n"));
        assert_eq!(without_hash(&sealed), text);
    }

    #[test]
    fn an_artifact_splits_into_its_units_at_the_header_lines() {
        let artifact = format!("{HEADER_PREFIX}x.timer: w\nA\n{HEADER_PREFIX}x.service: w\nB\n");
        let units = split_artifact(&artifact);
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].0, "x.timer");
        assert_eq!(
            units[1],
            (
                "x.service".to_string(),
                format!("{HEADER_PREFIX}x.service: w\nB\n")
            )
        );
    }
}
