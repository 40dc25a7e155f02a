//! The five-field grammar Debian's cron(8) accepts: one field's text in, its bitset out.
//!
//! Owns field ranges, names, lists, ranges and steps, and the reason text for every rejection. Must not
//! know about shortcuts, `@every`, time zones or fire times.

/// One of the five crontab fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Longest digit run read as a number; anything longer is out of every field's range anyway.
const MAX_DIGITS: usize = 9;

impl Field {
    pub(super) const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    pub(super) fn label(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn low(self) -> u32 {
        match self {
            Field::DayOfMonth | Field::Month => 1,
            _ => 0,
        }
    }

    fn high(self) -> u32 {
        match self {
            Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 31,
            Field::Month => 12,
            Field::DayOfWeek => 7,
        }
    }

    fn range_text(self) -> String {
        match self {
            Field::Month => "1-12 or jan-dec".to_string(),
            Field::DayOfWeek => "0-7 (0 and 7 are Sunday) or sun-sat".to_string(),
            _ => format!("{}-{}", self.low(), self.high()),
        }
    }

    /// The value a three-letter name stands for, when this field takes names.
    fn name_value(self, word: &str) -> Option<u32> {
        let names: &[&str] = match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &DAY_NAMES,
            _ => return None,
        };
        let index = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(word))?;
        let index = u32::try_from(index).ok()?;
        Some(if self == Field::Month {
            index + 1
        } else {
            index
        })
    }
}

/// Parse one field's text into a bitset where bit `v` is set when value `v` is selected.
///
/// Day-of-week keeps 7 as its own bit here; the caller folds it into Sunday.
pub(super) fn parse_field(field: Field, text: &str) -> Result<u64, String> {
    reject_foreign_syntax(field, text)?;
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "{} field {text:?} has an empty list item; separate values with single commas, e.g. 1,15",
                field.label()
            ));
        }
        bits |= parse_item(field, item)
            .map_err(|reason| format!("{} field {text:?}: {reason}", field.label()))?;
    }
    Ok(bits)
}

/// Quartz and croner syntax that cron(8) does not know, named so the operator sees why.
fn reject_foreign_syntax(field: Field, text: &str) -> Result<(), String> {
    let label = field.label();
    if text.contains('?') {
        return Err(format!(
            "{label} field {text:?}: '?' is Quartz syntax that cron(8) does not accept; use '*'"
        ));
    }
    if text.contains('#') {
        return Err(format!(
            "{label} field {text:?}: '#' (nth weekday of the month) is not supported by cron(8), and \
             cron ORs the two day fields, so it cannot be written another way; schedule the weekday \
             and check the date in the job"
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '*' | '/' | ',' | '-')))
    {
        return Err(format!(
            "{label} field {text:?}: unexpected character {bad:?}; a field uses digits, names, '*', ',', '-' and '/'"
        ));
    }
    Ok(())
}

/// One list item: `*`, `N`, `A-B`, `*/S` or `A-B/S`.
fn parse_item(field: Field, item: &str) -> Result<u64, String> {
    let (span, step) = match item.split_once('/') {
        Some((span, step)) => (span, Some(step)),
        None => (item, None),
    };
    let (low, high, is_range) = parse_span(field, span)?;
    let step = match step {
        None => 1,
        Some(_) if !is_range => {
            return Err(format!(
                "a step needs a range: write {span}-{}/{} or */{}",
                field.high(),
                step.unwrap_or_default(),
                step.unwrap_or_default()
            ));
        }
        Some(step) => parse_step(field, step)?,
    };
    Ok(bits_of(low, high, step))
}

/// `*`, `N` or `A-B`, with whether it is a range (only ranges take a step).
fn parse_span(field: Field, span: &str) -> Result<(u32, u32, bool), String> {
    if span == "*" {
        return Ok((field.low(), field.high(), true));
    }
    if span.matches('-').count() > 1 {
        return Err(format!("range {span} has more than one '-'; write A-B"));
    }
    match span.split_once('-') {
        Some((first, last)) => {
            let low = parse_value(field, first)?;
            let high = parse_value(field, last)?;
            if low > high {
                return Err(format!(
                    "range {span} runs backwards; cron ranges go from low to high, so split it into \
                     a list: {first}-{},{}-{last}",
                    field.high(),
                    field.low()
                ));
            }
            Ok((low, high, true))
        }
        None => {
            let value = parse_value(field, span)?;
            Ok((value, value, false))
        }
    }
}

/// A number or (month and day-of-week only) a three-letter name, within the field's range.
fn parse_value(field: Field, text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("a range or step is missing a number".to_string());
    }
    if text == "*" || text.contains('*') {
        return Err("'*' stands alone or as */step, not inside a range".to_string());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_number_in_range(field, text);
    }
    if let Some(value) = field.name_value(text) {
        return Ok(value);
    }
    Err(explain_unknown_word(field, text))
}

fn parse_number_in_range(field: Field, text: &str) -> Result<u32, String> {
    let value = if text.len() > MAX_DIGITS {
        None
    } else {
        text.parse::<u32>().ok()
    };
    match value {
        Some(value) if (field.low()..=field.high()).contains(&value) => Ok(value),
        _ => Err(format!(
            "{text} is out of range; the {} field takes {}",
            field.label(),
            field.range_text()
        )),
    }
}

fn explain_unknown_word(field: Field, text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if upper.ends_with('W')
        && upper
            .trim_end_matches('W')
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'L')
    {
        return "'W' (nearest weekday) is not supported by cron(8); use a day-of-month number"
            .to_string();
    }
    if upper.ends_with('L') || upper.starts_with('L') {
        return "'L' (last day) is not supported by cron(8); use explicit days, e.g. 28-31 and \
                a check in the job"
            .to_string();
    }
    match field {
        Field::Month => format!("{text:?} is not a month; use 1-12 or jan..dec"),
        Field::DayOfWeek => format!("{text:?} is not a day of the week; use 0-7 or sun..sat"),
        _ => format!(
            "{text:?} is not a number; names are allowed only in the month and day-of-week fields"
        ),
    }
}

fn parse_step(field: Field, text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("'/' must be followed by a step, e.g. */5".to_string());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("step {text:?} must be a plain number, e.g. */5"));
    }
    let step = if text.len() > MAX_DIGITS {
        None
    } else {
        text.parse::<u32>().ok()
    };
    match step {
        Some(0) => Err("step 0 never advances; use a step of 1 or more".to_string()),
        Some(step) => Ok(step),
        None => Err(format!(
            "step {text} has more than {MAX_DIGITS} digits; use a step up to {}",
            field.high()
        )),
    }
}

/// When an item of the field steps past the end of its range (`*/90` minutes, `*/15` day-of-week),
/// what cron makes of it: Debian cron accepts it and selects only the range's start, so the note
/// gives the plain equivalent. `None` for a field without such a step (or one that does not parse).
pub(super) fn oversized_step_note(field: Field, text: &str) -> Option<String> {
    let oversized = text.split(',').any(|item| {
        let Some((span, step)) = item.split_once('/') else {
            return false;
        };
        let (Ok((low, high, _)), Ok(step)) = (parse_span(field, span), step.parse::<u32>()) else {
            return false;
        };
        step > high - low
    });
    if !oversized {
        return None;
    }
    let bits = parse_field(field, text).ok()?;
    let values: Vec<String> = (0..64)
        .filter(|v| bits >> v & 1 == 1)
        .map(|v: u32| v.to_string())
        .collect();
    Some(format!(
        "{} field {text:?} steps past the end of its range, so cron runs it only at {}; write {} \
         to say so plainly",
        field.label(),
        values.join(","),
        values.join(",")
    ))
}

fn bits_of(low: u32, high: u32, step: u32) -> u64 {
    (low..=high)
        .step_by(step as usize)
        .fold(0u64, |bits, value| bits | (1u64 << value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(bits: u64) -> Vec<u32> {
        (0..64).filter(|v| bits >> v & 1 == 1).collect()
    }

    #[test]
    fn ranges_steps_and_lists_select_the_expected_values() {
        assert_eq!(
            values(parse_field(Field::Minute, "*/15").unwrap()),
            [0, 15, 30, 45]
        );
        assert_eq!(
            values(parse_field(Field::Hour, "9-17/4").unwrap()),
            [9, 13, 17]
        );
        assert_eq!(
            values(parse_field(Field::DayOfMonth, "*/10").unwrap()),
            [1, 11, 21, 31]
        );
        assert_eq!(
            values(parse_field(Field::Minute, "1,5-6,59").unwrap()),
            [1, 5, 6, 59]
        );
    }

    #[test]
    fn a_step_past_the_end_of_the_range_selects_only_its_start_as_debian_cron_does() {
        assert_eq!(values(parse_field(Field::Minute, "*/90").unwrap()), [0]);
        assert_eq!(values(parse_field(Field::DayOfWeek, "*/15").unwrap()), [0]);
        assert_eq!(values(parse_field(Field::Hour, "3-5/24").unwrap()), [3]);
        assert_eq!(values(parse_field(Field::Minute, "*/59").unwrap()), [0, 59]);
        let note = oversized_step_note(Field::DayOfWeek, "*/15").unwrap();
        assert!(note.contains("only at 0; write 0"), "{note}");
        assert_eq!(oversized_step_note(Field::Minute, "*/59"), None);
        assert_eq!(oversized_step_note(Field::Minute, "*/15"), None);
    }

    #[test]
    fn names_are_case_insensitive_and_work_in_ranges() {
        assert_eq!(
            values(parse_field(Field::Month, "JAN-mar").unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            values(parse_field(Field::DayOfWeek, "Mon-Fri/2").unwrap()),
            [1, 3, 5]
        );
        assert_eq!(
            values(parse_field(Field::DayOfWeek, "sun,7").unwrap()),
            [0, 7]
        );
    }

    #[test]
    fn malformed_items_are_rejected_with_a_reason() {
        let cases = [
            (Field::Minute, "5/10", "a step needs a range"),
            (Field::Minute, "5-1", "runs backwards"),
            (Field::Minute, "*/0", "step 0"),
            (Field::Minute, "*/9999999999", "more than 9 digits"),
            (Field::Minute, "1,,2", "empty list item"),
            (Field::Minute, ",1", "empty list item"),
            (Field::Minute, "60", "out of range"),
            (Field::DayOfMonth, "0", "out of range"),
            (Field::Minute, "99999999999999999999", "out of range"),
            (Field::Hour, "mon", "names are allowed only"),
            (Field::Month, "january", "not a month"),
            (Field::DayOfMonth, "L", "'L'"),
            (Field::DayOfMonth, "15W", "'W'"),
            (Field::DayOfWeek, "5#3", "'#'"),
            (Field::DayOfMonth, "?", "'?'"),
            (Field::Minute, "*-5", "'*' stands alone"),
            (Field::Minute, "1-", "missing a number"),
            (Field::Minute, "+5", "unexpected character"),
        ];
        for (field, text, expected) in cases {
            let error = parse_field(field, text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
