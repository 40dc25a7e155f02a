//! Schedule expressions: the exact grammar Debian's cron(8) accepts, `@every` translation, and
//! next-fire computation with Vixie cron semantics (day-field OR rule, leading-`*` exception, DST).
//!
//! Pure: the caller passes the instant and the time zone. Must not read the clock or the tz database.

/// A parsed, validated schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: String,
}

/// Why an expression was rejected, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub message: String,
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Schedule {
    /// Parse and validate an expression (already trimmed by the manifest normalizer).
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        Err(ScheduleError {
            message: format!("schedule {expr:?}: schedules are not built yet"),
        })
    }

    /// The five fields written into the crontab line.
    pub fn crontab_expression(&self) -> String {
        self.source.clone()
    }

    /// The first fire strictly after `after`, read in `tz`.
    pub fn next_after(
        &self,
        after: jiff::Timestamp,
        tz: &jiff::tz::TimeZone,
    ) -> Option<jiff::Zoned> {
        let _ = (after, tz);
        None
    }
}
