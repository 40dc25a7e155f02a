//! Schedule expressions: the exact grammar Debian's cron(8) accepts, `@every` translation, and
//! next-fire computation with Vixie cron semantics (day-field OR rule, leading-`*` exception, DST).
//!
//! Pure: the caller passes the instant and the time zone. Must not read the clock or the tz database.

mod calendar;
mod every;
mod fire;
mod grammar;

use grammar::Field;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 256;

/// How many characters of a rejected expression an error message quotes.
const QUOTED_CHARS: usize = 64;

/// A parsed, validated schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The expression as given (outer spaces trimmed).
    source: String,
    /// The five fields written into the crontab line.
    expression: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    day_rule: DayRule,
    fixed_time: bool,
}

/// The instants a schedule selects, as `Schedule::fire_set` normalizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FireSet {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    day_rule: DayRule,
    fixed_time: bool,
}

/// How the day-of-month and day-of-week fields combine (cron's DOM_STAR/DOW_STAR rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// Neither day field starts with `*`: a day matches when either field matches.
    Either,
    /// A day field starts with `*`: a day matches only when both fields match.
    Both,
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

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// The schedules among `exprs` that parse, in order (a spec's schedules were validated when it was
    /// written; one that no longer parses names no instant).
    pub fn parse_valid(exprs: &[String]) -> Vec<Schedule> {
        exprs
            .iter()
            .filter_map(|s| Schedule::parse(s).ok())
            .collect()
    }

    /// Parse and validate an expression (already trimmed by the manifest normalizer; outer spaces are
    /// ignored here too).
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        let fail = |reason: String| ScheduleError {
            message: format!("schedule {}{reason}", quoted(expr)),
        };
        check_characters(expr).map_err(|reason| fail(format!(" {reason}")))?;
        let source = expr.trim_matches(' ');
        let expression = five_fields_of(source).map_err(fail)?;
        let schedule = Self::from_five_fields(source, &expression)
            .map_err(|reason| fail(format!(": {reason}")))?;
        match schedule.never_fires_reason() {
            Some(reason) => Err(fail(format!(" {reason}"))),
            None => Ok(schedule),
        }
    }

    /// The expression as given, outer spaces trimmed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The five fields written into the crontab line: shortcuts and `@every` translated, fields
    /// joined by single spaces. Only `[0-9A-Za-z*/,-]` and single spaces.
    pub fn crontab_expression(&self) -> String {
        self.expression.clone()
    }

    /// Whether cron treats this as a fixed-time job (neither the minute nor the hour field starts
    /// with `*`): such a job runs once across DST changes; a wildcard job follows the wall clock.
    pub fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// Notes on fields that parse but say less than they seem to: a step past the end of its range
    /// (`*/90` minutes is minute 0 only), with the plain equivalent. Empty for most schedules.
    pub fn notes(&self) -> Vec<String> {
        self.expression
            .split(' ')
            .zip(Field::ALL)
            .filter_map(|(text, field)| grammar::oversized_step_note(field, text))
            .map(|note| format!("schedule {}: {note}", quoted(&self.source)))
            .collect()
    }

    /// Selected minutes: bit `m` set for minute `m` (0..=59).
    pub fn minutes(&self) -> u64 {
        self.minutes
    }

    /// Selected hours: bit `h` set for hour `h` (0..=23).
    pub fn hours(&self) -> u32 {
        self.hours
    }

    /// Selected days of the month: bit `d` set for day `d` (1..=31).
    pub fn days_of_month(&self) -> u32 {
        self.days_of_month
    }

    /// Selected months: bit `m` set for month `m` (1..=12).
    pub fn months(&self) -> u16 {
        self.months
    }

    /// Selected days of the week: bit `d` set for day `d`, Sunday = 0 (a 7 in the field is Sunday).
    pub fn days_of_week(&self) -> u8 {
        self.days_of_week
    }

    /// How the two day fields combine.
    pub fn day_rule(&self) -> DayRule {
        self.day_rule
    }

    /// What decides when this schedule fires, spelled-out differences removed: `@daily` and
    /// `@midnight`, a day-of-week `0` and `7`, `@every 1h` and `0 * * * *` have equal fire sets. Two
    /// schedules with equal fire sets fire at the same instants, DST days included.
    pub fn fire_set(&self) -> FireSet {
        const ALL_DAYS_OF_MONTH: u32 = 0xffff_fffe;
        const ALL_DAYS_OF_WEEK: u8 = 0x7f;
        let every_day = self.day_rule == DayRule::Either
            && (self.days_of_month == ALL_DAYS_OF_MONTH || self.days_of_week == ALL_DAYS_OF_WEEK);
        let (days_of_month, days_of_week, day_rule) = if every_day {
            (ALL_DAYS_OF_MONTH, ALL_DAYS_OF_WEEK, DayRule::Both)
        } else {
            (self.days_of_month, self.days_of_week, self.day_rule)
        };
        FireSet {
            minutes: self.minutes,
            hours: self.hours,
            days_of_month,
            months: self.months,
            days_of_week,
            day_rule,
            fixed_time: self.fixed_time,
        }
    }

    /// Whether the wall-clock minute `wall` (seconds ignored) matches all five fields, ignoring DST:
    /// the plain calendar test, for reports about what a DST change does to this schedule.
    pub fn matches_wall_clock(&self, wall: jiff::civil::DateTime) -> bool {
        let day_number = day_number_of(wall.date());
        let minute_of_day = i64::from(wall.hour()) * 60 + i64::from(wall.minute());
        self.matches_local_minute(day_number * calendar::MINUTES_PER_DAY + minute_of_day)
    }

    /// Whether the month and the two day fields select this date (cron's day rule).
    pub fn matches_date(&self, date: jiff::civil::Date) -> bool {
        self.matches_day(day_number_of(date))
    }

    fn from_five_fields(source: &str, expression: &str) -> Result<Schedule, String> {
        let texts: Vec<&str> = expression.split(' ').collect();
        let mut bits = [0u64; 5];
        for ((slot, field), text) in bits.iter_mut().zip(Field::ALL).zip(&texts) {
            *slot = grammar::parse_field(field, text)?;
        }
        let [minutes, hours, days_of_month, months, days_of_week] = bits;
        let starts_with_star = |index: usize| texts.get(index).is_some_and(|t| t.starts_with('*'));
        let day_rule = if starts_with_star(2) || starts_with_star(4) {
            DayRule::Both
        } else {
            DayRule::Either
        };
        Ok(Schedule {
            source: source.to_string(),
            expression: expression.to_string(),
            minutes,
            hours: hours as u32,
            days_of_month: days_of_month as u32,
            months: months as u16,
            days_of_week: fold_sunday(days_of_week),
            day_rule,
            fixed_time: !starts_with_star(0) && !starts_with_star(1),
        })
    }

    /// Why no day ever matches, when that is so. With the either-rule a day-of-week always matches
    /// some day; with the both-rule every (month, day) pair falls on every weekday over 400 years.
    fn never_fires_reason(&self) -> Option<String> {
        if self.day_rule == DayRule::Either {
            return None;
        }
        let months: Vec<u32> = (1..=12).filter(|m| self.months >> m & 1 == 1).collect();
        let possible = months.iter().any(|&month| {
            let last = calendar::longest_month_length(month);
            (1..=last).any(|day| self.days_of_month >> day & 1 == 1)
        });
        if possible {
            return None;
        }
        let lengths: Vec<String> = months
            .iter()
            .map(|&m| {
                let days = calendar::longest_month_length(m);
                format!("{} has {days} days", calendar::month_name(m))
            })
            .collect();
        Some(format!(
            "never fires: {}; pick a day of the month that exists in the chosen months",
            lengths.join(", ")
        ))
    }

    /// Whether the wall-clock minute `local_minute` (minutes since 1970-01-01T00:00 local) matches
    /// all five fields, ignoring DST.
    fn matches_local_minute(&self, local_minute: i64) -> bool {
        let day_number = local_minute.div_euclid(calendar::MINUTES_PER_DAY);
        let minute_of_day = local_minute.rem_euclid(calendar::MINUTES_PER_DAY);
        let (hour, minute) = (minute_of_day / 60, minute_of_day % 60);
        self.minutes >> minute & 1 == 1
            && self.hours >> hour & 1 == 1
            && self.matches_day(day_number)
    }

    /// Whether the month and the day fields select this day.
    fn matches_day(&self, day_number: i64) -> bool {
        let date = calendar::date_of_day(day_number);
        if self.months >> date.month & 1 == 0 {
            return false;
        }
        let by_month_day = self.days_of_month >> date.day & 1 == 1;
        let by_weekday = self.days_of_week >> calendar::weekday_of_day(day_number) & 1 == 1;
        match self.day_rule {
            DayRule::Either => by_month_day || by_weekday,
            DayRule::Both => by_month_day && by_weekday,
        }
    }
}

/// Days since 1970-01-01 of a civil date.
fn day_number_of(date: jiff::civil::Date) -> i64 {
    let month = u32::try_from(date.month()).unwrap_or(1);
    calendar::first_day_of_month(i64::from(date.year()), month) + i64::from(date.day()) - 1
}

/// A day-of-week bitset with bit 7 (Sunday, cron's alternative spelling) folded into bit 0.
fn fold_sunday(bits: u64) -> u8 {
    let sunday = (bits >> 7 & 1) as u8;
    (bits & 0x7f) as u8 | sunday
}

/// Length, control characters, `%` and non-ASCII: rejected before any parsing.
fn check_characters(expr: &str) -> Result<(), String> {
    if expr.len() > MAX_EXPRESSION_BYTES {
        return Err(format!(
            "is {} bytes long; a schedule is at most {MAX_EXPRESSION_BYTES} bytes",
            expr.len()
        ));
    }
    for (position, c) in expr.char_indices() {
        if c == '\t' {
            return Err(format!(
                "contains a tab at byte {position}; separate fields with spaces"
            ));
        }
        if c.is_control() {
            return Err(format!(
                "contains control character U+{:04X} at byte {position}; a schedule is one line of \
                 printable text",
                u32::from(c)
            ));
        }
        if c == '%' {
            return Err(
                "contains '%', which cron turns into a newline of the command; remove it"
                    .to_string(),
            );
        }
        if !c.is_ascii() {
            return Err(format!(
                "contains non-ASCII character {c:?} at byte {position}; use ASCII digits, names and \
                 '* , - /'"
            ));
        }
    }
    Ok(())
}

/// The five space-separated fields of an expression, with shortcuts and `@every` translated. The
/// reason for a rejection carries its own separator from the quoted expression.
fn five_fields_of(source: &str) -> Result<String, String> {
    if source.is_empty() {
        return Err(
            " is empty; write five fields like \"0 2 * * *\" or a shortcut like @daily".to_string(),
        );
    }
    if source.starts_with('@') {
        return translate_shortcut(source)
            .map(str::to_string)
            .map_err(|reason| format!(": {reason}"));
    }
    let fields: Vec<&str> = source.split(' ').filter(|f| !f.is_empty()).collect();
    match fields.len() {
        5 => Ok(fields.join(" ")),
        6 | 7 => Err(format!(
            " has {} fields, cron needs 5 (minute hour day-of-month month day-of-week); cron has no \
             seconds or year field, remove it",
            fields.len()
        )),
        n => Err(format!(
            " has {n} field{}, cron needs 5 (minute hour day-of-month month day-of-week)",
            if n == 1 { "" } else { "s" }
        )),
    }
}

fn translate_shortcut(source: &str) -> Result<&'static str, String> {
    let (name, argument) = match source.split_once(' ') {
        Some((name, rest)) => (name, rest.trim_matches(' ')),
        None => (source, ""),
    };
    if name == "@every" {
        return every::translate(argument);
    }
    let fields = match name {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@reboot" => {
            return Err(
                "@reboot runs when the cron daemon starts, not on a schedule; cronix jobs need a \
                 schedule"
                    .to_string(),
            );
        }
        _ => return Err(unknown_shortcut(name)),
    };
    if argument.is_empty() {
        Ok(fields)
    } else {
        Err(format!(
            "{name} takes nothing after it; remove {argument:?}"
        ))
    }
}

fn unknown_shortcut(name: &str) -> String {
    const KNOWN: [&str; 8] = [
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@every",
    ];
    let hint = match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        Some(known) => format!("; shortcuts are lowercase: {known}"),
        None => String::new(),
    };
    format!(
        "unknown shortcut {name}{hint}; use one of {} <N>s|m|h",
        KNOWN.join(" ")
    )
}

/// The expression for an error message: escaped, and cut short when long.
fn quoted(expr: &str) -> String {
    if expr.chars().count() <= QUOTED_CHARS {
        format!("{expr:?}")
    } else {
        let head: String = expr.chars().take(QUOTED_CHARS).collect();
        format!("{head:?}…")
    }
}
