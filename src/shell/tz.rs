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
