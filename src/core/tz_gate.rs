//! Per-job time zones on a cron that fires in the host's zone: whether a job's zone behaves like the
//! host's, the superset crontab entry that wakes the shim at least at every instant of a schedule in
//! the job's zone (the shim's gate then keeps exactly the real fires), what that costs in wake-ups,
//! and what the DST changes of the coming months do to a schedule.
//!
//! Pure: the zones and the time window are passed in. Must not read the clock, the environment or
//! the tz database, and must not decide at fire time (that is `Schedule::fires_at`).

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::core::schedule::Schedule;

const SECONDS_PER_MINUTE: i64 = 60;
const SECONDS_PER_DAY: i64 = 86_400;
const MINUTES_PER_DAY: usize = 1440;
/// A forward change shorter than this many minutes makes cron run every job due in the skipped
/// minutes (a late wake-up), wildcard jobs included.
const LATE_WAKEUP_MINUTES: i64 = 5;
/// Days a "year" of reports covers.
pub const REPORT_DAYS: i64 = 365;

/// The stretch of time whose offsets a rendered entry must be right for: from a year back to two
/// years ahead of the apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// The window of an apply at `now`: 366 days back to 732 days ahead.
    pub fn around(now: Timestamp) -> Window {
        Window {
            start: shifted(now, -366 * SECONDS_PER_DAY),
            end: shifted(now, 732 * SECONDS_PER_DAY),
        }
    }
}

/// The entry a gated schedule gets in the host's crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatedEntry {
    /// The five fields cron reads in the host's zone.
    pub expression: String,
    /// How often cron starts the shim on a day without an offset change in the host's zone.
    pub wakeups_per_day: u32,
}

/// Whether two zones have the same offset at every instant of the window (e.g. `UTC` and
/// `Etc/UTC`, or `America/New_York` and `US/Eastern`): then a job in one fires right from a crontab
/// read in the other, with no gate.
pub fn behaves_the_same(a: &TimeZone, b: &TimeZone, window: &Window) -> bool {
    offset_changes(a, window) == offset_changes(b, window)
}

/// The tightest of the superset entries this module knows for `schedule` in `job`, read by cron in
/// `host`: every instant of the schedule in the window is a minute where the entry fires.
///
/// Candidates: the host wall-clock (hour, minute) of every (hour, minute) of the schedule under each
/// pair of offsets the two zones have at the same time, plus, for fixed-time schedules with a time
/// of day in a spring-forward gap of the job's zone, the first minute after the jump (they fire
/// there). Forms, cheapest chosen:
/// `M H * * *` (only when the host zone never goes back: a fixed-time entry does not run in a
/// repeated host hour), `M * * * *` and `*/S H * * *` (wildcard entries, which cron runs by the wall
/// clock in both passes of a repeated hour).
pub fn gated_entry(
    schedule: &Schedule,
    job: &TimeZone,
    host: &TimeZone,
    window: &Window,
) -> GatedEntry {
    let candidates = host_wall_candidates(schedule, job, host, window);
    let host_goes_back = offset_changes(host, window)
        .windows(2)
        .any(|pair| pair[1].1 < pair[0].1);
    cheapest_entry(&candidates, !host_goes_back)
}

/// How many times the schedule fires in the `REPORT_DAYS` days starting on `now`'s date in `tz`,
/// counting each matching day's times once (DST changes aside).
pub fn fires_per_report_year(schedule: &Schedule, tz: &TimeZone, now: Timestamp) -> u32 {
    let per_day = schedule.minutes().count_ones() * schedule.hours().count_ones();
    let first = now.to_zoned(tz.clone()).date();
    let days = (0..REPORT_DAYS)
        .filter_map(|d| first.checked_add(jiff::Span::new().days(d)).ok())
        .filter(|date| schedule.matches_date(*date))
        .count();
    per_day.saturating_mul(u32::try_from(days).unwrap_or(u32::MAX))
}

/// What an offset change does to a schedule's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DstEffect {
    /// A wildcard job's times in a spring-forward gap: they do not happen.
    Skipped,
    /// A fixed-time job's times in a spring-forward gap: it runs once, right after the jump.
    Shifted,
    /// A fixed-time job's times in a repeated hour: it runs once, at the first pass.
    Deduplicated,
    /// A wildcard job's times in a repeated hour: it runs in both passes.
    Repeated,
}

/// One offset change that meets a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DstEvent {
    pub effect: DstEffect,
    /// The instant of the change (UTC, RFC 3339).
    pub transition: String,
    /// The local date of the change.
    pub date: String,
    /// The schedule's local times the change affects (`02:30`, or a run `02:00-02:59`).
    pub local_times: Vec<String>,
    /// `shifted`: the instant the run happens instead (UTC, RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_at: Option<String>,
}

/// The offset changes of `tz` in `from..=until` whose skipped or repeated wall-clock times hold
/// times of the schedule.
pub fn dst_events(
    schedule: &Schedule,
    tz: &TimeZone,
    from: Timestamp,
    until: Timestamp,
) -> Vec<DstEvent> {
    let mut events = Vec::new();
    for transition in tz.following(from) {
        let at = transition.timestamp();
        if at > until {
            break;
        }
        let before = tz.to_offset(shifted(at, -1));
        if let Some(event) = dst_event(schedule, at, before, transition.offset()) {
            events.push(event);
        }
    }
    events
}

fn dst_event(
    schedule: &Schedule,
    at: Timestamp,
    before: Offset,
    after: Offset,
) -> Option<DstEvent> {
    let change = i64::from(after.seconds()) - i64::from(before.seconds());
    if change == 0 {
        return None;
    }
    // Gap: the wall times from the jump (old offset) on are skipped. Fold: the wall times from the
    // change (new offset) on come twice.
    let first_wall = if change > 0 {
        before.to_datetime(at)
    } else {
        after.to_datetime(at)
    };
    let length = (change.abs() + SECONDS_PER_MINUTE - 1) / SECONDS_PER_MINUTE;
    let hit: Vec<jiff::civil::DateTime> = (0..length)
        .filter_map(|i| first_wall.checked_add(SignedDuration::from_mins(i)).ok())
        .filter(|wall| schedule.matches_wall_clock(*wall))
        .collect();
    if hit.is_empty() {
        return None;
    }
    let effect = match (change > 0, schedule.is_fixed_time()) {
        (true, true) => DstEffect::Shifted,
        (true, false) => DstEffect::Skipped,
        (false, true) => DstEffect::Deduplicated,
        (false, false) => DstEffect::Repeated,
    };
    let runs_at = (effect == DstEffect::Shifted).then(|| format!("{:.0}", ceil_to_minute(at)));
    Some(DstEvent {
        effect,
        transition: format!("{at:.0}"),
        date: first_wall.date().to_string(),
        local_times: minute_runs(&hit),
        runs_at,
    })
}

/// Consecutive minutes collapsed into `HH:MM-HH:MM` runs.
fn minute_runs(minutes: &[jiff::civil::DateTime]) -> Vec<String> {
    let mut runs: Vec<(jiff::civil::DateTime, jiff::civil::DateTime)> = Vec::new();
    for &minute in minutes {
        match runs.last_mut() {
            Some((_, last))
                if last.checked_add(SignedDuration::from_mins(1)).ok() == Some(minute) =>
            {
                *last = minute;
            }
            _ => runs.push((minute, minute)),
        }
    }
    let hh_mm = |t: jiff::civil::DateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    runs.into_iter()
        .map(|(first, last)| {
            if first == last {
                hh_mm(first)
            } else {
                format!("{}-{}", hh_mm(first), hh_mm(last))
            }
        })
        .collect()
}

/// The offset of `tz` at the window's start and every change of it inside the window, as (instant,
/// offset seconds).
fn offset_changes(tz: &TimeZone, window: &Window) -> Vec<(Timestamp, i32)> {
    let mut changes = vec![(window.start, tz.to_offset(window.start).seconds())];
    for transition in tz.following(window.start) {
        if transition.timestamp() > window.end {
            break;
        }
        let offset = transition.offset().seconds();
        if changes.last().map(|c| c.1) != Some(offset) {
            changes.push((transition.timestamp(), offset));
        }
    }
    changes
}

/// Host wall-clock minutes of the day (0..1440) at which the schedule can fire in the window.
fn host_wall_candidates(
    schedule: &Schedule,
    job: &TimeZone,
    host: &TimeZone,
    window: &Window,
) -> Vec<bool> {
    let mut wall = vec![false; MINUTES_PER_DAY];
    let job_changes = offset_changes(job, window);
    let host_changes = offset_changes(host, window);
    let times: Vec<i64> = times_of_day(schedule).collect();
    let mut selected = vec![false; MINUTES_PER_DAY];
    for time in &times {
        selected[minute_of_day(*time)] = true;
    }
    for shift in wall_shifts(&job_changes, &host_changes, job, host) {
        for time in &times {
            wall[minute_of_day(time + shift)] = true;
        }
    }
    for pair in job_changes.windows(2) {
        let (at, before, after) = (pair[1].0, pair[0].1, pair[1].1);
        let forward_minutes = i64::from(after - before) / SECONDS_PER_MINUTE;
        // Wall-clock minute of the day where the skipped stretch starts.
        let gap_start = (at.as_second() + i64::from(before)).div_euclid(SECONDS_PER_MINUTE);
        let skips_a_time = (0..forward_minutes).any(|m| selected[minute_of_day(gap_start + m)]);
        let fires_at_jump =
            skips_a_time && (schedule.is_fixed_time() || forward_minutes < LATE_WAKEUP_MINUTES);
        if fires_at_jump {
            let first_minute = ceil_to_minute(at);
            let local =
                first_minute.as_second() + i64::from(host.to_offset(first_minute).seconds());
            wall[minute_of_day(local.div_euclid(SECONDS_PER_MINUTE))] = true;
        }
    }
    wall
}

/// The schedule's (hour, minute) pairs as minutes of the day.
fn times_of_day(schedule: &Schedule) -> impl Iterator<Item = i64> + '_ {
    (0..24i64)
        .filter(|h| schedule.hours() >> h & 1 == 1)
        .flat_map(move |h| {
            (0..60i64)
                .filter(|m| schedule.minutes() >> m & 1 == 1)
                .map(move |m| h * 60 + m)
        })
}

/// Every difference, in minutes, between the host's and the job's wall clock at one instant of the
/// window. An offset difference that is not whole minutes gives both neighbouring minutes.
fn wall_shifts(
    job_changes: &[(Timestamp, i32)],
    host_changes: &[(Timestamp, i32)],
    job: &TimeZone,
    host: &TimeZone,
) -> Vec<i64> {
    let mut shifts: Vec<i64> = job_changes
        .iter()
        .chain(host_changes)
        .flat_map(|&(at, _)| {
            let difference =
                i64::from(host.to_offset(at).seconds()) - i64::from(job.to_offset(at).seconds());
            let floor = difference.div_euclid(SECONDS_PER_MINUTE);
            let ceil = floor + i64::from(difference.rem_euclid(SECONDS_PER_MINUTE) != 0);
            [floor, ceil]
        })
        .collect();
    shifts.sort_unstable();
    shifts.dedup();
    shifts
}

/// The cheapest entry covering every candidate (hour, minute); ties go to the earlier form.
fn cheapest_entry(candidates: &[bool], fixed_time_allowed: bool) -> GatedEntry {
    let mut minutes = 0u64;
    let mut hours = 0u64;
    for (k, _) in candidates.iter().enumerate().filter(|(_, on)| **on) {
        minutes |= 1 << (k % 60);
        hours |= 1 << (k / 60);
    }
    let (minute_count, hour_count) = (minutes.count_ones(), hours.count_ones());
    let step = minute_step(minutes);
    let step_field = if step == 1 {
        "*".to_string()
    } else {
        format!("*/{step}")
    };
    let mut forms = Vec::new();
    if fixed_time_allowed {
        forms.push((
            minute_count * hour_count,
            format!(
                "{} {} * * *",
                list_field(minutes, 60),
                list_field(hours, 24)
            ),
        ));
    }
    forms.push((
        24 * minute_count,
        format!("{} * * * *", list_field(minutes, 60)),
    ));
    forms.push((
        60 / step * hour_count,
        format!("{step_field} {} * * *", list_field(hours, 24)),
    ));
    let (wakeups_per_day, expression) = forms
        .into_iter()
        .min_by_key(|(cost, _)| *cost)
        .unwrap_or((24 * 60, "* * * * *".to_string()));
    GatedEntry {
        expression,
        wakeups_per_day,
    }
}

/// The largest step `S` (a divisor of 60 below 60) whose `*/S` holds every selected minute.
fn minute_step(minutes: u64) -> u32 {
    let divides_all = |step: u32| (0..60).all(|m| minutes >> m & 1 == 0 || m % step == 0);
    [30, 20, 15, 12, 10, 6, 5, 4, 3, 2]
        .into_iter()
        .find(|&step| divides_all(step))
        .unwrap_or(1)
}

/// A cron field listing the set bits of `bits` below `size`: `*` when all are set, runs of three
/// or more as ranges.
fn list_field(bits: u64, size: u32) -> String {
    if (0..size).all(|v| bits >> v & 1 == 1) {
        return "*".to_string();
    }
    let mut parts = Vec::new();
    let mut v = 0;
    while v < size {
        if bits >> v & 1 == 0 {
            v += 1;
            continue;
        }
        let start = v;
        while v + 1 < size && bits >> (v + 1) & 1 == 1 {
            v += 1;
        }
        match v - start {
            0 => parts.push(start.to_string()),
            1 => parts.push(format!("{start},{v}")),
            _ => parts.push(format!("{start}-{v}")),
        }
        v += 1;
    }
    parts.join(",")
}

fn minute_of_day(minutes: i64) -> usize {
    usize::try_from(minutes.rem_euclid(MINUTES_PER_DAY as i64)).unwrap_or(0)
}

fn ceil_to_minute(t: Timestamp) -> Timestamp {
    let second = t.as_second() + i64::from(t.subsec_nanosecond() > 0);
    let ceiled =
        (second + SECONDS_PER_MINUTE - 1).div_euclid(SECONDS_PER_MINUTE) * SECONDS_PER_MINUTE;
    Timestamp::from_second(ceiled).unwrap_or(t)
}

fn shifted(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn window() -> Window {
        Window::around("2026-06-01T00:00:00Z".parse().unwrap())
    }

    fn entry(expr: &str, job: &str, host: &str) -> GatedEntry {
        gated_entry(
            &Schedule::parse(expr).unwrap(),
            &zone(job),
            &zone(host),
            &window(),
        )
    }

    #[test]
    fn aliases_of_a_zone_behave_the_same_and_other_zones_do_not() {
        let w = window();
        assert!(behaves_the_same(&zone("UTC"), &zone("Etc/UTC"), &w));
        assert!(behaves_the_same(
            &zone("America/New_York"),
            &zone("US/Eastern"),
            &w
        ));
        assert!(!behaves_the_same(
            &zone("Europe/Paris"),
            &zone("Europe/London"),
            &w
        ));
        assert!(!behaves_the_same(&zone("UTC"), &zone("Asia/Kolkata"), &w));
    }

    #[test]
    fn a_utc_host_gets_hours_and_minutes_with_the_jump_minute_for_fixed_jobs() {
        // 02:30 Paris is 01:30Z (CET) or 00:30Z (CEST); the spring-forward jump is at 01:00Z.
        let e = entry("30 2 * * *", "Europe/Paris", "UTC");
        assert_eq!(e.expression, "0,30 0,1 * * *");
        assert_eq!(e.wakeups_per_day, 4);
    }

    #[test]
    fn a_wildcard_job_needs_no_jump_minute() {
        let e = entry("*/30 1 * * *", "Europe/Paris", "UTC");
        assert_eq!(e.expression, "0,30 0,23 * * *");
    }

    #[test]
    fn odd_offsets_move_the_minutes() {
        // 09:00 in Kathmandu (+05:45) is 03:15Z; in Kolkata (+05:30) 03:30Z.
        assert_eq!(
            entry("0 9 * * *", "Asia/Kathmandu", "UTC").expression,
            "15 3 * * *"
        );
        assert_eq!(
            entry("0 9 * * *", "Asia/Kolkata", "UTC").expression,
            "30 3 * * *"
        );
    }

    #[test]
    fn a_host_that_goes_back_gets_a_wildcard_entry() {
        let e = entry("30 2 * * *", "Europe/Paris", "America/New_York");
        let parsed = Schedule::parse(&e.expression).unwrap();
        assert!(!parsed.is_fixed_time(), "{}", e.expression);
        assert_eq!(e.expression, "*/30 20,21 * * *");
        assert_eq!(e.wakeups_per_day, 4);
    }

    #[test]
    fn an_every_minute_job_wakes_every_minute() {
        assert_eq!(
            entry("* * * * *", "Asia/Kolkata", "UTC").expression,
            "* * * * *"
        );
        assert_eq!(
            entry("* * 1 * *", "Asia/Kolkata", "America/New_York").expression,
            "* * * * *"
        );
    }

    #[test]
    fn lists_collapse_runs_into_ranges() {
        assert_eq!(list_field(0b1110_1011, 24), "0,1,3,5-7");
        assert_eq!(list_field((1 << 60) - 1, 60), "*");
        assert_eq!(minute_step(1 << 15 | 1 << 45), 15);
        assert_eq!(minute_step(1), 30);
        assert_eq!(minute_step(1 << 7), 1);
    }

    #[test]
    fn dst_events_name_skipped_shifted_deduplicated_and_repeated_times() {
        let ny = zone("America/New_York");
        let from: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2026-12-31T00:00:00Z".parse().unwrap();
        let fixed = dst_events(&Schedule::parse("30 2 * * *").unwrap(), &ny, from, until);
        assert_eq!(fixed.len(), 1, "{fixed:?}");
        assert_eq!(fixed[0].effect, DstEffect::Shifted);
        assert_eq!(fixed[0].local_times, ["02:30"]);
        assert_eq!(fixed[0].runs_at.as_deref(), Some("2026-03-08T07:00:00Z"));
        let twenty = dst_events(&Schedule::parse("*/20 * * * *").unwrap(), &ny, from, until);
        assert_eq!(twenty[0].effect, DstEffect::Skipped);
        assert_eq!(twenty[0].local_times, ["02:00", "02:20", "02:40"]);
        assert_eq!(twenty[1].effect, DstEffect::Repeated);
        assert_eq!(twenty[1].date, "2026-11-01");
        let one = dst_events(&Schedule::parse("30 1 * * *").unwrap(), &ny, from, until);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].effect, DstEffect::Deduplicated);
        let every = dst_events(&Schedule::parse("* * * * *").unwrap(), &ny, from, until);
        assert_eq!(every[0].local_times, ["02:00-02:59"]);
        assert!(dst_events(&Schedule::parse("0 12 * * *").unwrap(), &ny, from, until).is_empty());
    }

    #[test]
    fn fires_per_year_counts_matching_days() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let daily = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(fires_per_report_year(&daily, &TimeZone::UTC, now), 365);
        let monday_nine = Schedule::parse("0 9,17 * * 1").unwrap();
        assert_eq!(
            fires_per_report_year(&monday_nine, &TimeZone::UTC, now),
            2 * 52
        );
    }
}
