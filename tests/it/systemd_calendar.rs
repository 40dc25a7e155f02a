//! The systemd-timer rendering against systemd's own parser and calendar engine: every rendered unit
//! passes `systemd-analyze verify`, and in four zones the union of a timer's `OnCalendar=` elapses
//! (`systemd-analyze calendar --iterations`) equals `cronix next` through 2027 — every instant of the
//! year for the schedules that fire up to 1,500 times in it, and for the more frequent ones the days
//! around each offset change, the turn of the year and the end of February.
//!
//! Needs `systemd-analyze` (no booted systemd); without it each test prints SKIP.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use cronix::core::manifest::{self, Manifest};
use cronix::core::render::{JobInput, Renderer};
use cronix::core::schedule::Schedule;
use cronix::core::systemd_unit::{self, SystemdRenderer};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

const ZONES: [&str; 4] = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
];

/// Every schedule form: fixed times in and around DST gaps and repeated hours, wildcards, lists,
/// ranges, steps, names, the day-field OR and its leading-`*` exception, `@every` and shortcuts.
const SCHEDULES: [&str; 16] = [
    "30 2 * * *",
    "0 1,2 * * *",
    "15,45 1 * * *",
    "*/20 1-3 * * *",
    "*/30 * 28-31 mar,oct *",
    "0 0 1,15 * 1",
    "0 12 */2 * 1",
    "5-10/5,45 */4 * jan-mar,oct-dec sun,wed",
    "0 9 * * 1-5",
    "0 3 * * 0",
    "@every 6h",
    "@every 30m",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
];

fn have_systemd_analyze(test: &str) -> bool {
    let ok = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: {test}: systemd-analyze is not installed (apt-get install systemd)");
    }
    ok
}

fn manifest_in(zone: &str, refs: &[&str]) -> Manifest {
    let doc = json!({
        "version": 1, "app": "billing",
        "jobs": [{
            "name": "settle",
            "schedules": SCHEDULES,
            "timezone": zone,
            "request": { "url": "https://billing.example/cron" },
            "policy": { "timeout_seconds": 30, "retries": { "max_attempts": 4, "max_seconds": 20 } },
            "auth": { "secret_refs": refs }
        }]
    });
    manifest::parse(doc.to_string().as_bytes(), &|z| TimeZone::get(z).is_ok()).unwrap()
}

/// The rendered artifacts (timer + service text) of every schedule of the job, at `now`.
fn render(manifest: &Manifest, trigger_bin: &str, now: Timestamp) -> Vec<String> {
    let job = &manifest.jobs[0];
    let schedules: Vec<Schedule> = job
        .schedules
        .iter()
        .map(|s| Schedule::parse(s).unwrap())
        .collect();
    let zone = TimeZone::get(&job.timezone).unwrap();
    let renderer = SystemdRenderer {
        trigger_bin,
        spec_dir: "/etc/cronix/jobs",
        unit_dir: "/etc/systemd/system",
        credstore_dir: "/etc/credstore.encrypted",
        catch_up: false,
        otel: false,
        owners: &Default::default(),
    };
    let input = JobInput {
        app: &manifest.app,
        job,
        schedules: &schedules,
        zone: &zone,
        secret_refs: &job.auth.secret_refs,
        now,
    };
    assert!(renderer.check_job(&input).is_empty());
    renderer
        .render_job(&input)
        .into_iter()
        .map(|r| r.line)
        .collect()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
#[cfg_attr(
    not(cronix_test_systemd_analyze),
    ignore = "needs systemd-analyze (apt-get install systemd)"
)]
fn systemd_analyze_verify_accepts_every_rendered_unit() {
    if !have_systemd_analyze("verify") {
        return;
    }
    let bin = Command::cargo_bin("cronix")
        .unwrap()
        .get_program()
        .to_owned();
    let bin = bin.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for zone in ZONES {
        let manifest = manifest_in(zone, &["cred:billing-hmac", "env:BILLING_CRON"]);
        for artifact in render(&manifest, &bin, at("2027-01-01T00:00:00Z")) {
            let units = systemd_unit::split_artifact(&artifact);
            assert_eq!(units.len(), 2, "{artifact}");
            let service = &units[1].1;
            assert!(service.contains("LoadCredentialEncrypted=billing-hmac:/etc/credstore.encrypted/billing-hmac.cred"), "{service}");
            assert!(service.contains("SuccessExitStatus=4") && service.contains("Type=oneshot"));
            // 4 attempts × 30 s + 3 waits × 20 s + 60 s margin.
            assert!(service.contains("TimeoutStartSec=240"), "{service}");
            let timer = &units[0].1;
            assert!(timer.contains("AccuracySec=1s") && timer.contains("Persistent=false"));
            let zone_dir = dir.path().join(zone.replace('/', "_"));
            std::fs::create_dir_all(&zone_dir).unwrap();
            for (name, text) in units {
                assert!(systemd_unit::is_unit_name(&name), "{name}");
                let path = zone_dir.join(&name);
                std::fs::write(&path, systemd_unit::with_hash(&text, "0123456789abcdef")).unwrap();
                paths.push(path);
            }
        }
    }
    for chunk in paths.chunks(32) {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .args(chunk)
            .env("SYSTEMD_LOG_LEVEL", "warning")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "verify: {stderr}"
        );
    }
}

/// Elapses in `[from, until)` of every value, each value iterated by systemd from `from` (a value
/// with no elapse after `from`, such as a one-off DST instant already past, shows `never`).
fn systemd_elapses(
    values: &[String],
    from: Timestamp,
    until: Timestamp,
    iterations: usize,
) -> BTreeSet<Timestamp> {
    let base = from
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap()
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let out = Command::new("systemd-analyze")
        .arg("calendar")
        .arg(format!("--base-time={base}"))
        .arg(format!("--iterations={iterations}"))
        .args(values)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut set = BTreeSet::new();
    for line in text.lines() {
        let Some((head, when)) = line.trim().split_once(": ") else {
            continue;
        };
        if head != "Next elapse" && !head.starts_with("Iter. #") {
            continue;
        }
        if when == "never" {
            continue;
        }
        let words: Vec<&str> = when.split_whitespace().collect();
        assert_eq!(words.len(), 4, "{line}");
        let t: Timestamp = format!("{}T{}Z", words[1], words[2]).parse().unwrap();
        if t >= from && t < until {
            set.insert(t);
        }
    }
    set
}

/// `cronix next` over `[from, until)`, a page of 1,000 fires at a time.
fn cronix_next(expr: &str, zone: &str, from: Timestamp, until: Timestamp) -> BTreeSet<Timestamp> {
    let mut out = BTreeSet::new();
    let mut after = from
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap();
    while after < until {
        let run = Command::cargo_bin("cronix")
            .unwrap()
            .args([
                "next",
                expr,
                "--count",
                "1000",
                "--timezone",
                zone,
                "-o",
                "json",
            ])
            .arg(format!("--after={after}"))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let page: Vec<Timestamp> = doc["next"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse::<Timestamp>().unwrap())
            .collect();
        let Some(last) = page.last().copied() else {
            break;
        };
        out.extend(page.into_iter().filter(|t| *t < until));
        after = last;
    }
    out
}

/// A schedule that fires at most this many times in the year is compared over the whole year; a
/// more frequent one (a fire every few minutes repeats the same day over and over, and systemd's
/// calendar engine takes most of a millisecond per elapse in a zone) over [`windows`].
const WHOLE_YEAR_MAX_FIRES: usize = 1500;

/// The stretches of 2027 where a frequent schedule can part ways with cron in `zone`: the local day
/// before, of and after each offset change, the turn of the year at both ends and the end of
/// February, merged where they overlap.
fn windows(zone: &str, from: Timestamp, until: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let tz = TimeZone::get(zone).unwrap();
    let local_midnight = |d: jiff::civil::Date| d.to_zoned(tz.clone()).unwrap().timestamp();
    let mut spans: Vec<(Timestamp, Timestamp)> = tz
        .following(from)
        .take_while(|t| t.timestamp() < until)
        .map(|t| {
            let day = t.timestamp().to_zoned(tz.clone()).date();
            (
                local_midnight(day.yesterday().unwrap()),
                local_midnight(day.tomorrow().unwrap().tomorrow().unwrap()),
            )
        })
        .collect();
    spans.push((from, at("2027-01-03T00:00:00Z")));
    spans.push((at("2027-02-27T00:00:00Z"), at("2027-03-02T00:00:00Z")));
    spans.push((at("2027-12-30T00:00:00Z"), until));
    spans.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::new();
    for (start, end) in spans {
        let (start, end) = (start.max(from), end.min(until));
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Compare one schedule's rendered values with `cronix next` in `zone`: the instants compared, or
/// what differs.
fn compare(
    expr: &str,
    zone: &str,
    values: &[String],
    from: Timestamp,
    until: Timestamp,
) -> Result<usize, String> {
    let year = cronix_next(expr, zone, from, until);
    if year.is_empty() {
        return Err(format!(
            "{expr:?} in {zone}: cronix next has no fire in 2027"
        ));
    }
    let spans = if year.len() <= WHOLE_YEAR_MAX_FIRES {
        vec![(from, until)]
    } else {
        windows(zone, from, until)
    };
    let mut compared = 0;
    for (start, end) in spans {
        let expected: BTreeSet<Timestamp> = year.range(start..end).copied().collect();
        // Enough iterations for every value to pass the span's end if it fires no more often than
        // cron does; one that fires more shows extra instants inside the span.
        let got = systemd_elapses(values, start, end, expected.len() + 1);
        let missing: Vec<_> = expected.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&expected).take(5).collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(format!(
                "{expr:?} in {zone} from {start} to {end}: systemd misses {missing:?}, adds \
                 {extra:?}; values {values:?}"
            ));
        }
        compared += expected.len();
    }
    Ok(compared)
}

#[test]
#[cfg_attr(
    not(cronix_test_systemd_analyze),
    ignore = "needs systemd-analyze (apt-get install systemd)"
)]
fn the_union_of_oncalendar_elapses_equals_cronix_next_through_2027_in_four_zones() {
    if !have_systemd_analyze("calendar") {
        return;
    }
    let (from, until) = (at("2027-01-01T00:00:00Z"), at("2028-01-01T00:00:00Z"));
    // One thread per zone: each runs its own systemd-analyze and cronix processes.
    let results: Vec<Result<usize, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ZONES
            .iter()
            .map(|zone| {
                scope.spawn(move || {
                    let manifest = manifest_in(zone, &["env:BILLING_CRON"]);
                    let artifacts = render(&manifest, "/usr/local/bin/cronix", from);
                    let mut compared = 0;
                    for (expr, artifact) in SCHEDULES.iter().zip(&artifacts) {
                        let values = systemd_unit::calendar_values(artifact);
                        compared += compare(expr, zone, &values, from, until)?;
                    }
                    Ok(compared)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut checked = 0;
    for result in results {
        checked += result.unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(checked > CHECKED_FLOOR, "only {checked} instants compared");
}

/// At least this many instants are compared (the whole year of the less frequent schedules in four
/// zones, and the windows of the others).
const CHECKED_FLOOR: usize = 24_000;

#[test]
#[cfg_attr(
    not(cronix_test_systemd_analyze),
    ignore = "needs systemd-analyze (apt-get install systemd)"
)]
fn a_spring_forward_gap_time_fires_right_after_the_jump_under_systemd() {
    if !have_systemd_analyze("gap") {
        return;
    }
    let manifest = manifest_in("Europe/Paris", &["env:BILLING_CRON"]);
    let artifacts = render(
        &manifest,
        "/usr/local/bin/cronix",
        at("2027-01-01T00:00:00Z"),
    );
    let values = systemd_unit::calendar_values(&artifacts[0]);
    let day = systemd_elapses(
        &values,
        at("2027-03-28T00:00:00Z"),
        at("2027-03-29T00:00:00Z"),
        3,
    );
    // 02:30 does not exist in Paris that night; cron runs it at 03:00 CEST = 01:00Z.
    assert_eq!(day, BTreeSet::from([at("2027-03-28T01:00:00Z")]));
    assert!(Path::new("/usr/share/zoneinfo/Europe/Paris").exists());
}
