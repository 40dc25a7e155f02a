//! The schedule grammar: what cron(8) accepts is accepted with the same meaning, everything else is
//! rejected with a reason and a fix, and what goes into the crontab is the plain five-field form.

use cronix::core::schedule::{DayRule, MAX_EXPRESSION_BYTES, Schedule};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn parse(expr: &str) -> Schedule {
    Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
}

fn rejection(expr: &str) -> String {
    match Schedule::parse(expr) {
        Ok(schedule) => panic!("{expr:?} should be rejected, parsed as {schedule:?}"),
        Err(error) => error.message,
    }
}

/// The first `count` fires after `after`, in UTC, as dates and times.
fn next_fires(expr: &str, after: &str, count: usize) -> Vec<String> {
    let schedule = parse(expr);
    let mut after: Timestamp = after.parse().unwrap();
    let mut fires = Vec::new();
    for _ in 0..count {
        let next = schedule.next_after(after, &TimeZone::UTC).unwrap();
        fires.push(next.datetime().to_string());
        after = next.timestamp();
    }
    fires
}

fn values(bits: u64) -> Vec<u32> {
    (0..64).filter(|v| bits >> v & 1 == 1).collect()
}

#[test]
fn a_day_field_starting_with_star_makes_both_day_fields_required() {
    // Odd days of the month that are also Mondays.
    assert_eq!(parse("0 9 */2 * 1").day_rule(), DayRule::Both);
    assert_eq!(
        next_fires("0 9 */2 * 1", "2026-06-01T00:00:00Z", 5),
        [
            "2026-06-01T09:00:00",
            "2026-06-15T09:00:00",
            "2026-06-29T09:00:00",
            "2026-07-13T09:00:00",
            "2026-07-27T09:00:00",
        ]
    );
}

#[test]
fn two_restricted_day_fields_match_either() {
    // The 13th, and every Friday.
    assert_eq!(parse("0 9 13 * 5").day_rule(), DayRule::Either);
    assert_eq!(
        next_fires("0 9 13 * 5", "2026-06-01T00:00:00Z", 5),
        [
            "2026-06-05T09:00:00",
            "2026-06-12T09:00:00",
            "2026-06-13T09:00:00",
            "2026-06-19T09:00:00",
            "2026-06-26T09:00:00",
        ]
    );
}

#[test]
fn a_star_in_the_day_of_week_field_keeps_the_day_of_month_alone() {
    assert_eq!(
        next_fires("0 0 1,15 * *", "2026-06-01T00:00:00Z", 3),
        [
            "2026-06-15T00:00:00",
            "2026-07-01T00:00:00",
            "2026-07-15T00:00:00"
        ]
    );
    assert_eq!(
        next_fires("0 0 * * sun", "2026-06-01T00:00:00Z", 2),
        ["2026-06-07T00:00:00", "2026-06-14T00:00:00"]
    );
}

#[test]
fn day_of_week_seven_is_sunday() {
    assert_eq!(parse("0 0 * * 7").days_of_week(), 0b1);
    assert_eq!(parse("0 0 * * 0").days_of_week(), 0b1);
    assert_eq!(
        values(parse("0 0 * * 5-7").days_of_week().into()),
        [0, 5, 6]
    );
    assert_eq!(
        next_fires("0 0 * * 7", "2026-06-01T00:00:00Z", 2),
        ["2026-06-07T00:00:00", "2026-06-14T00:00:00"]
    );
}

#[test]
fn month_and_day_names_in_any_case_lists_and_ranges() {
    let schedule = parse("0 0 * JAN,jul Mon-fri");
    assert_eq!(values(schedule.months().into()), [1, 7]);
    assert_eq!(values(schedule.days_of_week().into()), [1, 2, 3, 4, 5]);
    assert_eq!(schedule.crontab_expression(), "0 0 * JAN,jul Mon-fri");
    assert_eq!(
        values(parse("0 0 1 feb-dec/3 *").months().into()),
        [2, 5, 8, 11]
    );
}

#[test]
fn ranges_with_steps_and_lists() {
    let schedule = parse("1-59/15,7 8-18/5 */10 * *");
    assert_eq!(values(schedule.minutes()), [1, 7, 16, 31, 46]);
    assert_eq!(values(schedule.hours().into()), [8, 13, 18]);
    assert_eq!(values(schedule.days_of_month().into()), [1, 11, 21, 31]);
    assert_eq!(
        values(schedule.months().into()),
        (1..=12).collect::<Vec<_>>()
    );
}

#[test]
fn every_shortcut_translates_to_five_fields() {
    let cases = [
        ("@hourly", "0 * * * *", false),
        ("@daily", "0 0 * * *", true),
        ("@midnight", "0 0 * * *", true),
        ("@weekly", "0 0 * * 0", true),
        ("@monthly", "0 0 1 * *", true),
        ("@yearly", "0 0 1 1 *", true),
        ("@annually", "0 0 1 1 *", true),
    ];
    for (shortcut, fields, fixed) in cases {
        let schedule = parse(shortcut);
        assert_eq!(schedule.crontab_expression(), fields, "{shortcut}");
        assert_eq!(schedule.is_fixed_time(), fixed, "{shortcut}");
        assert_eq!(schedule.source(), shortcut);
    }
}

#[test]
fn every_accepts_intervals_cron_repeats_exactly() {
    let cases = [
        ("@every 1m", "*/1 * * * *"),
        ("@every 60s", "*/1 * * * *"),
        ("@every 120s", "*/2 * * * *"),
        ("@every 5m", "*/5 * * * *"),
        ("@every 15m", "*/15 * * * *"),
        ("@every 30m", "*/30 * * * *"),
        ("@every 60m", "0 */1 * * *"),
        ("@every 1h", "0 */1 * * *"),
        ("@every 2h", "0 */2 * * *"),
        ("@every 6h", "0 */6 * * *"),
        ("@every 12h", "0 */12 * * *"),
        ("@every 24h", "0 0 * * *"),
        ("@every   10m", "*/10 * * * *"),
    ];
    for (expr, fields) in cases {
        assert_eq!(parse(expr).crontab_expression(), fields, "{expr}");
    }
    assert!(!parse("@every 2h").is_fixed_time());
}

#[test]
fn every_rejects_what_cron_cannot_repeat_exactly_and_suggests_the_nearest() {
    let cases = [
        (
            "@every 7m",
            "7 does not divide 60",
            "nearest: @every 6m (*/6 * * * *) or @every 10m (*/10 * * * *)",
        ),
        (
            "@every 45m",
            "45 does not divide 60",
            "nearest: @every 30m (*/30 * * * *) or @every 1h (0 */1 * * *)",
        ),
        (
            "@every 90m",
            "not a whole number of hours",
            "nearest: @every 1h (0 */1 * * *) or @every 2h (0 */2 * * *)",
        ),
        (
            "@every 5h",
            "5 does not divide 24",
            "nearest: @every 4h (0 */4 * * *) or @every 6h (0 */6 * * *)",
        ),
        (
            "@every 30s",
            "shorter than cron's one-minute resolution",
            "nearest: @every 1m (*/1 * * * *)",
        ),
        (
            "@every 90s",
            "not a whole number of minutes",
            "nearest: @every 1m (*/1 * * * *) or @every 2m (*/2 * * * *)",
        ),
        (
            "@every 0m",
            "shorter than cron's one-minute resolution",
            "nearest: @every 1m",
        ),
        (
            "@every 36h",
            "longer than a day",
            "nearest: @every 24h (0 0 * * *)",
        ),
        ("@every 1d", "days are not supported", "@daily"),
        ("@every 1h30m", "single unit", "@every 90m"),
        ("@every 15", "needs a unit", "15m"),
        ("@every", "needs an interval", "@every 15m"),
        ("@every m", "must start with a number", "@every 15m"),
        ("@every 5x", "unknown unit", "s, m or h"),
        ("@every 99999999999999999999m", "too large", "@every 24h"),
    ];
    for (expr, why, fix) in cases {
        let message = rejection(expr);
        assert!(message.contains(why), "{expr}: {message}");
        assert!(message.contains(fix), "{expr}: {message}");
    }
}

#[test]
fn rejected_expressions_say_what_is_wrong_and_how_to_fix_it() {
    let cases = [
        ("0 2 * *", "has 4 fields, cron needs 5"),
        ("0 0 2 * * *", "has 6 fields, cron needs 5"),
        ("0 0 2 * * * 2026", "has 7 fields"),
        ("*", "has 1 field, cron needs 5"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("0 0 ? * *", "'?' is Quartz syntax"),
        ("0 0 L * *", "'L' (last day)"),
        ("0 0 * * 5L", "'L' (last day)"),
        ("0 0 15W * *", "'W' (nearest weekday)"),
        ("0 0 * * 1#2", "'#' (nth weekday"),
        ("@reboot", "@reboot runs when the cron daemon starts"),
        ("@DAILY", "shortcuts are lowercase: @daily"),
        ("@fortnightly", "unknown shortcut @fortnightly"),
        ("@daily 5", "takes nothing after it"),
        ("0 0 * * * %", "'%'"),
        ("0\t0 * * *", "contains a tab"),
        ("0 0 * * *\n* * * * *", "control character U+000A"),
        ("0 0 * * *\r", "control character U+000D"),
        ("0 0 * * \u{0}", "control character U+0000"),
        (
            "60 * * * *",
            "minute field \"60\": 60 is out of range; the minute field takes 0-59",
        ),
        ("0 24 * * *", "hour field \"24\": 24 is out of range"),
        ("0 0 0 * *", "day-of-month field \"0\": 0 is out of range"),
        ("0 0 32 * *", "out of range"),
        (
            "0 0 * 13 *",
            "out of range; the month field takes 1-12 or jan-dec",
        ),
        ("0 0 * * 8", "out of range; the day-of-week field takes 0-7"),
        ("5-1 * * * *", "range 5-1 runs backwards"),
        (
            "0 22-2 * * *",
            "runs backwards; cron ranges go from low to high, so split it into a list: 22-23,0-2",
        ),
        ("0 0 * * sat-sun", "split it into a list: sat-7,0-sun"),
        ("*/0 * * * *", "step 0 never advances"),
        (
            "0 */9999999999 * * *",
            "step 9999999999 has more than 9 digits",
        ),
        ("1,,2 * * * *", "empty list item"),
        ("1, * * * *", "minute field \"1,\" has an empty list item"),
        ("0 0 1, * *", "empty list item"),
        (
            "5/15 * * * *",
            "a step needs a range: write 5-59/15 or */15",
        ),
        ("0 0 * * monday", "is not a day of the week"),
        (
            "0 jan * * *",
            "names are allowed only in the month and day-of-week fields",
        ),
        ("0 0 1-2-3 * *", "more than one '-'"),
        ("99999999999999999999 * * * *", "out of range"),
        ("0 0 ١ * *", "non-ASCII character"),
        ("０ 0 * * *", "non-ASCII character"),
        ("0 0 30 2 *", "never fires: February has 29 days"),
        ("0 0 31 4 *", "never fires: April has 30 days"),
        (
            "0 0 31 apr,jun *",
            "never fires: April has 30 days, June has 30 days",
        ),
        ("0 0 30,31 2 */2", "never fires: February has 29 days"),
    ];
    for (expr, expected) in cases {
        let message = rejection(expr);
        assert!(message.starts_with("schedule "), "{expr:?}: {message}");
        assert!(message.contains(expected), "{expr:?}: {message}");
    }
}

#[test]
fn february_29th_and_either_rule_days_that_exist_are_legal() {
    parse("0 0 29 2 *");
    // Restricted day-of-week: fires on Mondays in February even though the 30th never exists.
    parse("0 0 30 2 1");
}

#[test]
fn overlong_and_hostile_input_is_rejected_without_quoting_all_of_it() {
    let long = format!("0 0 * * {}", "1,".repeat(5_000));
    let message = rejection(&long);
    assert!(message.contains(&format!("at most {MAX_EXPRESSION_BYTES} bytes")));
    assert!(message.len() < 300, "{message}");
    let just_over = format!("{} * * * *", "0".repeat(MAX_EXPRESSION_BYTES));
    assert!(rejection(&just_over).contains("at most"));
    let newline = rejection("0 0 * * *\n0 0 * * * root rm -rf /");
    assert!(!newline.contains('\n'), "{newline}");
}

#[test]
fn crontab_expression_is_the_fields_joined_by_single_spaces() {
    let schedule = parse("  0   2  *  * 1-5 ");
    assert_eq!(schedule.crontab_expression(), "0 2 * * 1-5");
    assert_eq!(schedule.source(), "0   2  *  * 1-5");
    for expr in ["*/5 1,2 1-31/2 jan-dec MON", "@every 15m", "@weekly"] {
        let fields = parse(expr).crontab_expression();
        assert!(
            fields
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "*/,- ".contains(c)),
            "{fields}"
        );
        assert!(!fields.contains("  "));
        assert_eq!(parse(&fields).crontab_expression(), fields);
    }
}

#[test]
fn fixed_time_means_neither_minute_nor_hour_starts_with_star() {
    let cases = [
        ("0 1,2 * * *", true),
        ("30 2 * * *", true),
        ("0-59/5 3 * * *", true),
        ("*/30 1 * * *", false),
        ("0 */2 * * *", false),
        ("* * * * *", false),
        ("0 * * * *", false),
    ];
    for (expr, fixed) in cases {
        assert_eq!(parse(expr).is_fixed_time(), fixed, "{expr}");
    }
}
