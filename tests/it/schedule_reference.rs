//! Random expressions against a plain reference matcher written here from the crontab(5) rules:
//! on days without offset changes, `next_after` must give exactly the minutes the reference finds
//! by walking the clock, and `fires_at` must agree with both.

use cronix::core::schedule::Schedule;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One list item of a field, as a structure the reference reads directly.
#[derive(Debug, Clone)]
enum Item {
    Star,
    StarStep(u32),
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
}

#[derive(Debug, Clone)]
struct FieldSpec {
    items: Vec<Item>,
    /// Write values as names where the field has names.
    use_names: bool,
}

#[derive(Debug, Clone, Copy)]
struct Bounds {
    low: u32,
    high: u32,
    names: Option<(&'static [&'static str], u32)>,
}

const BOUNDS: [Bounds; 5] = [
    Bounds {
        low: 0,
        high: 59,
        names: None,
    },
    Bounds {
        low: 0,
        high: 23,
        names: None,
    },
    Bounds {
        low: 1,
        high: 31,
        names: None,
    },
    Bounds {
        low: 1,
        high: 12,
        names: Some((&MONTHS, 1)),
    },
    Bounds {
        low: 0,
        high: 7,
        names: Some((&DAYS, 0)),
    },
];

impl FieldSpec {
    fn render(&self, bounds: Bounds) -> String {
        let value = |v: u32| match bounds.names {
            Some((names, first))
                if self.use_names && v >= first && ((v - first) as usize) < names.len() =>
            {
                names[(v - first) as usize].to_string()
            }
            _ => v.to_string(),
        };
        self.items
            .iter()
            .map(|item| match *item {
                Item::Star => "*".to_string(),
                Item::StarStep(s) => format!("*/{s}"),
                Item::Value(v) => value(v),
                Item::Range(a, b) => format!("{}-{}", value(a), value(b)),
                Item::RangeStep(a, b, s) => format!("{}-{}/{s}", value(a), value(b)),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The selected values, straight from crontab(5): each item selects low..=high by step.
    fn selects(&self, bounds: Bounds, value: u32) -> bool {
        self.items.iter().any(|item| {
            let (a, b, s) = match *item {
                Item::Star => (bounds.low, bounds.high, 1),
                Item::StarStep(s) => (bounds.low, bounds.high, s),
                Item::Value(v) => (v, v, 1),
                Item::Range(a, b) => (a, b, 1),
                Item::RangeStep(a, b, s) => (a, b, s),
            };
            value >= a && value <= b && (value - a).is_multiple_of(s)
        })
    }
}

fn item_strategy(bounds: Bounds) -> impl Strategy<Value = Item> {
    let (low, high) = (bounds.low, bounds.high);
    prop_oneof![
        1 => Just(Item::Star),
        2 => (1..=high).prop_map(Item::StarStep),
        // A step past the end of the range: Debian cron accepts it and selects the start only.
        1 => (high..=high * 3 + 10).prop_map(Item::StarStep),
        4 => (low..=high).prop_map(Item::Value),
        3 => (low..=high, low..=high).prop_map(|(a, b)| Item::Range(a.min(b), a.max(b))),
        3 => (low..=high, low..=high, 1..=high * 2 + 10)
            .prop_map(|(a, b, s)| Item::RangeStep(a.min(b), a.max(b), s)),
    ]
}

fn field_strategy(bounds: Bounds) -> impl Strategy<Value = FieldSpec> {
    (
        prop::collection::vec(item_strategy(bounds), 1..=3),
        any::<bool>(),
    )
        .prop_map(|(items, use_names)| FieldSpec { items, use_names })
}

#[derive(Debug, Clone)]
struct Expression {
    fields: Vec<FieldSpec>,
}

impl Expression {
    fn text(&self) -> String {
        self.fields
            .iter()
            .zip(BOUNDS)
            .map(|(field, bounds)| field.render(bounds))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn day_matches(&self, date: jiff::civil::Date) -> bool {
        let text = self.text();
        let parts: Vec<&str> = text.split(' ').collect();
        let dom = self.fields[2].selects(BOUNDS[2], date.day() as u32);
        let weekday = date.weekday().to_sunday_zero_offset() as u32;
        let dow = self.fields[4].selects(BOUNDS[4], weekday)
            || (weekday == 0 && self.fields[4].selects(BOUNDS[4], 7));
        let month = self.fields[3].selects(BOUNDS[3], date.month() as u32);
        let either_star = parts[2].starts_with('*') || parts[4].starts_with('*');
        month && if either_star { dom && dow } else { dom || dow }
    }

    fn time_matches(&self, time: jiff::civil::Time) -> bool {
        self.fields[0].selects(BOUNDS[0], time.minute() as u32)
            && self.fields[1].selects(BOUNDS[1], time.hour() as u32)
    }
}

fn expression_strategy() -> impl Strategy<Value = Expression> {
    (
        field_strategy(BOUNDS[0]),
        field_strategy(BOUNDS[1]),
        field_strategy(BOUNDS[2]),
        field_strategy(BOUNDS[3]),
        field_strategy(BOUNDS[4]),
    )
        .prop_map(|(a, b, c, d, e)| Expression {
            fields: vec![a, b, c, d, e],
        })
}

/// The reference: walk the clock minute by minute (skipping whole days that do not match) from just
/// after `after`, in a zone whose offset does not change before `until`.
fn reference_fires(
    expression: &Expression,
    tz: &TimeZone,
    after: Timestamp,
    until: Timestamp,
    count: usize,
) -> Vec<Timestamp> {
    let mut fires = Vec::new();
    let mut minute = Timestamp::from_second(after.as_second().div_euclid(60) * 60 + 60).unwrap();
    while minute < until && fires.len() < count {
        let local = tz.to_datetime(minute);
        if !expression.day_matches(local.date()) {
            let into_day = i64::from(local.hour()) * 60 + i64::from(local.minute());
            minute += SignedDuration::from_mins(1440 - into_day);
            continue;
        }
        if expression.time_matches(local.time()) {
            fires.push(minute);
        }
        minute += SignedDuration::from_mins(1);
    }
    fires
}

fn searched_fires(
    schedule: &Schedule,
    tz: &TimeZone,
    after: Timestamp,
    until: Timestamp,
    count: usize,
) -> Vec<Timestamp> {
    let mut fires = Vec::new();
    let mut cursor = after;
    while fires.len() < count {
        match schedule.next_after(cursor, tz) {
            Some(next) if next.timestamp() < until => {
                fires.push(next.timestamp());
                cursor = next.timestamp();
            }
            _ => break,
        }
    }
    fires
}

/// Debian cron's `set_range` steps from the start of the range while the value stays in it, with no
/// upper bound on the step: `*/90` minutes is minute 0, `*/15` day-of-week is Sunday only.
#[test]
fn steps_larger_than_the_range_fire_as_debian_cron_does() {
    let utc = TimeZone::UTC;
    let after: Timestamp = "2026-03-04T10:07:00Z".parse().unwrap();
    let until: Timestamp = "2026-04-30T00:00:00Z".parse().unwrap();
    let cases: [(&str, &str); 4] = [
        ("*/90 * * * *", "0 * * * *"),
        ("0 9 * * */15", "0 9 * * 0"),
        ("*/15 3-5/24 * * *", "0,15,30,45 3 * * *"),
        ("0 0 */40 * *", "0 0 1 * *"),
    ];
    for (oversized, plain) in cases {
        let a = Schedule::parse(oversized).unwrap();
        let b = Schedule::parse(plain).unwrap();
        assert_eq!(
            searched_fires(&a, &utc, after, until, 50),
            searched_fires(&b, &utc, after, until, 50),
            "{oversized} fires as {plain}"
        );
        assert!(!a.notes().is_empty(), "{oversized}: validate explains it");
    }
}

/// Fixed-offset periods: (zone, earliest start, end of the period).
const PERIODS: [(&str, &str, &str); 4] = [
    ("UTC", "2000-01-01T00:00:00Z", "2040-01-01T00:00:00Z"),
    (
        "Asia/Kolkata",
        "2000-01-01T00:00:00Z",
        "2040-01-01T00:00:00Z",
    ),
    (
        "Asia/Kathmandu",
        "2000-01-01T00:00:00Z",
        "2040-01-01T00:00:00Z",
    ),
    (
        "America/New_York",
        "2026-03-09T00:00:00Z",
        "2026-11-01T05:00:00Z",
    ),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn next_after_matches_the_minute_by_minute_reference(
        expression in expression_strategy(),
        period in 0..PERIODS.len(),
        start_fraction in 0.0f64..1.0,
        start_seconds in 0i64..60,
    ) {
        let text = expression.text();
        let (zone_name, start, end) = PERIODS[period];
        let tz = TimeZone::get(zone_name).unwrap();
        let (start, end): (Timestamp, Timestamp) = (start.parse().unwrap(), end.parse().unwrap());
        let span = (end.as_second() - start.as_second()) as f64;
        let after = Timestamp::from_second(
            start.as_second() + (span * start_fraction * 0.9) as i64 / 60 * 60 + start_seconds,
        ).unwrap();
        let expected = reference_fires(&expression, &tz, after, end, 6);
        let schedule = match Schedule::parse(&text) {
            Ok(schedule) => schedule,
            Err(error) => {
                // Only a schedule that can never fire may be refused.
                prop_assert!(error.message.contains("never fires"), "{text}: {error}");
                let forever: Timestamp = "2400-01-01T00:00:00Z".parse().unwrap();
                let utc_from: Timestamp = "2000-01-01T00:00:00Z".parse().unwrap();
                prop_assert!(reference_fires(&expression, &TimeZone::UTC, utc_from, forever, 1).is_empty());
                return Ok(());
            }
        };
        let searched = searched_fires(&schedule, &tz, after, end, 6);
        prop_assert_eq!(&searched, &expected, "{} in {} after {}", text, zone_name, after);
        for fire in &searched {
            prop_assert!(schedule.fires_at(*fire, &tz), "fires_at({fire}) for {text}");
            let before = *fire - SignedDuration::from_mins(1);
            if before <= after {
                continue;
            }
            prop_assert_eq!(
                schedule.fires_at(before, &tz),
                expected.contains(&before),
                "fires_at({}) for {}", before, text
            );
        }
    }
}

/// DST nights: (zone, window start, window end) around a spring-forward or a fall-back.
const DST_NIGHTS: [(&str, &str, &str); 6] = [
    (
        "America/New_York",
        "2026-03-08T03:00:00Z",
        "2026-03-08T10:00:00Z",
    ),
    (
        "America/New_York",
        "2026-11-01T02:00:00Z",
        "2026-11-01T09:00:00Z",
    ),
    (
        "Europe/London",
        "2026-03-28T22:00:00Z",
        "2026-03-29T04:00:00Z",
    ),
    (
        "Europe/London",
        "2026-10-24T22:00:00Z",
        "2026-10-25T04:00:00Z",
    ),
    (
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00Z",
        "2026-10-03T18:00:00Z",
    ),
    (
        "Australia/Lord_Howe",
        "2026-04-04T12:00:00Z",
        "2026-04-04T18:00:00Z",
    ),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Across DST changes the search (which skips ahead by stretches of constant offset) and the
    /// per-minute gate (which looks at one minute and its predecessor) are separate code paths; they
    /// must give the same fires.
    #[test]
    fn next_after_and_fires_at_agree_across_dst_nights(
        expression in expression_strategy(),
        night in 0..DST_NIGHTS.len(),
        dense_hours in any::<bool>(),
    ) {
        let mut expression = expression;
        if dense_hours {
            // Make the night of the change likely to match: early hours, any day of any month.
            expression.fields[1] = FieldSpec { items: vec![Item::Range(0, 4)], use_names: false };
            expression.fields[2] = FieldSpec { items: vec![Item::Star], use_names: false };
            expression.fields[3] = FieldSpec { items: vec![Item::Star], use_names: false };
        }
        let text = expression.text();
        let Ok(schedule) = Schedule::parse(&text) else {
            return Ok(());
        };
        let (zone_name, start, end) = DST_NIGHTS[night];
        let tz = TimeZone::get(zone_name).unwrap();
        let (start, end): (Timestamp, Timestamp) = (start.parse().unwrap(), end.parse().unwrap());
        let searched = searched_fires(&schedule, &tz, start, end, usize::MAX);
        let mut gated = Vec::new();
        let mut minute = start + SignedDuration::from_mins(1);
        while minute < end {
            if schedule.fires_at(minute, &tz) {
                gated.push(minute);
            }
            minute += SignedDuration::from_mins(1);
        }
        prop_assert_eq!(searched, gated, "{} in {}", text, zone_name);
    }
}
