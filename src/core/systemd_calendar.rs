//! A cron schedule as systemd `OnCalendar=` values with the same fire set (DESIGN §3).
//!
//! The base values read the five fields in the job's zone (systemd's zone suffix): one value, or two
//! where cron ORs a restricted day of the month with a restricted day of the week (a day field that
//! starts with `*` makes cron AND them, as one value does). Fields become lists, `a..b` ranges and
//! `a/n` repetitions, all forms systemd 252 parses. Where systemd and cron part ways across an offset
//! change — systemd skips a wall time in a spring-forward gap and fires a repeated wall time once,
//! where cron runs a fixed-time job right after the jump and a wildcard job in both passes — the
//! missing instants are added as absolute values in UTC, for the calendar years of [`ExtraWindow`].
//!
//! Pure: the zone and the window are passed in. Must not read the clock or the tz database.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

use crate::core::schedule::{DayRule, Schedule};

/// How many calendar years, from the apply's, carry the absolute DST values.
pub const EXTRA_YEARS: i16 = 3;

/// The calendar years whose DST differences are rendered: from 1 January (UTC) of the apply's year
/// for [`EXTRA_YEARS`] years. Aligned to years so a rendering changes once a year, not per apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraWindow {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl ExtraWindow {
    pub fn for_apply_at(now: Timestamp) -> ExtraWindow {
        let year = now.to_zoned(TimeZone::UTC).year();
        let first = |y: i16| {
            jiff::civil::date(y, 1, 1)
                .to_zoned(TimeZone::UTC)
                .map(|z| z.timestamp())
                .unwrap_or(now)
        };
        ExtraWindow {
            start: first(year),
            end: first(year.saturating_add(EXTRA_YEARS)),
        }
    }
}

/// Every `OnCalendar=` value of a schedule in `zone` (named `zone_name`): the base values, then the
/// absolute ones that close the DST differences in the window.
pub fn on_calendar(
    schedule: &Schedule,
    zone: &TimeZone,
    zone_name: &str,
    window: &ExtraWindow,
) -> Vec<String> {
    let mut values = base_values(schedule, zone_name);
    values.extend(extra_values(schedule, zone, window));
    values
}

/// The wall-clock values: `[WEEKDAYS ]*-MONTHS-DAYS HOURS:MINUTES:00 ZONE`.
pub fn base_values(schedule: &Schedule, zone_name: &str) -> Vec<String> {
    let time = format!(
        "{}:{}:00",
        numbers(u64::from(schedule.hours()), 0, 23),
        numbers(schedule.minutes(), 0, 59)
    );
    let months = numbers(u64::from(schedule.months()), 1, 12);
    let days = numbers(u64::from(schedule.days_of_month()), 1, 31);
    let weekdays = weekdays(schedule.days_of_week());
    let value = |weekdays: Option<&str>, days: &str| match weekdays {
        Some(w) => format!("{w} *-{months}-{days} {time} {zone_name}"),
        None => format!("*-{months}-{days} {time} {zone_name}"),
    };
    match (schedule.day_rule(), weekdays.as_deref()) {
        (_, None) => vec![value(None, &days)],
        (DayRule::Both, Some(w)) => vec![value(Some(w), &days)],
        (DayRule::Either, Some(_)) if days == "*" => vec![value(None, "*")],
        (DayRule::Either, Some(w)) => vec![value(None, &days), value(Some(w), "*")],
    }
}

/// A number field: `*` when every value in `lo..=hi` is set, an `a/n` repetition when the set is
/// every n-th value from `a` to the end, else a list of values and `a..b` runs (two digits).
fn numbers(bits: u64, lo: u32, hi: u32) -> String {
    let set: Vec<u32> = (lo..=hi).filter(|v| bits >> v & 1 == 1).collect();
    if set.len() == (hi - lo + 1) as usize {
        return "*".to_string();
    }
    if let Some(step) = repetition(&set, hi) {
        return format!("{:02}/{step}", set[0]);
    }
    runs(&set)
        .into_iter()
        .map(|(a, b)| match b - a {
            0 => format!("{a:02}"),
            1 => format!("{a:02},{b:02}"),
            _ => format!("{a:02}..{b:02}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The step when `set` is `a, a+n, a+2n, …` up to the last value `≤ hi` (at least three values).
fn repetition(set: &[u32], hi: u32) -> Option<u32> {
    let (&first, &second) = (set.first()?, set.get(1)?);
    let step = second - first;
    let regular = set.len() >= 3
        && step > 1
        && set.windows(2).all(|w| w[1] - w[0] == step)
        && set.last().is_some_and(|&last| last + step > hi);
    regular.then_some(step)
}

/// Maximal runs of consecutive values.
fn runs(set: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &v in set {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

/// The weekday part, Monday first as systemd writes it; `None` when every day is selected.
fn weekdays(bits: u8) -> Option<String> {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    // Position 0 = Monday (cron bit 1) … position 6 = Sunday (cron bit 0).
    let set: Vec<u32> = (0..7u32)
        .filter(|&p| bits >> ((p + 1) % 7) & 1 == 1)
        .collect();
    if set.len() == 7 {
        return None;
    }
    let parts: Vec<String> = runs(&set)
        .into_iter()
        .map(|(a, b)| {
            let (first, last) = (NAMES[a as usize], NAMES[b as usize]);
            match b - a {
                0 => first.to_string(),
                1 => format!("{first},{last}"),
                _ => format!("{first}..{last}"),
            }
        })
        .collect();
    Some(parts.join(","))
}

/// The instants cron fires and systemd's base values do not, on the local days around each offset
/// change of the window, as absolute UTC values (one per UTC hour, minutes listed).
pub fn extra_values(schedule: &Schedule, zone: &TimeZone, window: &ExtraWindow) -> Vec<String> {
    let mut by_hour: BTreeMap<(Date, i8), BTreeSet<i8>> = BTreeMap::new();
    for instant in missing_instants(schedule, zone, window) {
        let utc = instant.to_zoned(TimeZone::UTC);
        by_hour
            .entry((utc.date(), utc.hour()))
            .or_default()
            .insert(utc.minute());
    }
    by_hour
        .into_iter()
        .map(|((date, hour), minutes)| {
            let minutes: Vec<String> = minutes.iter().map(|m| format!("{m:02}")).collect();
            format!("{date} {hour:02}:{}:00 UTC", minutes.join(","))
        })
        .collect()
}

/// cron's fires minus systemd's, on the days around each offset change in the window.
pub fn missing_instants(
    schedule: &Schedule,
    zone: &TimeZone,
    window: &ExtraWindow,
) -> BTreeSet<Timestamp> {
    let mut missing = BTreeSet::new();
    for dates in change_days(zone, window) {
        let cron = cron_fires(schedule, zone, &dates);
        let systemd = systemd_fires(schedule, zone, &dates);
        missing.extend(
            cron.difference(&systemd)
                .filter(|t| **t >= window.start && **t < window.end),
        );
    }
    missing
}

/// For each offset change in the window: the local dates from the day before to the day after.
fn change_days(zone: &TimeZone, window: &ExtraWindow) -> Vec<BTreeSet<Date>> {
    zone.following(window.start)
        .take_while(|t| t.timestamp() < window.end)
        .map(|t| {
            let day = t.timestamp().to_zoned(zone.clone()).date();
            [-1i64, 0, 1]
                .iter()
                .filter_map(|d| day.checked_add(d.days()).ok())
                .collect()
        })
        .collect()
}

/// cron's fires (the project's next-fire search) whose local date is one of `dates`.
fn cron_fires(schedule: &Schedule, zone: &TimeZone, dates: &BTreeSet<Date>) -> BTreeSet<Timestamp> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return BTreeSet::new();
    };
    let start_of = |d: Date| {
        zone.to_zoned(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()
    };
    let (Some(from), Some(until)) = (
        start_of(*first),
        last.checked_add(1.day()).ok().and_then(start_of),
    ) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    let Ok(mut after) = from
        .timestamp()
        .checked_sub(jiff::SignedDuration::from_secs(1))
    else {
        return BTreeSet::new();
    };
    while let Some(next) = schedule.next_after(after, zone) {
        if next.timestamp() >= until.timestamp() {
            break;
        }
        if dates.contains(&next.date()) {
            out.insert(next.timestamp());
        }
        after = next.timestamp();
    }
    out
}

/// What systemd's base values fire on `dates`: every matching wall-clock minute that exists, at its
/// first occurrence when the clock shows it twice (observed with systemd 252).
fn systemd_fires(
    schedule: &Schedule,
    zone: &TimeZone,
    dates: &BTreeSet<Date>,
) -> BTreeSet<Timestamp> {
    let mut out = BTreeSet::new();
    for date in dates.iter().filter(|d| schedule.matches_date(**d)) {
        for hour in (0..24i8).filter(|h| schedule.hours() >> h & 1 == 1) {
            for minute in (0..60i8).filter(|m| schedule.minutes() >> m & 1 == 1) {
                let wall = DateTime::from_parts(*date, jiff::civil::time(hour, minute, 0, 0));
                let instant = match zone.to_ambiguous_timestamp(wall).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(wall).ok(),
                    AmbiguousOffset::Fold { before, .. } => before.to_timestamp(wall).ok(),
                    AmbiguousOffset::Gap { .. } => None,
                };
                out.extend(instant);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(expr: &str) -> Vec<String> {
        base_values(&Schedule::parse(expr).unwrap(), "UTC")
    }

    #[test]
    fn fields_render_as_lists_ranges_and_repetitions() {
        assert_eq!(base("* * * * *"), ["*-*-* *:*:00 UTC"]);
        assert_eq!(base("0 2 * * *"), ["*-*-* 02:00:00 UTC"]);
        assert_eq!(base("*/15 * * * *"), ["*-*-* *:00/15:00 UTC"]);
        assert_eq!(base("5-7,9 1,3 * * *"), ["*-*-* 01,03:05..07,09:00 UTC"]);
        assert_eq!(
            base("0 8-18/2 * * *"),
            ["*-*-* 08,10,12,14,16,18:00:00 UTC"]
        );
        assert_eq!(base("0 0 1 jan,jul *"), ["*-01,07-01 00:00:00 UTC"]);
        assert_eq!(base("@every 2h"), ["*-*-* 00/2:00:00 UTC"]);
    }

    #[test]
    fn weekdays_are_names_monday_first_and_sunday_is_0_or_7() {
        assert_eq!(base("0 9 * * 1-5"), ["Mon..Fri *-*-* 09:00:00 UTC"]);
        assert_eq!(base("0 9 * * sun,sat"), ["Sat,Sun *-*-* 09:00:00 UTC"]);
        assert_eq!(base("0 9 * * 7"), ["Sun *-*-* 09:00:00 UTC"]);
        assert_eq!(base("@weekly"), ["Sun *-*-* 00:00:00 UTC"]);
    }

    #[test]
    fn restricted_day_fields_are_ored_in_two_values_unless_one_starts_with_a_star() {
        assert_eq!(
            base("0 0 1,15 * 1"),
            ["*-*-01,15 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC"]
        );
        assert_eq!(base("0 0 */2 * 1"), ["Mon *-*-01/2 00:00:00 UTC"]);
        assert_eq!(base("0 0 1 * */2"), ["Tue,Thu,Sat,Sun *-*-01 00:00:00 UTC"]);
    }

    #[test]
    fn a_gap_time_gets_the_instant_right_after_the_jump() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let window = ExtraWindow::for_apply_at("2027-06-01T00:00:00Z".parse().unwrap());
        let schedule = Schedule::parse("30 2 * * *").unwrap();
        let extras = extra_values(&schedule, &paris, &window);
        assert!(
            extras.contains(&"2027-03-28 01:00:00 UTC".to_string()),
            "{extras:?}"
        );
        let wildcard = Schedule::parse("*/30 2 * * *").unwrap();
        assert!(
            !extra_values(&wildcard, &paris, &window)
                .iter()
                .any(|v| v.starts_with("2027-03-28")),
            "a wildcard job skips the gap, as cron does"
        );
    }

    #[test]
    fn a_wildcard_job_gets_the_second_pass_of_a_repeated_hour() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let window = ExtraWindow::for_apply_at("2026-06-01T00:00:00Z".parse().unwrap());
        let schedule = Schedule::parse("*/30 1 * * *").unwrap();
        let extras = extra_values(&schedule, &ny, &window);
        assert!(
            extras.contains(&"2026-11-01 06:00,30:00 UTC".to_string()),
            "{extras:?}"
        );
        let fixed = Schedule::parse("30 1 * * *").unwrap();
        assert!(extra_values(&fixed, &ny, &window).is_empty());
    }
}
