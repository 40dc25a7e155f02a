//! Hand-written `cronix trigger` lines in a crontab: find them, pair them with a job's schedules by fire
//! set (`*/15` is `0,15,30,45`), and say when an apply would make a job fire twice or when a file
//! without a user column is being read as a system crontab.
//!
//! Pure and crontab-specific: parsed crontab blocks and desired entries in, findings and plans out. It
//! must not read files or decide exit codes; `commands::adopt` and the reconcile glue do that.

use crate::core::change_view;
use crate::core::crontab::{Block, Crontab};
use crate::core::manifest::{is_identifier, split_job_id};
use crate::core::plan::{Action, DesiredEntry, DriftKind, Op, Plan, Subject};
use crate::core::schedule::{DayRule, Schedule};

/// A crontab line, not owned by cronix, that runs `<any path>/cronix trigger [flags] APP.JOB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerLine {
    /// Index of its block in the parsed crontab.
    pub at: usize,
    /// Line number in the file, from 1.
    pub line_no: usize,
    /// The line as read (without its terminator).
    pub text: String,
    /// The schedule part: five fields joined by single spaces, or an `@` keyword.
    pub schedule: String,
    /// The user column, when the line has one.
    pub user: Option<String>,
    pub app: String,
    pub job: String,
}

/// One problem of a crontab line, with where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line_no: usize,
    pub text: String,
    pub message: String,
}

impl Finding {
    /// `line N: `TEXT`: MESSAGE`.
    pub fn describe(&self) -> String {
        format!("line {}: `{}`: {}", self.line_no, self.text, self.message)
    }
}

/// Whether a command word is the cronix binary: `cronix` or any path ending in `/cronix`.
fn is_cronix_bin(word: &str) -> bool {
    word == "cronix" || word.ends_with("/cronix")
}

/// The first line number of every block.
fn line_numbers(crontab: &Crontab) -> Vec<usize> {
    let mut next = 1;
    crontab
        .blocks
        .iter()
        .map(|block| {
            let first = next;
            next += block.raw().split_inclusive(|&b| b == b'\n').count().max(1);
            first
        })
        .collect()
}

/// A line without its `\n` and a `\r` before it, if it is UTF-8.
fn text_of(raw: &[u8]) -> Option<&str> {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    std::str::from_utf8(line.strip_suffix(b"\r").unwrap_or(line)).ok()
}

/// Split an entry line into its schedule and the words after it.
fn schedule_and_rest(words: &[&str]) -> Option<(String, usize)> {
    let first = words.first()?;
    if first.starts_with('@') {
        return Some(((*first).to_string(), 1));
    }
    if words.len() < 6 || words[..5].iter().any(|w| w.contains('=')) {
        return None;
    }
    Some((words[..5].join(" "), 5))
}

/// Read one line as a trigger line: schedule, optional user column, the cronix binary, `trigger`,
/// flags, and the first word after `trigger` that is an `APP.JOB`.
fn parse_trigger_line(text: &str) -> Option<(String, Option<String>, String, String)> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let words: Vec<&str> = trimmed.split_ascii_whitespace().collect();
    let (schedule, start) = schedule_and_rest(&words)?;
    let rest = &words[start..];
    let (user, command) = match rest {
        [bin, ..] if is_cronix_bin(bin) => (None, rest),
        [user, bin, ..] if is_cronix_bin(bin) => (Some((*user).to_string()), &rest[1..]),
        _ => return None,
    };
    if command.get(1) != Some(&"trigger") {
        return None;
    }
    let id = command[2..].iter().find(|w| {
        w.split_once('.')
            .is_some_and(|(a, j)| is_identifier(a) && is_identifier(j))
    })?;
    let (app, job) = split_job_id(id).ok()?;
    Some((schedule, user, app.to_string(), job.to_string()))
}

/// Every unmarked line of the crontab that runs `cronix trigger` for some job, in file order.
pub fn trigger_lines(crontab: &Crontab) -> Vec<TriggerLine> {
    let numbers = line_numbers(crontab);
    crontab
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(at, block)| {
            let Block::Foreign(raw) = block else {
                return None;
            };
            let text = text_of(raw)?;
            let (schedule, user, app, job) = parse_trigger_line(text)?;
            Some(TriggerLine {
                at,
                line_no: numbers[at],
                text: text.to_string(),
                schedule,
                user,
                app,
                job,
            })
        })
        .collect()
}

/// Unmarked trigger lines for jobs of `app` that the manifest declares (`jobs`): applying next to
/// them would fire each job twice. Each finding names the fix.
pub fn double_fires(crontab: &Crontab, app: &str, jobs: &[&str]) -> Vec<Finding> {
    trigger_lines(crontab)
        .into_iter()
        .filter(|t| t.app == app && jobs.contains(&t.job.as_str()))
        .map(|t| Finding {
            message: format!(
                "runs job {app}.{} without a cronix marker, so an apply would make it fire twice; \
                 take it over with `cronix adopt {app}.{} --manifest SOURCE`, or remove the line",
                t.job, t.job
            ),
            line_no: t.line_no,
            text: t.text,
        })
        .collect()
}

/// In a system-format crontab (a user column expected): cronix lines whose user column is missing or
/// is a path, as the reference tool writes user crontabs. cron would read the binary as the user.
pub fn missing_user_columns(crontab: &Crontab) -> Vec<Finding> {
    let numbers = line_numbers(crontab);
    let hint = "has no user column, so cron would take the command for a user name; this looks like \
                a user crontab: give --crontab-format user (or crontab_format: user in the config)";
    let mut found = Vec::new();
    for (at, block) in crontab.blocks.iter().enumerate() {
        let text = match block {
            Block::Owned(entry) => entry.line.as_str(),
            Block::Foreign(raw) => match text_of(raw) {
                Some(text) if parse_trigger_line(text).is_some() => text,
                _ => continue,
            },
            Block::OrphanMarker { .. } => continue,
        };
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        let Some((_, start)) = schedule_and_rest(&words) else {
            continue;
        };
        if words
            .get(start)
            .is_some_and(|w| w.starts_with('/') || is_cronix_bin(w))
        {
            found.push(Finding {
                line_no: numbers[at],
                text: text.to_string(),
                message: hint.to_string(),
            });
        }
    }
    found
}

/// Whether two schedules fire at exactly the same minutes: the same minutes, hours and months, and
/// the same days under cron's day rule (checked over every day-of-month and weekday pair).
pub fn same_fire_set(a: &Schedule, b: &Schedule) -> bool {
    a.minutes() == b.minutes()
        && a.hours() == b.hours()
        && a.months() == b.months()
        && (1..=31)
            .all(|dom| (0..7).all(|dow| day_selected(a, dom, dow) == day_selected(b, dom, dow)))
}

fn day_selected(s: &Schedule, dom: u32, dow: u32) -> bool {
    let by_dom = s.days_of_month() >> dom & 1 == 1;
    let by_dow = s.days_of_week() >> dow & 1 == 1;
    match s.day_rule() {
        DayRule::Either => by_dom || by_dow,
        DayRule::Both => by_dom && by_dow,
    }
}

/// One schedule of the job paired with the hand-written line that fires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    pub line: TriggerLine,
    pub entry: DesiredEntry,
}

/// What adopting one job would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every schedule pairs with one line and no line is left: rewrite them as owned entries.
    Adopt(Vec<Pairing>),
    /// No unmarked line runs the job, and cronix already owns entries of it.
    AlreadyManaged,
    /// No unmarked line runs the job and cronix owns none of it.
    NothingFound,
    /// Some schedule has no line, or some line matches no schedule: one reason per item.
    Diverged(Vec<String>),
}

/// Pair the job's desired entries that cronix does not own yet with its unmarked trigger lines, by
/// fire set. `desired` holds the job's entries (any order); every line must be used exactly once.
pub fn pair(crontab: &Crontab, app: &str, job: &str, desired: &[DesiredEntry]) -> Outcome {
    let owned: Vec<usize> = crontab
        .owned()
        .filter(|e| e.marker.app == app && e.marker.job == job)
        .map(|e| e.marker.idx)
        .collect();
    let lines: Vec<TriggerLine> = trigger_lines(crontab)
        .into_iter()
        .filter(|t| t.app == app && t.job == job)
        .collect();
    if lines.is_empty() {
        return if owned.is_empty() {
            Outcome::NothingFound
        } else {
            Outcome::AlreadyManaged
        };
    }
    let mut wanted: Vec<&DesiredEntry> = desired
        .iter()
        .filter(|d| d.app == app && d.job == job && !owned.contains(&d.idx))
        .collect();
    wanted.sort_by_key(|d| d.idx);
    let parsed: Vec<Option<Schedule>> = lines
        .iter()
        .map(|l| Schedule::parse(&l.schedule).ok())
        .collect();
    let mut used = vec![false; lines.len()];
    let mut pairings = Vec::new();
    let mut reasons = Vec::new();
    for entry in wanted {
        let Ok(schedule) = Schedule::parse(&entry.schedule) else {
            reasons.push(format!(
                "schedule {} ({:?}) does not parse",
                entry.idx, entry.schedule
            ));
            continue;
        };
        let found = (0..lines.len()).find(|&i| {
            !used[i]
                && parsed[i]
                    .as_ref()
                    .is_some_and(|p| same_fire_set(p, &schedule))
        });
        match found {
            Some(i) => {
                used[i] = true;
                pairings.push(Pairing {
                    line: lines[i].clone(),
                    entry: entry.clone(),
                });
            }
            None => reasons.push(format!(
                "schedule {} ({:?}) of {app}.{job}: no unmarked line fires at the same minutes",
                entry.idx, entry.schedule
            )),
        }
    }
    for (i, line) in lines.iter().enumerate().filter(|(i, _)| !used[*i]) {
        let why = match &parsed[i] {
            None => "its schedule is not one cronix accepts".to_string(),
            Some(_) => "it fires at minutes no remaining schedule of the job has".to_string(),
        };
        reasons.push(format!(
            "line {} (`{}`, schedule {:?}) runs {app}.{job} but matches no schedule of the manifest: {why}",
            line.line_no, line.text, line.schedule
        ));
    }
    if reasons.is_empty() {
        Outcome::Adopt(pairings)
    } else {
        Outcome::Diverged(reasons)
    }
}

/// The entry ops that rewrite each paired line, in place, as the owned entry (canonical line and
/// marker) of its schedule.
pub fn entry_ops(pairings: &[Pairing]) -> Vec<Op> {
    pairings
        .iter()
        .map(|p| Op {
            op: Action::Update,
            kind: Subject::Entry,
            app: p.entry.app.clone(),
            job: p.entry.job.clone(),
            idx: Some(p.entry.idx),
            drift: DriftKind::Adopted,
            schedule: Some(p.entry.schedule.clone()),
            line: Some(p.entry.line.clone()),
            hash: Some(p.entry.hash.clone()),
            old_line: Some(p.line.text.clone()),
            old_hash: None,
            changes: change_view::artifact_changes(&p.line.text, &p.entry.line),
            at: Some(p.line.at),
            spec: None,
        })
        .collect()
}

/// The plan of an adoption: the rewritten entries and the job's spec ops.
pub fn plan(pairings: &[Pairing], spec_ops: Vec<Op>) -> Plan {
    let mut ops = entry_ops(pairings);
    ops.extend(spec_ops);
    Plan::from_ops(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crontab;

    fn entry(idx: usize, schedule: &str) -> DesiredEntry {
        DesiredEntry {
            app: "billing".into(),
            job: "reconcile".into(),
            idx,
            schedule: schedule.into(),
            line: format!(
                "{schedule} root /usr/local/bin/cronix trigger --spec-dir /s billing.reconcile"
            ),
            hash: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn trigger_lines_are_found_with_or_without_a_user_column_and_with_flags() {
        let text = "MAILTO=x\n# c\n*/15 * * * * root /opt/bin/cronix trigger --lock-dir /l billing.reconcile >/dev/null\n\
                    @daily /usr/local/bin/cronix trigger billing.other\n0 1 * * * root /bin/backup billing.reconcile\n";
        let lines = trigger_lines(&crontab::parse(text.as_bytes()));
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].line_no, lines[0].user.as_deref()),
            (3, Some("root"))
        );
        assert_eq!(
            (lines[0].schedule.as_str(), lines[0].job.as_str()),
            ("*/15 * * * *", "reconcile")
        );
        assert_eq!((lines[1].line_no, lines[1].user.as_deref()), (4, None));
        assert_eq!(lines[1].schedule, "@daily");
    }

    #[test]
    fn fire_sets_compare_by_minutes_not_text() {
        let p = |s| Schedule::parse(s).unwrap();
        assert!(same_fire_set(&p("*/15 * * * *"), &p("0,15,30,45 * * * *")));
        assert!(same_fire_set(&p("@daily"), &p("0 0 * * *")));
        assert!(same_fire_set(&p("0 9 * * 7"), &p("0 9 * * sun")));
        assert!(
            !same_fire_set(&p("0 9 * * 1"), &p("0 9 1-31 * 1")),
            "day rule differs"
        );
        assert!(!same_fire_set(&p("*/5 * * * *"), &p("0 * * * *")));
    }

    #[test]
    fn a_full_match_pairs_every_schedule_with_one_line() {
        let text = "0,15,30,45 * * * * root /usr/bin/cronix trigger billing.reconcile\n\
                    0 3 * * * root /usr/bin/cronix trigger billing.reconcile\n";
        let out = pair(
            &crontab::parse(text.as_bytes()),
            "billing",
            "reconcile",
            &[entry(0, "0 3 * * *"), entry(1, "*/15 * * * *")],
        );
        let Outcome::Adopt(pairs) = out else {
            panic!("{out:?}")
        };
        assert_eq!(pairs[0].line.line_no, 2);
        assert_eq!(pairs[1].line.line_no, 1);
    }

    #[test]
    fn an_unmatched_schedule_or_a_leftover_line_diverges_with_one_reason_each() {
        let text = "*/5 * * * * /usr/bin/cronix trigger billing.reconcile\n";
        let out = pair(
            &crontab::parse(text.as_bytes()),
            "billing",
            "reconcile",
            &[entry(0, "@hourly")],
        );
        let Outcome::Diverged(reasons) = out else {
            panic!("{out:?}")
        };
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[1].starts_with("line 1 "), "{reasons:?}");
    }

    #[test]
    fn nothing_found_and_already_managed() {
        let none = crontab::parse(b"0 1 * * * root /bin/true\n");
        assert_eq!(
            pair(&none, "billing", "reconcile", &[entry(0, "@hourly")]),
            Outcome::NothingFound
        );
        let owned = crontab::parse(
            b"0 * * * * root /b/cronix trigger billing.reconcile\n# cronix:owned app=billing job=reconcile hash=0123456789abcdef idx=0\n",
        );
        assert_eq!(
            pair(&owned, "billing", "reconcile", &[entry(0, "@hourly")]),
            Outcome::AlreadyManaged
        );
    }

    #[test]
    fn double_fires_and_missing_user_columns_name_the_line() {
        let text = "# head\n*/15 * * * * root /usr/local/bin/cronix trigger billing.reconcile\n\
                    0 1 * * * /usr/local/bin/cronix trigger --spec-dir /s billing.settle\n\
                    # cronix:owned app=billing job=settle hash=0123456789abcdef idx=0\n";
        let parsed = crontab::parse(text.as_bytes());
        let doubles = double_fires(&parsed, "billing", &["reconcile", "settle"]);
        assert_eq!(doubles.len(), 1);
        assert_eq!(doubles[0].line_no, 2);
        assert!(
            doubles[0]
                .describe()
                .contains("cronix adopt billing.reconcile")
        );
        let missing = missing_user_columns(&parsed);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].line_no, 3);
        assert!(missing[0].message.contains("--crontab-format user"));
    }
}
