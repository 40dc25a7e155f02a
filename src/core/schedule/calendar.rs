//! Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
//!
//! Owns the conversions the fire search needs in its inner loop, without allocation or time-zone
//! lookups. Must not know about schedules or offsets.

pub(super) const MINUTES_PER_DAY: i64 = 1440;

/// Days in a 400-year Gregorian cycle: every calendar pattern recurs within it.
pub(super) const DAYS_PER_CYCLE: i64 = 146_097;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    pub(super) year: i64,
    pub(super) month: u32,
    pub(super) day: u32,
}

/// The date of a day number (Howard Hinnant's `civil_from_days`).
pub(super) fn date_of_day(day_number: i64) -> Date {
    let z = day_number + 719_468;
    let era = z.div_euclid(DAYS_PER_CYCLE);
    let day_of_era = z.rem_euclid(DAYS_PER_CYCLE);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Date {
        year,
        month: month as u32,
        day: day as u32,
    }
}

/// The day number of the first day of `month` in `year` (Howard Hinnant's `days_from_civil`).
pub(super) fn first_day_of_month(year: i64, month: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * shifted_month + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_CYCLE + day_of_era - 719_468
}

/// Day of the week, Sunday = 0 (1970-01-01 was a Thursday).
pub(super) fn weekday_of_day(day_number: i64) -> u32 {
    (day_number + 4).rem_euclid(7) as u32
}

pub(super) fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(super) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The most days `month` ever has (February: 29).
pub(super) fn longest_month_length(month: u32) -> u32 {
    days_in_month(2000, month)
}

pub(super) fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_through_dates() {
        for day_number in (-800_000..800_000).step_by(997) {
            let date = date_of_day(day_number);
            let back = first_day_of_month(date.year, date.month) + i64::from(date.day) - 1;
            assert_eq!(back, day_number, "{date:?}");
            assert!(date.day <= days_in_month(date.year, date.month));
        }
    }

    #[test]
    fn known_dates_and_weekdays() {
        assert_eq!(
            date_of_day(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(weekday_of_day(0), 4);
        let leap_day = first_day_of_month(2028, 2) + 28;
        assert_eq!(
            date_of_day(leap_day),
            Date {
                year: 2028,
                month: 2,
                day: 29
            }
        );
        // 2026-03-08 is a Sunday.
        assert_eq!(weekday_of_day(first_day_of_month(2026, 3) + 7), 0);
        assert!(!is_leap_year(2100) && is_leap_year(2000));
    }
}
