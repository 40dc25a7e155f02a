//! When a schedule fires: the per-minute gate (`fires_at`) and the next-fire search (`next_after`),
//! both reproducing how Vixie/Debian cron(8) walks the clock across offset changes.
//!
//! cron compares each wall-clock minute with the one it saw a minute earlier (its "virtual time").
//! With `jump` = this local minute − the previous one:
//! - `1`: ordinary minute, every job that matches runs;
//! - `2..=5`: cron woke late and runs every job for each missed minute (once here, merged);
//! - `6..=180` (spring forward): wildcard jobs run for the current minute only; fixed-time jobs run
//!   once for all the skipped minutes and the current one;
//! - `> 180`: a clock reset; jobs run for the current minute only;
//! - `-179..=0` (fall back): wildcard jobs run by the wall clock; fixed-time jobs do not run again
//!   until the wall clock passes the last minute seen before the change;
//! - `<= -180`: a clock reset; jobs run for the current minute only.
//!
//! Must not read the clock; the zone is passed in. Sparse schedules are found by skipping whole
//! months, days and hours, never by scanning minutes.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::Schedule;
use super::calendar::{self, DAYS_PER_CYCLE, MINUTES_PER_DAY};

const SECONDS_PER_MINUTE: i64 = 60;
/// cron(8) treats a jump of more than three hours as a clock reset rather than a DST change.
const CLOCK_RESET_MINUTES: i64 = 180;
/// cron(8) runs every job for each missed minute when it is at most this many minutes behind.
const LATE_WAKEUP_MINUTES: i64 = 5;
/// How far the search looks, in days: a 400-year cycle plus a year.
const SEARCH_HORIZON_DAYS: i64 = DAYS_PER_CYCLE + 366;

impl Schedule {
    /// The first fire strictly after `after`, read in `tz`. `None` past the end of the representable
    /// time range, or when no fire happens within 400 years in this zone: a wildcard schedule whose
    /// only times always fall into a DST gap (`* 2 9 3 */7`: 02:xx on Sunday 9 March, in New York).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Zoned> {
        let first_candidate = (floor_seconds(after).div_euclid(SECONDS_PER_MINUTE) + 1) * 60;
        let fire = self.next_fire_second(first_candidate, tz)?;
        Timestamp::from_second(fire)
            .ok()
            .map(|t| t.to_zoned(tz.clone()))
    }

    /// Whether cron runs this schedule at the minute containing `minute` (truncated to its minute),
    /// read in `tz`. Agrees with `next_after`; no allocation.
    pub fn fires_at(&self, minute: Timestamp, tz: &TimeZone) -> bool {
        let second = floor_seconds(minute).div_euclid(SECONDS_PER_MINUTE) * SECONDS_PER_MINUTE;
        self.fires_at_second(second, tz).unwrap_or(false)
    }

    fn fires_at_second(&self, second: i64, tz: &TimeZone) -> Option<bool> {
        let local = local_minute(second, tz)?;
        let jump = local - local_minute(second - SECONDS_PER_MINUTE, tz)?;
        if jump != 1 {
            return Some(self.fires_after_jump(local, jump));
        }
        if !self.matches_local_minute(local) {
            return Some(false);
        }
        if !self.fixed_time {
            return Some(true);
        }
        Some(match fold_watermark(second, tz) {
            Some(last_seen) => local > last_seen,
            None => true,
        })
    }

    /// cron's decision at a minute whose local time moved by `jump` minutes since the previous one.
    fn fires_after_jump(&self, local: i64, jump: i64) -> bool {
        let any_since_previous =
            || ((local - jump + 1)..=local).any(|m| self.matches_local_minute(m));
        match jump {
            1 => self.matches_local_minute(local),
            2..=LATE_WAKEUP_MINUTES => any_since_previous(),
            j if j > LATE_WAKEUP_MINUTES && j <= CLOCK_RESET_MINUTES => {
                if self.fixed_time {
                    any_since_previous()
                } else {
                    self.matches_local_minute(local)
                }
            }
            j if j > -CLOCK_RESET_MINUTES && j <= 0 => {
                !self.fixed_time && self.matches_local_minute(local)
            }
            _ => self.matches_local_minute(local),
        }
    }

    /// The first fire at or after the minute-aligned `second`, walking stretches of constant offset.
    fn next_fire_second(&self, mut second: i64, tz: &TimeZone) -> Option<i64> {
        let horizon =
            second.checked_add(SEARCH_HORIZON_DAYS * MINUTES_PER_DAY * SECONDS_PER_MINUTE)?;
        while second <= horizon {
            let local = local_minute(second, tz)?;
            let jump = local - local_minute(second - SECONDS_PER_MINUTE, tz)?;
            if jump != 1 {
                if self.fires_after_jump(local, jump) {
                    return Some(second);
                }
                second += SECONDS_PER_MINUTE;
                continue;
            }
            // From here to the next transition, local minute = physical minute + shift.
            let shift = local - second / SECONDS_PER_MINUTE;
            let stretch_end = next_transition_minute(second, tz);
            let mut from = local;
            if self.fixed_time
                && let Some(last_seen) = fold_watermark(second, tz)
            {
                from = from.max(last_seen + 1);
            }
            let until = stretch_end.map_or(i64::MAX, |end| end / SECONDS_PER_MINUTE + shift);
            if let Some(found) = self.first_wall_match(from, until) {
                return Some((found - shift) * SECONDS_PER_MINUTE);
            }
            second = stretch_end?;
        }
        None
    }

    /// The first wall-clock minute in `from..until` that matches all five fields, skipping months and
    /// days that cannot match.
    fn first_wall_match(&self, from: i64, until: i64) -> Option<i64> {
        let mut day_number = from.div_euclid(MINUTES_PER_DAY);
        let mut start_of_search = from.rem_euclid(MINUTES_PER_DAY);
        let last_day = day_number + SEARCH_HORIZON_DAYS;
        while day_number <= last_day && day_number.checked_mul(MINUTES_PER_DAY)? < until {
            let date = calendar::date_of_day(day_number);
            if self.months >> date.month & 1 == 0 {
                day_number = self.first_day_of_next_selected_month(date.year, date.month);
                start_of_search = 0;
                continue;
            }
            if self.matches_day(day_number)
                && let Some(minute_of_day) = self.first_time_of_day_from(start_of_search)
            {
                let found = day_number * MINUTES_PER_DAY + minute_of_day;
                return (found < until).then_some(found);
            }
            day_number += 1;
            start_of_search = 0;
        }
        None
    }

    /// The first day of the next month after (`year`, `month`) that the month field selects.
    fn first_day_of_next_selected_month(&self, year: i64, month: u32) -> i64 {
        let later_this_year = (month + 1..=12).find(|m| self.months >> m & 1 == 1);
        match later_this_year {
            Some(next) => calendar::first_day_of_month(year, next),
            None => {
                let first = u32::from(self.months).trailing_zeros().clamp(1, 12);
                calendar::first_day_of_month(year + 1, first)
            }
        }
    }

    /// The first selected hour:minute at or after `minute_of_day`, as minutes since midnight.
    fn first_time_of_day_from(&self, minute_of_day: i64) -> Option<i64> {
        let hour = (minute_of_day / 60) as u32;
        let minute = (minute_of_day % 60) as u32;
        if self.hours >> hour & 1 == 1
            && let Some(m) = lowest_bit_from(self.minutes, minute)
        {
            return Some(i64::from(hour * 60 + m));
        }
        let next_hour = lowest_bit_from(u64::from(self.hours), hour + 1)?;
        let first_minute = lowest_bit_from(self.minutes, 0)?;
        Some(i64::from(next_hour * 60 + first_minute))
    }
}

/// The lowest set bit at position `from` or above.
fn lowest_bit_from(bits: u64, from: u32) -> Option<u32> {
    let masked = bits.checked_shr(from)?.checked_shl(from)?;
    (masked != 0).then(|| masked.trailing_zeros())
}

/// Whole seconds of `t`, rounded towards the past.
fn floor_seconds(t: Timestamp) -> i64 {
    let second = t.as_second();
    if t.subsec_nanosecond() < 0 {
        second - 1
    } else {
        second
    }
}

/// The wall-clock minute (minutes since 1970-01-01T00:00 local) at the instant `second`.
fn local_minute(second: i64, tz: &TimeZone) -> Option<i64> {
    let timestamp = Timestamp::from_second(second).ok()?;
    let offset = i64::from(tz.to_offset(timestamp).seconds());
    Some((second + offset).div_euclid(SECONDS_PER_MINUTE))
}

/// The first minute-aligned instant at or after the next offset transition strictly after `second`.
fn next_transition_minute(second: i64, tz: &TimeZone) -> Option<i64> {
    let timestamp = Timestamp::from_second(second).ok()?;
    let transition = tz.following(timestamp).next()?;
    Some(ceil_to_minute(floor_seconds(transition.timestamp())))
}

/// After a fall-back at or before `second`: the last local minute cron saw before the change.
/// Fixed-time jobs stay silent until the wall clock passes it.
fn fold_watermark(second: i64, tz: &TimeZone) -> Option<i64> {
    let just_after = Timestamp::from_second(second.checked_add(1)?).ok()?;
    let transition = tz.preceding(just_after).next()?;
    let change = ceil_to_minute(floor_seconds(transition.timestamp()));
    if change > second {
        return None;
    }
    let local_at_change = local_minute(change, tz)?;
    let jump = local_at_change - local_minute(change - SECONDS_PER_MINUTE, tz)?;
    (jump > -CLOCK_RESET_MINUTES && jump <= 0).then_some(local_at_change - jump)
}

fn ceil_to_minute(second: i64) -> i64 {
    (second + SECONDS_PER_MINUTE - 1).div_euclid(SECONDS_PER_MINUTE) * SECONDS_PER_MINUTE
}
