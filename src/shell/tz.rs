//! Time-zone lookups in the system tz database (the data cron itself uses).
//!
//! Names must match exactly: jiff looks names up case-insensitively, so the canonical name it found
//! is compared with the one asked for (`europe/paris` is not a zone name). Must not guess or correct.

use jiff::tz::TimeZone;

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
    let zone = TimeZone::get(name).ok()?;
    (zone.iana_name() == Some(name)).then_some(zone)
}

/// Where the system tz database lives when `TZDIR` does not say.
const DEFAULT_TZDIR: &str = "/usr/share/zoneinfo";

/// The zone named exactly `name`, read straight from its file in the tz database directory (`TZDIR`,
/// else `/usr/share/zoneinfo`), without listing the whole database first as a general lookup does:
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
    if plain {
        let dir = std::env::var_os("TZDIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(DEFAULT_TZDIR));
        if let Some(zone) = std::fs::read(dir.join(name))
            .ok()
            .and_then(|bytes| TimeZone::tzif(name, &bytes).ok())
        {
            return Some(zone);
        }
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
