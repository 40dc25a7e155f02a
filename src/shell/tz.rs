//! Time-zone lookups in the system tz database (the data cron itself uses), and the host's zone.
//!
//! Names must match exactly: jiff looks names up case-insensitively, so the canonical name it found
//! is compared with the one asked for (`europe/paris` is not a zone name). Must not guess or correct.
//! The database is `/usr/share/zoneinfo` and the host zone `/etc/localtime`, never `TZDIR` or `TZ`
//! from the environment (under `sudo -E` they are a user's, and they would change what apply renders);
//! only a debug build (the test suite's) honours them, through `crate::env`.

use std::path::PathBuf;
use std::sync::OnceLock;

use jiff::tz::{TimeZone, TimeZoneDatabase};

/// The system tz database directory.
const SYSTEM_TZDIR: &str = "/usr/share/zoneinfo";
/// The file that says the host's zone (a link into the tz database on Debian).
const LOCALTIME: &str = "/etc/localtime";
/// Debian's plain-text name of the host zone, used when `/etc/localtime` is a copy, not a link.
const TIMEZONE_NAME_FILE: &str = "/etc/timezone";

/// The tz database directory: the system's (a debug build honours `TZDIR`).
pub fn tz_dir() -> PathBuf {
    crate::env::debug_only("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_TZDIR))
}

/// The system tz database, opened once per process.
fn database() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(|| {
        TimeZoneDatabase::from_dir(tz_dir()).unwrap_or_else(|_| TimeZoneDatabase::none())
    })
}

/// The zone cron fires in: `/etc/localtime` (named by its link, or for a copy by `/etc/timezone` when
/// that zone's file is the same, else shown as `/etc/localtime`), else UTC.
/// A debug build honours `TZ` so tests can put the host anywhere.
pub fn host_zone() -> TimeZone {
    if crate::env::debug_only("TZ").is_some() {
        return TimeZone::system();
    }
    host_zone_from(std::path::Path::new(LOCALTIME))
}

fn host_zone_from(localtime: &std::path::Path) -> TimeZone {
    let linked = std::fs::read_link(localtime).ok().and_then(|target| {
        let text = target.to_str()?.to_string();
        let (_, name) = text.split_once("zoneinfo/")?;
        zone_by_file(name)
    });
    if let Some(zone) = linked {
        return zone;
    }
    // A copy: its rules are what cron (glibc) uses; `/etc/timezone` names it only when that zone's file
    // holds the same bytes, otherwise it is shown as the file it came from.
    let Ok(bytes) = std::fs::read(localtime) else {
        return TimeZone::UTC;
    };
    let name = std::fs::read_to_string(TIMEZONE_NAME_FILE)
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| zone_by_file(name).is_some())
        .filter(|name| std::fs::read(tz_dir().join(name)).is_ok_and(|same| same == bytes))
        .unwrap_or_else(|| LOCALTIME.to_string());
    TimeZone::tzif(&name, &bytes).ok().unwrap_or(TimeZone::UTC)
}

/// Files in the tz database directory that are not zone names.
const NOT_ZONE_NAMES: [&str; 3] = ["localtime", "posixrules", "Factory"];

/// Whether `name` is an IANA zone in the system tz database, spelled exactly.
pub fn zone_exists(name: &str) -> bool {
    zone(name).is_some()
}

/// The zone named exactly `name` from the system tz database.
pub fn zone(name: &str) -> Option<TimeZone> {
    if NOT_ZONE_NAMES.contains(&name) || name.starts_with("posix/") || name.starts_with("right/") {
        return None;
    }
    let Ok(zone) = database().get(name) else {
        // A host (or a container image) without any tz database still knows UTC.
        return (database().is_definitively_empty() && matches!(name, "UTC" | "Etc/UTC"))
            .then_some(TimeZone::UTC);
    };
    (zone.iana_name() == Some(name)).then_some(zone)
}

/// The zone named exactly `name`, read straight from its file in the tz database directory, without listing the whole database first as a general lookup does:
/// the shim's gate runs at every wake-up. Falls back to `zone` when the file cannot be read.
pub fn zone_by_file(name: &str) -> Option<TimeZone> {
    let plain = !name.is_empty()
        && !name.starts_with('/')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
        && !NOT_ZONE_NAMES.contains(&name)
        && !name.starts_with("posix/")
        && !name.starts_with("right/");
    if plain
        && let Some(zone) = std::fs::read(tz_dir().join(name))
            .ok()
            .and_then(|bytes| TimeZone::tzif(name, &bytes).ok())
    {
        return Some(zone);
    }
    zone(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_iana_names_exist() {
        for name in [
            "UTC",
            "Europe/Paris",
            "America/New_York",
            "Asia/Kathmandu",
            "Etc/UTC",
        ] {
            assert!(zone_exists(name), "{name}");
        }
    }

    #[test]
    fn a_zone_read_from_its_file_has_the_same_offsets_as_the_database_lookup() {
        let at: jiff::Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        for name in [
            "Europe/Paris",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "UTC",
        ] {
            let direct = zone_by_file(name).unwrap();
            let looked_up = zone(name).unwrap();
            assert_eq!(direct.iana_name(), Some(name));
            for t in [at, "2026-01-01T00:00:00Z".parse().unwrap()] {
                assert_eq!(direct.to_offset(t), looked_up.to_offset(t), "{name}");
            }
        }
        assert!(zone_by_file("../../etc/passwd").is_none());
        assert!(zone_by_file("localtime").is_none());
    }

    #[test]
    fn the_host_zone_is_named_by_the_localtime_link() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("localtime");
        std::os::unix::fs::symlink("/usr/share/zoneinfo/Asia/Kathmandu", &link).unwrap();
        assert_eq!(host_zone_from(&link).iana_name(), Some("Asia/Kathmandu"));
        let copy = dir.path().join("copy");
        std::fs::copy("/usr/share/zoneinfo/Asia/Kathmandu", &copy).unwrap();
        let zone = host_zone_from(&copy);
        let at: jiff::Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            zone.to_offset(at),
            zone_by_file("Asia/Kathmandu").unwrap().to_offset(at)
        );
        assert_eq!(host_zone_from(&dir.path().join("none")), TimeZone::UTC);
    }

    #[test]
    fn other_spellings_and_non_zones_do_not() {
        for name in [
            "europe/paris",
            "EUROPE/PARIS",
            "utc",
            "Europe/Paris ",
            "",
            "localtime",
            "posixrules",
            "../etc/passwd",
            "Mars/Olympus_Mons",
        ] {
            assert!(!zone_exists(name), "{name:?}");
        }
    }
}
