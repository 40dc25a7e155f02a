//! Schedule parsing and fire search on arbitrary input: never panic; whatever parses renders a crontab
//! form of plain characters that parses back to the same schedule, and the search and the per-minute
//! gate agree.
#![no_main]

use cronix::core::schedule::Schedule;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;

const ZONES: [&str; 4] = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(schedule) = Schedule::parse(text) else {
        return;
    };
    let fields = schedule.crontab_expression();
    assert!(
        fields
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "*/,- ".contains(c)),
        "{fields:?}"
    );
    assert_eq!(fields.split(' ').count(), 5, "{fields:?}");
    let reparsed = Schedule::parse(&fields).expect("the crontab form parses");
    assert_eq!(reparsed.crontab_expression(), fields);
    assert_eq!(
        (reparsed.minutes(), reparsed.hours(), reparsed.days_of_month()),
        (schedule.minutes(), schedule.hours(), schedule.days_of_month())
    );
    assert_eq!(
        (reparsed.months(), reparsed.days_of_week(), reparsed.day_rule()),
        (schedule.months(), schedule.days_of_week(), schedule.day_rule())
    );
    assert_eq!(reparsed.is_fixed_time(), schedule.is_fixed_time());

    let tz = TimeZone::get(ZONES[usize::from(selector) % ZONES.len()]).expect("zone exists");
    // Spread the start over 1970..2100, including DST nights.
    let start = Timestamp::from_second(i64::from(selector) * 16_000_000 + 1_700_000_000 % 86_400)
        .expect("in range");
    let mut after = start;
    for _ in 0..3 {
        let Some(next) = schedule.next_after(after, &tz) else {
            // Only wildcard times that always fall into a DST gap never happen, and never in UTC.
            assert!(!schedule.is_fixed_time(), "{text:?} never fires");
            assert!(tz.iana_name() != Some("UTC"), "{text:?} never fires in UTC");
            break;
        };
        assert!(next.timestamp() > after);
        assert!(schedule.fires_at(next.timestamp(), &tz), "{text:?} at {next}");
        after = next.timestamp();
    }
});
