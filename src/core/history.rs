//! Run history records: the one-line JSON record the shim writes per fire, and the pure operations on
//! a job's history (parse lines, filter, retention, the last success).
//!
//! Pure: callers pass file contents and the current time. Must never hold secrets, signatures or
//! response bodies: a record carries statuses, times, counts and a short error class only.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Directory (inside the state dir) that holds one `<app>.<job>.jsonl` file per job.
pub const HISTORY_DIR: &str = "history";

/// How a fire ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// A 2xx response.
    Ok,
    /// The application answered with a status that is not retried (other 4xx, 3xx).
    Rejected,
    /// Every attempt failed with a retryable outcome.
    Exhausted,
    /// The job's lock was held by another fire.
    Contended,
    /// The shim could not run the job (spec, config, secrets, a panic).
    Internal,
    /// A later fire of a `Replace` job stopped this one.
    Replaced,
    /// Something else sent SIGTERM.
    Terminated,
    /// `concurrency_scope: global`: another host claimed this instant and delivers it (exit 0).
    Duplicate,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Ok,
        RunStatus::Rejected,
        RunStatus::Exhausted,
        RunStatus::Contended,
        RunStatus::Internal,
        RunStatus::Replaced,
        RunStatus::Terminated,
        RunStatus::Duplicate,
    ];

    /// A fire that did not deliver and was not stood in for (rejected, exhausted, internal,
    /// terminated): what tables mark as failed.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            RunStatus::Rejected
                | RunStatus::Exhausted
                | RunStatus::Internal
                | RunStatus::Terminated
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Rejected => "rejected",
            RunStatus::Exhausted => "exhausted",
            RunStatus::Contended => "contended",
            RunStatus::Internal => "internal",
            RunStatus::Replaced => "replaced",
            RunStatus::Terminated => "terminated",
            RunStatus::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "status {s:?} is not a run status; use one of {}",
                    names.join(", ")
                )
            })
    }
}

pub use crate::core::manifest::split_job_id;

/// One fire of one job, as stored on one line of its history file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub app: String,
    pub job: String,
    /// The schedule instant this fire belongs to (RFC 3339, UTC, seconds).
    pub fire_time: String,
    /// When the shim started (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    pub duration_ms: u64,
    /// HTTP attempts made (0 when nothing was sent).
    pub attempts: u32,
    pub status: RunStatus,
    /// Status code of the last response, if any response came back.
    pub http_status: Option<u16>,
    pub exit_code: u8,
    /// Short error class (`timeout`, `connect`, `http_503`, `secrets`, …); never a message body.
    pub error: Option<String>,
    /// The host that ran the fire (config `host_id`, else the host name); absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Set when a global-scope fire could not reach Redis and used this host's lock instead
    /// (`host_lock`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Each HTTP attempt of the fire, oldest first, at most [`MAX_ATTEMPT_LOG`]; empty (and absent
    /// from the line) when nothing was sent and in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<Attempt>,
}

/// The most attempts a record keeps (a job's `max_attempts` is at most 10).
pub const MAX_ATTEMPT_LOG: usize = 10;

/// One HTTP attempt of a fire: when, how long, and how it ended. Never a header value, a body or the
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt was sent (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    pub duration_ms: u64,
    /// The response's status code, when a response came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// How it ended: `ok`, `3xx`, `4xx`, `5xx` (by the status code), `timeout`, `connect`,
    /// `network`, `bad_header`, or `interrupted` (the fire stopped while it was in flight).
    pub result: String,
    /// The wait before the next attempt, when one followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

impl Attempt {
    /// The `result` word of a response with status `code`.
    pub fn status_class(code: u16) -> String {
        match code {
            200..=299 => "ok".to_string(),
            _ => format!("{}xx", code / 100),
        }
    }
}

/// Keep at most [`MAX_ATTEMPT_LOG`] attempts: the first ones and the last (the last says how the fire
/// ended).
pub fn cap_attempt_log(log: &mut Vec<Attempt>) {
    if log.len() > MAX_ATTEMPT_LOG {
        let last = log.pop();
        log.truncate(MAX_ATTEMPT_LOG - 1);
        log.extend(last);
    }
}

impl RunRecord {
    /// The record as one JSON line, newline included (what an append writes in one `write`).
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }

    /// When the shim started, if the stored value parses.
    pub fn started(&self) -> Option<Timestamp> {
        self.started_at.parse().ok()
    }

    /// The intended fire time, if the stored value parses.
    pub fn fired(&self) -> Option<Timestamp> {
        self.fire_time.parse().ok()
    }
}

/// Parse a history file's contents. Lines that do not parse (a torn last line from a crash, a
/// truncated write) are skipped.
pub fn parse_lines(text: &str) -> Vec<RunRecord> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<RunRecord> {
    serde_json::from_str(line).ok()
}

/// The intended fire time of the newest successful run, scanning from the end of the file.
pub fn last_success_fire_time(text: &str) -> Option<Timestamp> {
    text.lines()
        .rev()
        .filter_map(parse_line)
        .find(|r| r.status == RunStatus::Ok)
        .and_then(|r| r.fired())
}

/// The newest parseable record of a history file.
pub fn last_record(text: &str) -> Option<RunRecord> {
    text.lines().rev().find_map(parse_line)
}

/// What the shim needs from a job's history at the start of a fire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines in the file (torn ones included: they count against retention until compacted away).
    pub lines: usize,
    /// When the oldest parseable record started.
    pub oldest_start: Option<Timestamp>,
    /// The intended fire time of the newest successful run.
    pub last_success_fire: Option<Timestamp>,
}

/// Summarize a history file's contents, parsing only the first record and the newest ones up to the
/// last success.
pub fn summarize(text: &str) -> Summary {
    Summary {
        lines: text.lines().count(),
        oldest_start: text.lines().find_map(parse_line).and_then(|r| r.started()),
        last_success_fire: last_success_fire_time(text),
    }
}

/// Summarize a history file from its first bytes and its last bytes (`tail`, starting on a line
/// boundary), as the shim reads it: the cost stays the same however long the file grows. `whole`:
/// `tail` is the entire file, so the line count is exact; otherwise it is estimated from the mean
/// length of the lines in `tail` (compaction has a margin of 10 %, so an estimate is enough).
pub fn summarize_tail(head: &str, tail: &str, whole: bool, file_len: u64) -> Summary {
    let tail_lines = tail.lines().count();
    let lines = if whole || tail_lines == 0 {
        tail_lines
    } else {
        let mean = (tail.len() as u64 / tail_lines as u64).max(1);
        usize::try_from(file_len / mean).unwrap_or(usize::MAX)
    };
    Summary {
        lines,
        oldest_start: head
            .lines()
            .take(16)
            .find_map(parse_line)
            .and_then(|r| r.started()),
        last_success_fire: last_success_fire_time(tail),
    }
}

/// What a compaction writes: every line that is not a record is kept (it is never dropped unread),
/// records older than the age limit are dropped, then the oldest records beyond `max_runs`; what
/// stays keeps its file order. Blank lines go.
pub fn compact_text(text: &str, retention: &Retention, now: Timestamp) -> String {
    let cutoff = retention.oldest_allowed(now);
    let lines: Vec<(&str, Option<RunRecord>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (l, parse_line(l)))
        .collect();
    let young = |r: &RunRecord| r.started().is_none_or(|t| t >= cutoff);
    let records = lines
        .iter()
        .filter(|(_, r)| r.as_ref().is_some_and(young))
        .count();
    let mut surplus = records.saturating_sub(retention.max_runs);
    let mut out = String::with_capacity(text.len());
    for (line, record) in &lines {
        let keep = match record {
            None => true,
            Some(r) if !young(r) => false,
            Some(_) if surplus > 0 => {
                surplus -= 1;
                false
            }
            Some(_) => true,
        };
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Which records to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub since: Option<Timestamp>,
    /// Only records that started before this instant.
    pub until: Option<Timestamp>,
    pub status: Option<StatusQuery>,
    /// Keep at most this many of the newest matching records.
    pub limit: Option<usize>,
}

/// Which runs `history --status NAME` keeps: one of our statuses, or a name of the reference tool
/// mapped onto ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    pub statuses: Vec<RunStatus>,
    /// Only records with this error class (the reference's `timeout`).
    pub error_class: Option<&'static str>,
}

/// The reference tool's status names and what they mean here: `failed` is any run the app did not
/// accept or the shim could not finish, `lock-contended` is `contended`, `timeout` is an exhausted run
/// whose last attempt timed out, `unknown` is a run ended by a signal before an outcome.
pub const REFERENCE_STATUSES: [(&str, &[RunStatus], Option<&str>); 4] = [
    (
        "failed",
        &[
            RunStatus::Rejected,
            RunStatus::Exhausted,
            RunStatus::Internal,
        ],
        None,
    ),
    ("lock-contended", &[RunStatus::Contended], None),
    ("timeout", &[RunStatus::Exhausted], Some("timeout")),
    (
        "unknown",
        &[RunStatus::Replaced, RunStatus::Terminated],
        None,
    ),
];

impl StatusQuery {
    /// Our status names, then the reference's; anything else is an error listing both.
    pub fn parse(name: &str) -> Result<StatusQuery, String> {
        if let Ok(status) = name.parse::<RunStatus>() {
            return Ok(StatusQuery {
                statuses: vec![status],
                error_class: None,
            });
        }
        if let Some((_, statuses, error_class)) =
            REFERENCE_STATUSES.iter().find(|(n, _, _)| *n == name)
        {
            return Ok(StatusQuery {
                statuses: statuses.to_vec(),
                error_class: *error_class,
            });
        }
        let ours: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        let theirs: Vec<&str> = REFERENCE_STATUSES.iter().map(|(n, _, _)| *n).collect();
        Err(format!(
            "status {name:?} is not a run status; use one of {} (or the reference tool's {})",
            ours.join(", "),
            theirs.join(", ")
        ))
    }

    pub fn matches(&self, record: &RunRecord) -> bool {
        self.statuses.contains(&record.status)
            && self
                .error_class
                .is_none_or(|class| record.error.as_deref() == Some(class))
    }
}

/// Apply a filter: records in order of start time (a fire that started earlier but ran longer is
/// appended later; ties and unparseable times keep file order), and the newest `limit` matches.
pub fn filter(mut records: Vec<RunRecord>, filter: &Filter) -> Vec<RunRecord> {
    records.sort_by_key(RunRecord::started);
    let mut kept: Vec<RunRecord> = records
        .into_iter()
        .filter(|r| filter.status.as_ref().is_none_or(|q| q.matches(r)))
        .filter(|r| {
            filter
                .since
                .is_none_or(|since| r.started().is_some_and(|t| t >= since))
        })
        .filter(|r| {
            filter
                .until
                .is_none_or(|until| r.started().is_some_and(|t| t < until))
        })
        .collect();
    if let Some(limit) = filter.limit.filter(|l| *l > 0) {
        let drop = kept.len().saturating_sub(limit);
        kept.drain(..drop);
    }
    kept
}

/// How much history a job keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_runs: usize,
    pub max_age_days: u64,
}

impl Retention {
    /// Extra records tolerated beyond `max_runs` before a compaction rewrites the file, so the rewrite
    /// happens once per margin's worth of fires rather than at every fire.
    pub fn margin(&self) -> usize {
        (self.max_runs / 10).max(10)
    }

    fn oldest_allowed(&self, now: Timestamp) -> Timestamp {
        let days = i64::try_from(self.max_age_days).unwrap_or(i64::MAX / 86_400);
        now.checked_sub(jiff::SignedDuration::from_hours(days.saturating_mul(24)))
            .unwrap_or(Timestamp::MIN)
    }

    /// Whether a file with `count` lines whose first record started at `oldest` is due for compaction:
    /// over the run limit by the margin, or holding a record older than the age limit by a day.
    pub fn needs_compaction(
        &self,
        count: usize,
        oldest: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        let too_many = count > self.max_runs + self.margin();
        let slack = jiff::SignedDuration::from_hours(24);
        let too_old = oldest.is_some_and(|t| {
            t.checked_add(slack)
                .is_ok_and(|t| t < self.oldest_allowed(now))
        });
        too_many || too_old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32, started_at: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            run_id: format!("run-{n}"),
            app: "billing".into(),
            job: "settle".into(),
            fire_time: started_at.into(),
            started_at: started_at.into(),
            duration_ms: 5,
            attempts: 1,
            status,
            http_status: Some(200),
            exit_code: 0,
            error: None,
            host_id: None,
            fallback: None,
            attempt_log: Vec::new(),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let a = record(1, "2026-01-01T00:00:00Z", RunStatus::Ok).to_line();
        let b = record(2, "2026-01-01T00:01:00Z", RunStatus::Ok).to_line();
        let text = format!("{a}{}", &b[..b.len() / 2]);
        let parsed = parse_lines(&text);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].run_id, "run-1");
    }

    #[test]
    fn last_success_skips_newer_failures() {
        let text = [
            record(1, "2026-01-01T00:00:00Z", RunStatus::Ok),
            record(2, "2026-01-01T00:01:00Z", RunStatus::Ok),
            record(3, "2026-01-01T00:02:00Z", RunStatus::Exhausted),
        ]
        .iter()
        .map(RunRecord::to_line)
        .collect::<String>();
        assert_eq!(
            last_success_fire_time(&text),
            Some(ts("2026-01-01T00:01:00Z"))
        );
        assert_eq!(last_success_fire_time(""), None);
    }

    #[test]
    fn filter_keeps_the_newest_matching_records_in_file_order() {
        let records = vec![
            record(1, "2026-01-01T00:00:00Z", RunStatus::Ok),
            record(2, "2026-01-02T00:00:00Z", RunStatus::Exhausted),
            record(3, "2026-01-03T00:00:00Z", RunStatus::Ok),
            record(4, "2026-01-04T00:00:00Z", RunStatus::Ok),
        ];
        let f = Filter {
            since: Some(ts("2026-01-02T00:00:00Z")),
            until: None,
            status: Some(StatusQuery::parse("ok").unwrap()),
            limit: Some(1),
        };
        let ids: Vec<String> = filter(records.clone(), &f)
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["run-4"]);
        let window = Filter {
            since: Some(ts("2026-01-02T00:00:00Z")),
            until: Some(ts("2026-01-04T00:00:00Z")),
            status: None,
            limit: Some(0),
        };
        let ids: Vec<String> = filter(records, &window)
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(
            ids,
            ["run-2", "run-3"],
            "until is exclusive; limit 0 keeps all"
        );
    }

    #[test]
    fn the_reference_status_names_map_onto_ours() {
        let failed = StatusQuery::parse("failed").unwrap();
        assert!(failed.statuses.contains(&RunStatus::Rejected));
        assert!(!failed.statuses.contains(&RunStatus::Ok));
        assert_eq!(
            StatusQuery::parse("lock-contended").unwrap().statuses,
            [RunStatus::Contended]
        );
        let timeout = StatusQuery::parse("timeout").unwrap();
        assert_eq!(timeout.error_class, Some("timeout"));
        let err = StatusQuery::parse("nope").unwrap_err();
        assert!(err.contains("lock-contended"), "{err}");
    }

    #[test]
    fn filtered_records_come_in_order_of_start_time() {
        let records = vec![
            record(2, "2026-01-02T00:00:00Z", RunStatus::Ok),
            record(1, "2026-01-01T00:00:00Z", RunStatus::Exhausted),
            record(3, "2026-01-03T00:00:00Z", RunStatus::Ok),
        ];
        let ids: Vec<String> = filter(records, &Filter::default())
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["run-1", "run-2", "run-3"]);
    }

    #[test]
    fn compaction_keeps_lines_it_cannot_parse() {
        let retention = Retention {
            max_runs: 1,
            max_age_days: 10,
        };
        let now = ts("2026-01-20T00:00:00Z");
        let text = [
            record(1, "2026-01-01T00:00:00Z", RunStatus::Ok).to_line(),
            "{\"run_id\":\"torn".to_string() + "\n",
            record(2, "2026-01-18T00:00:00Z", RunStatus::Ok).to_line(),
            "\n".to_string(),
            record(3, "2026-01-19T00:00:00Z", RunStatus::Ok).to_line(),
        ]
        .concat();
        let out = compact_text(&text, &retention, now);
        assert_eq!(
            out,
            format!(
                "{{\"run_id\":\"torn\n{}",
                record(3, "2026-01-19T00:00:00Z", RunStatus::Ok).to_line()
            )
        );
    }

    #[test]
    fn a_tail_summary_estimates_the_count_and_finds_the_last_success() {
        let lines: Vec<String> = (0..10)
            .map(|n| {
                let status = if n == 7 {
                    RunStatus::Ok
                } else {
                    RunStatus::Exhausted
                };
                record(n, &format!("2026-01-01T00:0{n}:00Z"), status).to_line()
            })
            .collect();
        let text = lines.concat();
        let exact = summarize_tail(&text, &text, true, text.len() as u64);
        assert_eq!(exact, summarize(&text));
        let tail = lines[5..].concat();
        let estimated = summarize_tail(&lines[0], &tail, false, text.len() as u64);
        assert!((9..=11).contains(&estimated.lines), "{estimated:?}");
        assert_eq!(
            estimated.last_success_fire,
            Some(ts("2026-01-01T00:07:00Z"))
        );
        assert_eq!(estimated.oldest_start, Some(ts("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn retention_drops_old_and_excess_records() {
        let retention = Retention {
            max_runs: 2,
            max_age_days: 10,
        };
        let now = ts("2026-01-20T00:00:00Z");
        let records = [
            record(1, "2026-01-01T00:00:00Z", RunStatus::Ok),
            record(2, "2026-01-15T00:00:00Z", RunStatus::Ok),
            record(3, "2026-01-16T00:00:00Z", RunStatus::Ok),
            record(4, "2026-01-17T00:00:00Z", RunStatus::Ok),
        ];
        let text: String = records.iter().map(RunRecord::to_line).collect();
        let ids: Vec<String> = parse_lines(&compact_text(&text, &retention, now))
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["run-3", "run-4"]);
    }

    #[test]
    fn compaction_waits_for_the_margin() {
        let retention = Retention {
            max_runs: 100,
            max_age_days: 90,
        };
        let now = ts("2026-01-20T00:00:00Z");
        let recent = Some(ts("2026-01-19T00:00:00Z"));
        assert!(!retention.needs_compaction(110, recent, now));
        assert!(retention.needs_compaction(111, recent, now));
        let ancient = Some(ts("2025-10-01T00:00:00Z"));
        assert!(retention.needs_compaction(5, ancient, now));
    }

    #[test]
    fn job_ids_split_into_app_and_job() {
        assert_eq!(
            split_job_id("billing.settle-invoices").unwrap(),
            ("billing", "settle-invoices")
        );
        for bad in [
            "billing",
            "Billing.x",
            "a.",
            ".b",
            "a.b.c",
            "a/../b.c",
            "1a.b",
        ] {
            assert!(split_job_id(bad).unwrap_err().contains("APP.JOB"), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
        assert!(
            "okay"
                .parse::<RunStatus>()
                .unwrap_err()
                .contains("exhausted")
        );
    }

    #[test]
    fn records_without_host_id_still_parse_and_duplicate_round_trips() {
        let old = r#"{"run_id":"r","app":"a","job":"j","fire_time":"2026-01-01T00:00:00Z","started_at":"2026-01-01T00:00:00.000Z","duration_ms":1,"attempts":1,"status":"ok","http_status":200,"exit_code":0,"error":null}"#;
        let parsed = parse_lines(old);
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            (parsed[0].host_id.as_deref(), parsed[0].fallback.as_deref()),
            (None, None)
        );
        assert!(
            !parsed[0].to_line().contains("host_id"),
            "absent fields stay absent"
        );
        let dup = RunRecord {
            status: RunStatus::Duplicate,
            host_id: Some("web-2".into()),
            ..parsed[0].clone()
        };
        let line = dup.to_line();
        assert!(line.contains(r#""status":"duplicate""#) && line.contains(r#""host_id":"web-2""#));
        assert_eq!(parse_lines(&line), vec![dup]);
        assert_eq!("duplicate".parse::<RunStatus>(), Ok(RunStatus::Duplicate));
    }

    #[test]
    fn the_attempt_log_keeps_the_first_attempts_and_the_last() {
        let attempt = |n: u32| Attempt {
            attempt: n,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            duration_ms: 1,
            http_status: Some(503),
            result: Attempt::status_class(503),
            wait_ms: Some(10),
        };
        let mut log: Vec<Attempt> = (1..=14).map(attempt).collect();
        cap_attempt_log(&mut log);
        let kept: Vec<u32> = log.iter().map(|a| a.attempt).collect();
        assert_eq!(kept, [1, 2, 3, 4, 5, 6, 7, 8, 9, 14]);
        assert_eq!(Attempt::status_class(204), "ok");
        assert_eq!(Attempt::status_class(429), "4xx");
        assert_eq!(Attempt::status_class(301), "3xx");
    }
}
