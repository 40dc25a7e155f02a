//! Time-zone lookups in the system tz database (the data cron itself uses).

/// Whether `name` is an IANA zone in the system tz database.
pub fn zone_exists(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// The zone named `name` from the system tz database.
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).ok()
}
