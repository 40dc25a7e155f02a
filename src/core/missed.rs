//! Missed fires: the schedule instants of a job, between its install time and now minus a grace,
//! that left no history record; grouped into episodes (runs of consecutive missed instants) so each
//! episode is alerted once.
//!
//! Pure: the caller passes the parsed schedules, the zone, the window and the recorded fire times.
//! Must not read the clock, files or history itself.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::core::manifest::Policy;
use crate::core::schedule::Schedule;

/// How far back `check` looks at most (a missed fire older than this is history, not news).
pub const MAX_LOOKBACK_SECONDS: i64 = 7 * 86_400;

/// Most instants examined per job and check (a per-minute job over the whole lookback fits).
pub const MAX_INSTANTS: usize = 20_000;

/// The longest a fire of this policy can take before it records: every attempt timing out, the
/// capped backoff between them, and a `Replace` wait. An instant younger than this may still be in
/// flight, so `check` never counts it as missed.
pub fn worst_case_fire_seconds(policy: &Policy) -> i64 {
    let attempts = i64::from(policy.retries.max_attempts.max(1));
    let timeout = i64::from(policy.timeout_seconds);
    let backoff = (attempts - 1) * i64::from(policy.retries.max_seconds);
    let replace_wait = (timeout / 2).max(5);
    attempts * timeout + backoff + replace_wait
}

/// What `check` remembers per job: the first instant of the newest episode it alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeState {
    pub last_alerted: Option<i64>,
}

/// A run of consecutive missed instants (no recorded instant between them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub instants: Vec<Timestamp>,
}

impl Episode {
    pub fn first(&self) -> Option<Timestamp> {
        self.instants.first().copied()
    }
}

/// Every instant of `schedules` in `(since, until]`, in order, deduplicated, at most `MAX_INSTANTS`.
pub fn instants(
    schedules: &[Schedule],
    tz: &TimeZone,
    since: Timestamp,
    until: Timestamp,
) -> Vec<Timestamp> {
    let mut out = BTreeSet::new();
    for schedule in schedules {
        let mut after = since;
        while out.len() < MAX_INSTANTS {
            let Some(next) = schedule.next_after(after, tz) else {
                break;
            };
            let t = next.timestamp();
            if t > until {
                break;
            }
            out.insert(t);
            after = t;
        }
    }
    out.into_iter().take(MAX_INSTANTS).collect()
}

/// The episodes of missed instants among `instants`, oldest first; `recorded` holds the fire times
/// (unix seconds) of the job's history records.
pub fn episodes(instants: &[Timestamp], recorded: &BTreeSet<i64>) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    let mut current: Vec<Timestamp> = Vec::new();
    for t in instants {
        if recorded.contains(&t.as_second()) {
            if !current.is_empty() {
                out.push(Episode {
                    instants: std::mem::take(&mut current),
                });
            }
        } else {
            current.push(*t);
        }
    }
    if !current.is_empty() {
        out.push(Episode { instants: current });
    }
    out
}

/// The newest episode that starts after the last alerted episode's start (`None`: all alerted).
pub fn episode_to_alert(episodes: &[Episode], last_alerted: Option<i64>) -> Option<&Episode> {
    episodes.iter().rev().find(|e| {
        e.first()
            .is_some_and(|f| last_alerted.is_none_or(|l| f.as_second() > l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn instants_are_the_union_of_the_schedules_in_the_window() {
        let schedules = [
            Schedule::parse("*/30 * * * *").unwrap(),
            Schedule::parse("0 * * * *").unwrap(),
        ];
        let got = instants(
            &schedules,
            &TimeZone::UTC,
            ts("2026-01-01T00:00:00Z"),
            ts("2026-01-01T01:30:00Z"),
        );
        let want: Vec<Timestamp> = ["00:30", "01:00", "01:30"]
            .iter()
            .map(|hm| ts(&format!("2026-01-01T{hm}:00Z")))
            .collect();
        assert_eq!(got, want, "the install instant itself is excluded");
    }

    #[test]
    fn missed_instants_form_episodes_split_by_recorded_fires() {
        let all: Vec<Timestamp> = (1..=6)
            .map(|m| ts(&format!("2026-01-01T00:0{m}:00Z")))
            .collect();
        let recorded: BTreeSet<i64> = [all[0], all[3]].iter().map(|t| t.as_second()).collect();
        let eps = episodes(&all, &recorded);
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].instants, all[1..3]);
        assert_eq!(eps[1].instants, all[4..6]);
        let newest = episode_to_alert(&eps, None).unwrap();
        assert_eq!(newest.first(), Some(all[4]));
        assert!(episode_to_alert(&eps, Some(all[4].as_second())).is_none());
        assert_eq!(
            episode_to_alert(&eps, Some(all[1].as_second()))
                .unwrap()
                .first(),
            Some(all[4])
        );
        assert!(episodes(&all, &all.iter().map(|t| t.as_second()).collect()).is_empty());
    }

    #[test]
    fn the_worst_case_covers_every_attempt_and_backoff() {
        let policy: Policy = serde_json::from_value(serde_json::json!({
            "concurrency": "Forbid", "concurrency_scope": "host", "timeout_seconds": 10,
            "retries": { "max_attempts": 3, "min_seconds": 1, "max_seconds": 4 }
        }))
        .unwrap();
        assert_eq!(worst_case_fire_seconds(&policy), 30 + 8 + 5);
    }
}
