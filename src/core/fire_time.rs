//! The intended fire time of a fire: the schedule instant that a shim started by cron belongs to.
//!
//! Pure: the caller passes the start instant, the parsed schedules and the zone. Must not read the
//! clock.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, TimestampRound, Unit};

use crate::core::schedule::Schedule;

/// How far back a late start is still attributed to a schedule instant (cron under load, a slow host).
pub const LOOKBACK_MINUTES: i64 = 5;

/// The newest schedule instant in `[start minute − LOOKBACK_MINUTES, start minute]` over all of the
/// job's schedules; the start minute itself when none falls in that window (a manual fire).
pub fn intended_fire_time(start: Timestamp, schedules: &[Schedule], tz: &TimeZone) -> Timestamp {
    let minute = start_minute(start);
    let window_start = minute
        .checked_sub(SignedDuration::from_mins(LOOKBACK_MINUTES))
        .unwrap_or(minute);
    schedules
        .iter()
        .filter_map(|s| newest_instant_in(s, window_start, minute, tz))
        .max()
        .unwrap_or(minute)
}

/// `start` truncated to its minute (cron's resolution).
pub fn start_minute(start: Timestamp) -> Timestamp {
    start
        .round(
            TimestampRound::new()
                .smallest(Unit::Minute)
                .mode(jiff::RoundMode::Trunc),
        )
        .unwrap_or(start)
}

fn newest_instant_in(
    schedule: &Schedule,
    from: Timestamp,
    to: Timestamp,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let before_window = from.checked_sub(SignedDuration::from_secs(1)).ok()?;
    let mut cursor = before_window;
    let mut newest = None;
    while let Some(next) = schedule.next_after(cursor, tz).map(|z| z.timestamp()) {
        if next > to || next <= cursor {
            break;
        }
        newest = Some(next);
        cursor = next;
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_start_is_truncated_to_its_minute() {
        assert_eq!(
            start_minute(ts("2026-03-01T02:00:59.900Z")),
            ts("2026-03-01T02:00:00Z")
        );
    }

    #[test]
    fn with_no_schedule_instant_nearby_the_start_minute_is_used() {
        let got = intended_fire_time(ts("2026-03-01T02:03:17Z"), &[], &TimeZone::UTC);
        assert_eq!(got, ts("2026-03-01T02:03:00Z"));
    }

    #[test]
    fn a_late_start_belongs_to_the_schedule_instant_before_it() {
        let daily = Schedule::parse("0 2 * * *").unwrap();
        let got = intended_fire_time(ts("2026-03-01T02:03:17Z"), &[daily], &TimeZone::UTC);
        assert_eq!(got, ts("2026-03-01T02:00:00Z"));
    }

    #[test]
    fn the_newest_instant_over_all_schedules_wins_and_old_ones_do_not_count() {
        let schedules = [
            Schedule::parse("*/10 * * * *").unwrap(),
            Schedule::parse("3 * * * *").unwrap(),
        ];
        let got = intended_fire_time(ts("2026-03-01T02:04:30Z"), &schedules, &TimeZone::UTC);
        assert_eq!(got, ts("2026-03-01T02:03:00Z"));
        let hourly = [Schedule::parse("0 * * * *").unwrap()];
        let got = intended_fire_time(ts("2026-03-01T02:06:30Z"), &hourly, &TimeZone::UTC);
        assert_eq!(
            got,
            ts("2026-03-01T02:06:00Z"),
            "02:00 is outside the window"
        );
    }

    #[test]
    fn schedules_are_read_in_the_job_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let daily = [Schedule::parse("0 2 * * *").unwrap()];
        // 02:00 in Paris is 01:00Z in winter.
        let got = intended_fire_time(ts("2026-01-10T01:02:10Z"), &daily, &paris);
        assert_eq!(got, ts("2026-01-10T01:00:00Z"));
    }
}
