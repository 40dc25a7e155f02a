//! Schedule benchmarks: the per-minute gate (`fires_at`) and the next-fire search (`next_after`) for
//! dense and sparse schedules, in UTC and across DST. Run with `cargo bench --bench schedule`.
//!
//! Plain timing loops (no harness dependency); each line prints the mean time per call.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cronix::core::schedule::Schedule;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

fn measure(label: &str, iterations: u32, mut body: impl FnMut(u32)) {
    for i in 0..iterations.min(1000) {
        body(i);
    }
    let started = Instant::now();
    for i in 0..iterations {
        body(i);
    }
    let per_call = started.elapsed() / iterations;
    println!("{label:<58} {:>10.0} ns/call", per_call.as_nanos() as f64);
}

fn main() {
    let new_york = TimeZone::get("America/New_York").expect("zone");
    let utc = TimeZone::UTC;
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("instant");

    let minute = |i: u32| start + SignedDuration::from_mins(i64::from(i % 525_600));
    for (expr, tz_name, tz) in [
        ("*/5 * * * *", "UTC", &utc),
        ("30 2 * * 1-5", "America/New_York", &new_york),
        ("0 1,2 * * *", "America/New_York", &new_york),
    ] {
        let schedule = Schedule::parse(expr).expect("parses");
        measure(&format!("fires_at {expr:?} {tz_name}"), 2_000_000, |i| {
            black_box(schedule.fires_at(black_box(minute(i)), tz));
        });
    }

    let parse_inputs = [
        "0 2 * * *",
        "*/15 1-5 */2 jan-mar mon-fri",
        "@every 15m",
        "@daily",
    ];
    measure("parse (4 expressions, mean)", 500_000, |i| {
        black_box(Schedule::parse(black_box(parse_inputs[(i % 4) as usize])).ok());
    });

    for (expr, tz_name, tz) in [
        ("* * * * *", "UTC", &utc),
        ("* * * * *", "America/New_York", &new_york),
        ("0 9 13 * 5", "America/New_York", &new_york),
        ("0 0 29 2 *", "UTC", &utc),
        ("0 0 29 2 *", "America/New_York", &new_york),
        ("0 0 29 2 */7", "America/New_York", &new_york),
    ] {
        let schedule = Schedule::parse(expr).expect("parses");
        let day = |i: u32| start + SignedDuration::from_hours(i64::from(i % 8760));
        measure(&format!("next_after {expr:?} {tz_name}"), 200_000, |i| {
            black_box(schedule.next_after(black_box(day(i)), tz));
        });
    }

    let never = Schedule::parse("* 2 9 3 */7").expect("parses");
    let started = Instant::now();
    let none = never.next_after(start, &new_york);
    let elapsed: Duration = started.elapsed();
    println!(
        "{:<58} {:>10.0} µs (found: {})",
        "next_after \"* 2 9 3 */7\" New_York (400-year search)",
        elapsed.as_secs_f64() * 1e6,
        none.is_some()
    );
}
