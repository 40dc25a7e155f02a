//! A whole year, minute by minute, for schedules in zones other than the host's: the minutes where the
//! rendered crontab line fires (cron modelled by `Schedule::fires_at` on the line's five fields in the
//! host zone) AND the shim's gate says yes are exactly the schedule's instants in its own zone, found
//! on an independent path (`next_after` in the job's zone). DST rules of both zones included.

use std::collections::BTreeSet;

use cronix::core::schedule::Schedule;
use cronix::core::tz_gate::{self, Window};
use jiff::Timestamp;
use jiff::tz::TimeZone;

const HOSTS: [&str; 2] = ["UTC", "America/New_York"];
const JOB_ZONES: [&str; 5] = [
    "Europe/Paris",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Australia/Lord_Howe",
];
/// Fixed-time and wildcard schedules that meet the DST hours of these zones (Lord Howe moves by 30
/// minutes at 02:00, New York and Paris by an hour at 01:00-03:00; Kathmandu's noon is 06:15Z, in
/// New York's repeated hour).
const SCHEDULES: [&str; 13] = [
    "30 2 * * *",
    "0 1,2 * * *",
    "15 3 * * 0",
    "*/20 * * * *",
    "*/30 1 * * *",
    "@hourly",
    "45 23 * * *",
    "0 9 1 * 1",
    "30 1 * * *",
    "15 2 * * *",
    "45 1 * * *",
    "0 2 * * *",
    "0 12 * * *",
];

const YEAR_START: &str = "2026-01-01T00:00:00Z";
const YEAR_END: &str = "2027-01-01T00:00:00Z";

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The schedule's instants in `[start, end)`, read in its zone, by iterating `next_after`.
fn instants(schedule: &Schedule, tz: &TimeZone, start: Timestamp, end: Timestamp) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let mut after = Timestamp::from_second(start.as_second() - 1).unwrap();
    while let Some(next) = schedule.next_after(after, tz) {
        let t = next.timestamp();
        if t >= end {
            break;
        }
        out.insert(t.as_second());
        after = t;
    }
    out
}

/// The host zone's offset at every minute of the walk, as (second, offset) change points.
struct OffsetWalk {
    changes: Vec<(i64, i64)>,
    next: usize,
    current: i64,
}

impl OffsetWalk {
    fn new(tz: &TimeZone, start: Timestamp, end: Timestamp) -> OffsetWalk {
        let changes = tz
            .following(Timestamp::from_second(start.as_second() - 120).unwrap())
            .take_while(|t| t.timestamp() <= end)
            .map(|t| (t.timestamp().as_second(), i64::from(t.offset().seconds())))
            .collect();
        let before = Timestamp::from_second(start.as_second() - 120).unwrap();
        OffsetWalk {
            changes,
            next: 0,
            current: i64::from(tz.to_offset(before).seconds()),
        }
    }

    /// The offset at `second`; seconds must not decrease between calls.
    fn at(&mut self, second: i64) -> i64 {
        while let Some(&(at, offset)) = self.changes.get(self.next) {
            if at > second {
                break;
            }
            self.current = offset;
            self.next += 1;
        }
        self.current
    }
}

/// Minutes of the year where cron, reading `line` in `host`, starts the shim. A cheap filter keeps
/// only minutes where it can (the wall clock matches the minute and hour fields, or the host clock
/// just changed), then the real model decides.
fn cron_fires(line: &Schedule, host: &TimeZone, start: Timestamp, end: Timestamp) -> Vec<i64> {
    let mut before = OffsetWalk::new(host, start, end);
    let mut now = OffsetWalk::new(host, start, end);
    let mut out = Vec::new();
    let mut second = start.as_second();
    while second < end.as_second() {
        let local = (second + now.at(second)).div_euclid(60);
        let previous = (second - 60 + before.at(second - 60)).div_euclid(60);
        let (hour, minute) = (local.rem_euclid(1440) / 60, local.rem_euclid(60));
        let may_fire = local - previous != 1
            || (line.minutes() >> minute & 1 == 1 && line.hours() >> hour & 1 == 1);
        if may_fire && line.fires_at(Timestamp::from_second(second).unwrap(), host) {
            out.push(second);
        }
        second += 60;
    }
    out
}

#[test]
fn rendered_line_and_gate_fire_exactly_at_the_schedules_instants_for_a_whole_year() {
    let (start, end) = (ts(YEAR_START), ts(YEAR_END));
    let window = Window::around(start);
    let mut gated = 0;
    let mut wakeups_beyond_fires = 0;
    for host_name in HOSTS {
        let host = zone(host_name);
        for zone_name in JOB_ZONES {
            let job_zone = zone(zone_name);
            for expr in SCHEDULES {
                let schedule = Schedule::parse(expr).unwrap();
                let expected = instants(&schedule, &job_zone, start, end);
                let same = tz_gate::behaves_the_same(&job_zone, &host, &window);
                let line = if same {
                    schedule.crontab_expression()
                } else {
                    tz_gate::gated_entry(&schedule, &job_zone, &host, &window).expression
                };
                let line_schedule = Schedule::parse(&line)
                    .unwrap_or_else(|e| panic!("rendered line {line:?} does not parse: {e}"));
                let wakeups = cron_fires(&line_schedule, &host, start, end);
                let delivered: BTreeSet<i64> = wakeups
                    .iter()
                    .copied()
                    .filter(|&s| {
                        same || schedule.fires_at(Timestamp::from_second(s).unwrap(), &job_zone)
                    })
                    .collect();
                let missing: Vec<String> = expected
                    .difference(&delivered)
                    .take(5)
                    .map(|s| Timestamp::from_second(*s).unwrap().to_string())
                    .collect();
                let extra: Vec<String> = delivered
                    .difference(&expected)
                    .take(5)
                    .map(|s| Timestamp::from_second(*s).unwrap().to_string())
                    .collect();
                assert!(
                    missing.is_empty() && extra.is_empty(),
                    "{expr:?} in {zone_name} on a {host_name} host, line {line:?}: \
                     missing {missing:?}, extra {extra:?}"
                );
                assert!(!expected.is_empty(), "{expr:?} in {zone_name} never fired");
                if !same {
                    gated += 1;
                    wakeups_beyond_fires += wakeups.len() - delivered.len();
                }
            }
        }
    }
    assert_eq!(gated, (HOSTS.len() * JOB_ZONES.len() - 1) * SCHEDULES.len());
    assert!(
        wakeups_beyond_fires > 0,
        "the gate never had anything to refuse"
    );
}

#[test]
fn spring_forward_and_fall_back_instants_are_delivered_once_on_a_new_york_host() {
    // Paris 02:30 on 2026-03-29 is skipped: the run happens right after the jump, 01:00Z, once.
    let (paris, host) = (zone("Europe/Paris"), zone("America/New_York"));
    let schedule = Schedule::parse("30 2 * * *").unwrap();
    let window = Window::around(ts(YEAR_START));
    let line = Schedule::parse(&tz_gate::gated_entry(&schedule, &paris, &host, &window).expression)
        .unwrap();
    let day_start = ts("2026-03-28T12:00:00Z");
    let day_end = ts("2026-03-29T12:00:00Z");
    let delivered: Vec<String> = cron_fires(&line, &host, day_start, day_end)
        .into_iter()
        .filter(|&s| schedule.fires_at(Timestamp::from_second(s).unwrap(), &paris))
        .map(|s| Timestamp::from_second(s).unwrap().to_string())
        .collect();
    assert_eq!(delivered, ["2026-03-29T01:00:00Z"]);
    // Kathmandu 12:00 on New York's fall-back night is 06:15Z: 01:15 EST, the second pass of New
    // York's repeated hour, where a fixed-time host entry would not run.
    let kathmandu = zone("Asia/Kathmandu");
    let noon = Schedule::parse("0 12 * * *").unwrap();
    let line = Schedule::parse(&tz_gate::gated_entry(&noon, &kathmandu, &host, &window).expression)
        .unwrap();
    let delivered: Vec<String> = cron_fires(
        &line,
        &host,
        ts("2026-11-01T00:00:00Z"),
        ts("2026-11-02T00:00:00Z"),
    )
    .into_iter()
    .filter(|&s| noon.fires_at(Timestamp::from_second(s).unwrap(), &kathmandu))
    .map(|s| Timestamp::from_second(s).unwrap().to_string())
    .collect();
    assert_eq!(delivered, ["2026-11-01T06:15:00Z"]);
}
