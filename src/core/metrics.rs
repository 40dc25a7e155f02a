//! Metrics: a job's history folded into a tally (counts per status, last run, last success, streak),
//! and the Prometheus text exposition of every job's tally.
//!
//! Pure: the shell feeds records (a whole history, or only the lines appended since the last fold)
//! and the next fire times, and writes the text where it belongs. Labels are escaped here; no
//! value ever comes from a response body or a secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::core::alert::failure_kind;
use crate::core::history::{RunRecord, RunStatus};

/// One job's history, folded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub app: String,
    pub job: String,
    /// Runs per final status name.
    #[serde(default)]
    pub runs: BTreeMap<String, u64>,
    /// When the newest run started (unix seconds).
    pub last_run: Option<i64>,
    /// When the newest successful run started (unix seconds).
    pub last_success: Option<i64>,
    pub last_status: Option<RunStatus>,
    pub last_duration_ms: Option<u64>,
    /// Failed runs since the last success (statuses that say nothing about the job are skipped).
    #[serde(default)]
    pub consecutive_failures: u32,
}

impl Tally {
    pub fn new(app: &str, job: &str) -> Tally {
        Tally {
            app: app.to_string(),
            job: job.to_string(),
            ..Tally::default()
        }
    }

    /// Fold one more record (records arrive oldest first).
    pub fn add(&mut self, record: &RunRecord) {
        *self
            .runs
            .entry(record.status.as_str().to_string())
            .or_insert(0) += 1;
        let started = record.started().map(|t| t.as_second());
        self.last_run = started.or(self.last_run);
        self.last_status = Some(record.status);
        self.last_duration_ms = Some(record.duration_ms);
        match failure_kind(record.status) {
            Some(true) => self.consecutive_failures = self.consecutive_failures.saturating_add(1),
            Some(false) => {
                self.consecutive_failures = 0;
                self.last_success = started.or(self.last_success);
            }
            None => {}
        }
    }

    /// The tally of a whole history.
    pub fn of(app: &str, job: &str, records: &[RunRecord]) -> Tally {
        let mut tally = Tally::new(app, job);
        for record in records {
            tally.add(record);
        }
        tally
    }
}

/// One job as exposed: its tally and its next fire (unix seconds), when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMetrics {
    pub tally: Tally,
    pub next_fire: Option<i64>,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

const FAMILIES: [Family; 7] = [
    Family {
        name: "cronix_last_run_timestamp_seconds",
        kind: "gauge",
        help: "Unix time the job's newest recorded run started.",
    },
    Family {
        name: "cronix_last_success_timestamp_seconds",
        kind: "gauge",
        help: "Unix time the job's newest successful run started.",
    },
    Family {
        name: "cronix_last_status",
        kind: "gauge",
        help: "1 for the final status of the job's newest run, 0 for the other statuses.",
    },
    Family {
        name: "cronix_runs_total",
        kind: "counter",
        help: "Runs recorded in the job's history, by final status.",
    },
    Family {
        name: "cronix_last_duration_seconds",
        kind: "gauge",
        help: "Wall time of the job's newest run, all attempts included.",
    },
    Family {
        name: "cronix_consecutive_failures",
        kind: "gauge",
        help: "Failed runs (rejected, exhausted, internal) since the job's last success.",
    },
    Family {
        name: "cronix_next_fire_timestamp_seconds",
        kind: "gauge",
        help: "Unix time of the job's next scheduled fire.",
    },
];

/// The text exposition of every job (sorted by app and job), each family once with HELP and TYPE.
pub fn render(jobs: &[JobMetrics], host: &str) -> String {
    let mut jobs: Vec<&JobMetrics> = jobs.iter().collect();
    jobs.sort_by(|a, b| (&a.tally.app, &a.tally.job).cmp(&(&b.tally.app, &b.tally.job)));
    let mut out = String::new();
    for family in &FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for job in &jobs {
            samples(&mut out, family.name, job, host);
        }
    }
    out
}

fn samples(out: &mut String, family: &str, job: &JobMetrics, host: &str) {
    let t = &job.tally;
    let labels = format!(
        "app=\"{}\",job=\"{}\",host=\"{}\"",
        escape(&t.app),
        escape(&t.job),
        escape(host)
    );
    let mut sample = |extra: &str, value: String| {
        let _ = writeln!(out, "{family}{{{labels}{extra}}} {value}");
    };
    match family {
        "cronix_last_run_timestamp_seconds" => {
            if let Some(v) = t.last_run {
                sample("", v.to_string());
            }
        }
        "cronix_last_success_timestamp_seconds" => {
            if let Some(v) = t.last_success {
                sample("", v.to_string());
            }
        }
        "cronix_last_status" => {
            if let Some(last) = t.last_status {
                for status in RunStatus::ALL {
                    let value = u8::from(status == last);
                    sample(&format!(",status=\"{status}\""), value.to_string());
                }
            }
        }
        "cronix_runs_total" => {
            for status in RunStatus::ALL {
                let n = t.runs.get(status.as_str()).copied().unwrap_or(0);
                sample(&format!(",status=\"{status}\""), n.to_string());
            }
        }
        "cronix_last_duration_seconds" => {
            if let Some(ms) = t.last_duration_ms {
                sample("", seconds(ms));
            }
        }
        "cronix_consecutive_failures" => sample("", t.consecutive_failures.to_string()),
        "cronix_next_fire_timestamp_seconds" => {
            if let Some(v) = job.next_fire {
                sample("", v.to_string());
            }
        }
        _ => {}
    }
}

/// Milliseconds as decimal seconds without float noise (`1234` → `1.234`).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A label value escaped for the text format: backslash, double quote and newline.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: RunStatus, started_at: &str, duration_ms: u64) -> RunRecord {
        RunRecord {
            run_id: "r".into(),
            app: "billing".into(),
            job: "settle".into(),
            fire_time: started_at.into(),
            started_at: started_at.into(),
            duration_ms,
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

    #[test]
    fn a_history_folds_into_counts_times_and_the_streak() {
        let records = [
            record(RunStatus::Ok, "2026-01-01T00:00:00Z", 10),
            record(RunStatus::Exhausted, "2026-01-01T00:01:00Z", 20),
            record(RunStatus::Contended, "2026-01-01T00:02:00Z", 1),
            record(RunStatus::Rejected, "2026-01-01T00:03:00Z", 1234),
        ];
        let t = Tally::of("billing", "settle", &records);
        assert_eq!(t.runs.get("ok"), Some(&1));
        assert_eq!(t.runs.get("exhausted"), Some(&1));
        assert_eq!(t.consecutive_failures, 2);
        assert_eq!(t.last_success, Some(1_767_225_600));
        assert_eq!(t.last_run, Some(1_767_225_780));
        assert_eq!(t.last_status, Some(RunStatus::Rejected));
        let mut incremental = Tally::of("billing", "settle", &records[..2]);
        for r in &records[2..] {
            incremental.add(r);
        }
        assert_eq!(incremental, t);
    }

    #[test]
    fn the_exposition_groups_families_and_escapes_labels() {
        let t = Tally::of(
            "billing",
            "settle",
            &[record(RunStatus::Ok, "2026-01-01T00:00:00Z", 1234)],
        );
        let text = render(
            &[JobMetrics {
                tally: t,
                next_fire: Some(1_767_225_660),
            }],
            "web\"1\\\n",
        );
        assert!(text.contains(
            "cronix_last_duration_seconds{app=\"billing\",job=\"settle\",host=\"web\\\"1\\\\\\n\"} 1.234\n"
        ), "{text}");
        assert!(text.contains("status=\"ok\"} 1\n"));
        assert!(text.contains("# TYPE cronix_runs_total counter\n"));
        assert_eq!(text.matches("# HELP ").count(), FAMILIES.len());
        assert!(text.contains("cronix_next_fire_timestamp_seconds{app=\"billing\",job=\"settle\",host=\"web\\\"1\\\\\\n\"} 1767225660\n"));
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(5), "0.005");
        assert_eq!(seconds(61_000), "61.000");
    }
}
