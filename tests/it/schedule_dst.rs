//! Fire times across DST changes, as Debian's cron(8) runs them (observed in America/New_York with
//! the real daemon under a sped-up clock), and the per-minute gate agreeing with the search.

use cronix::core::schedule::Schedule;
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn instant(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Every fire in `[from, until)`, as UTC instants.
fn fires_between(expr: &str, tz: &str, from: &str, until: &str) -> Vec<String> {
    let schedule = Schedule::parse(expr).unwrap();
    let tz = zone(tz);
    let until = instant(until);
    let mut after = instant(from) - jiff::SignedDuration::from_secs(1);
    let mut fires = Vec::new();
    while let Some(next) = schedule.next_after(after, &tz) {
        if next.timestamp() >= until {
            break;
        }
        fires.push(next.timestamp().to_string());
        after = next.timestamp();
    }
    fires
}

/// The same window, minute by minute through `fires_at`.
fn gated_between(expr: &str, tz: &str, from: &str, until: &str) -> Vec<String> {
    let schedule = Schedule::parse(expr).unwrap();
    let tz = zone(tz);
    let (from, until) = (instant(from), instant(until));
    let mut minute = from;
    let mut fires = Vec::new();
    while minute < until {
        if schedule.fires_at(minute, &tz) {
            fires.push(minute.to_string());
        }
        minute += jiff::SignedDuration::from_mins(1);
    }
    fires
}

fn assert_fires(expr: &str, tz: &str, day: (&str, &str), expected: &[&str]) {
    let searched = fires_between(expr, tz, day.0, day.1);
    assert_eq!(searched, expected, "next_after for {expr:?} in {tz}");
    let gated = gated_between(expr, tz, day.0, day.1);
    assert_eq!(gated, expected, "fires_at for {expr:?} in {tz}");
}

const NEW_YORK_SPRING: (&str, &str) = ("2026-03-08T04:00:00Z", "2026-03-08T09:00:00Z");
const NEW_YORK_FALL: (&str, &str) = ("2026-11-01T03:00:00Z", "2026-11-01T09:00:00Z");

#[test]
fn new_york_spring_forward_fixed_job_in_the_gap_runs_once_right_after_the_jump() {
    assert_fires(
        "30 2 * * *",
        "America/New_York",
        NEW_YORK_SPRING,
        &["2026-03-08T07:00:00Z"],
    );
}

#[test]
fn new_york_spring_forward_hour_list_is_a_fixed_job() {
    assert_fires(
        "0 1,2 * * *",
        "America/New_York",
        NEW_YORK_SPRING,
        &["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"],
    );
}

#[test]
fn new_york_spring_forward_several_skipped_times_give_one_run_merged_with_the_natural_fire() {
    assert_fires(
        "0,15,30 2,3 * * *",
        "America/New_York",
        NEW_YORK_SPRING,
        &[
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:15:00Z",
            "2026-03-08T07:30:00Z",
        ],
    );
}

#[test]
fn new_york_spring_forward_wildcard_job_follows_the_wall_clock() {
    assert_fires(
        "*/20 * * * *",
        "America/New_York",
        ("2026-03-08T06:15:00Z", "2026-03-08T07:30:00Z"),
        &[
            "2026-03-08T06:20:00Z",
            "2026-03-08T06:40:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:20:00Z",
        ],
    );
}

#[test]
fn new_york_spring_forward_wildcard_hour_in_the_gap_does_not_happen() {
    assert_fires("*/30 2 * * *", "America/New_York", NEW_YORK_SPRING, &[]);
}

#[test]
fn new_york_fall_back_fixed_job_in_the_repeated_hour_runs_once() {
    assert_fires(
        "30 1 * * *",
        "America/New_York",
        NEW_YORK_FALL,
        &["2026-11-01T05:30:00Z"],
    );
}

#[test]
fn new_york_fall_back_hour_list_runs_at_the_first_one_oclock_and_at_two() {
    assert_fires(
        "0 1,2 * * *",
        "America/New_York",
        NEW_YORK_FALL,
        &["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"],
    );
}

#[test]
fn new_york_fall_back_wildcard_minute_job_runs_in_both_one_oclock_hours() {
    assert_fires(
        "*/30 1 * * *",
        "America/New_York",
        NEW_YORK_FALL,
        &[
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
        ],
    );
}

#[test]
fn london_spring_forward_fixed_job_in_the_gap_runs_at_two_bst() {
    // 2026-03-29: 01:00 GMT becomes 02:00 BST at 01:00Z.
    assert_fires(
        "30 1 * * *",
        "Europe/London",
        ("2026-03-29T00:00:00Z", "2026-03-29T04:00:00Z"),
        &["2026-03-29T01:00:00Z"],
    );
    assert_fires(
        "15 * * * *",
        "Europe/London",
        ("2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z"),
        &[
            "2026-03-29T00:15:00Z",
            "2026-03-29T01:15:00Z",
            "2026-03-29T02:15:00Z",
        ],
    );
}

#[test]
fn london_fall_back_fixed_job_runs_once_and_wildcard_hourly_runs_twice() {
    // 2026-10-25: 02:00 BST becomes 01:00 GMT at 01:00Z.
    let night = ("2026-10-24T23:00:00Z", "2026-10-25T04:00:00Z");
    assert_fires(
        "45 1 * * *",
        "Europe/London",
        night,
        &["2026-10-25T00:45:00Z"],
    );
    assert_fires(
        "@hourly",
        "Europe/London",
        night,
        &[
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z",
        ],
    );
}

#[test]
fn lord_howe_half_hour_spring_forward() {
    // 2026-10-04: 02:00 +10:30 becomes 02:30 +11 at 15:30Z the day before.
    let night = ("2026-10-03T14:00:00Z", "2026-10-03T17:00:00Z");
    assert_fires(
        "15 2 * * *",
        "Australia/Lord_Howe",
        night,
        &["2026-10-03T15:30:00Z"],
    );
    assert_fires(
        "45 2 * * *",
        "Australia/Lord_Howe",
        night,
        &["2026-10-03T15:45:00Z"],
    );
    assert_fires(
        "*/20 2 * * *",
        "Australia/Lord_Howe",
        night,
        &["2026-10-03T15:40:00Z"],
    );
}

#[test]
fn lord_howe_half_hour_fall_back() {
    // 2026-04-05: 02:00 +11 becomes 01:30 +10:30 at 15:00Z the day before.
    let night = ("2026-04-04T13:00:00Z", "2026-04-04T17:00:00Z");
    assert_fires(
        "45 1 * * *",
        "Australia/Lord_Howe",
        night,
        &["2026-04-04T14:45:00Z"],
    );
    // Only 01:30..01:59 repeat: 01:15 happens once anyway, and 02:00 comes after the repeat.
    assert_fires(
        "15 1,2 * * *",
        "Australia/Lord_Howe",
        night,
        &["2026-04-04T14:15:00Z", "2026-04-04T15:45:00Z"],
    );
    assert_fires(
        "*/15 1 * * *",
        "Australia/Lord_Howe",
        night,
        &[
            "2026-04-04T14:00:00Z",
            "2026-04-04T14:15:00Z",
            "2026-04-04T14:30:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:15:00Z",
        ],
    );
}

#[test]
fn odd_offsets_fire_on_the_local_wall_clock() {
    assert_fires(
        "0 9 * * *",
        "Asia/Kathmandu",
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
        &["2026-06-01T03:15:00Z"],
    );
    assert_fires(
        "30 23 * * *",
        "Asia/Kolkata",
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
        &["2026-06-01T18:00:00Z"],
    );
}

#[test]
fn next_after_is_strictly_after_and_shows_the_zone_offset() {
    let schedule = Schedule::parse("0 3 * * *").unwrap();
    let tz = zone("America/New_York");
    let first = schedule
        .next_after(instant("2026-03-08T06:59:59Z"), &tz)
        .unwrap();
    assert_eq!(
        first
            .timestamp()
            .display_with_offset(first.offset())
            .to_string(),
        "2026-03-08T03:00:00-04:00"
    );
    let second = schedule.next_after(first.timestamp(), &tz).unwrap();
    assert_eq!(second.timestamp().to_string(), "2026-03-09T07:00:00Z");
}

#[test]
fn sparse_schedules_are_found_far_ahead() {
    let utc = TimeZone::UTC;
    let leap = Schedule::parse("0 0 29 2 *").unwrap();
    let next = leap
        .next_after(instant("2027-01-01T00:00:00Z"), &utc)
        .unwrap();
    assert_eq!(next.timestamp().to_string(), "2028-02-29T00:00:00Z");
    // Both day fields with a leading '*': Feb 29 that is also a Sunday.
    let leap_sunday = Schedule::parse("0 0 29 2 */7").unwrap();
    let next = leap_sunday
        .next_after(instant("2026-01-01T00:00:00Z"), &zone("America/New_York"))
        .unwrap();
    assert_eq!(next.timestamp().to_string(), "2032-02-29T05:00:00Z");
}

#[test]
fn end_of_time_gives_none_instead_of_a_panic() {
    let schedule = Schedule::parse("0 0 1 1 *").unwrap();
    assert!(
        schedule
            .next_after(instant("9999-06-01T00:00:00Z"), &TimeZone::UTC)
            .is_none()
    );
    assert!(!schedule.fires_at(Timestamp::MAX, &TimeZone::UTC));
    assert!(!schedule.fires_at(Timestamp::MIN, &TimeZone::UTC));
}

#[test]
fn wildcard_times_that_always_fall_into_the_gap_never_happen() {
    // 02:xx on Sunday 9 March: in New York that Sunday is always the spring-forward day.
    let schedule = Schedule::parse("* 2 9 3 */7").unwrap();
    let after = instant("2026-01-01T00:00:00Z");
    assert!(
        schedule
            .next_after(after, &zone("America/New_York"))
            .is_none()
    );
    let in_utc = schedule.next_after(after, &TimeZone::UTC).unwrap();
    assert_eq!(in_utc.timestamp().to_string(), "2031-03-09T02:00:00Z");
    // The fixed-time form runs right after the jump instead.
    let fixed = Schedule::parse("30 2 9 3 */7").unwrap();
    let next = fixed.next_after(after, &zone("America/New_York")).unwrap();
    assert_eq!(next.timestamp().to_string(), "2031-03-09T07:00:00Z");
}
