//! `@every <N>s|m|h`: translate an interval into the five-field form that repeats it exactly, or say
//! why it cannot and which expressible intervals are nearest.
//!
//! Must not accept an interval that the crontab line would only approximate.

/// Every interval cron can repeat exactly, in seconds, with its five-field form.
const EXPRESSIBLE: [(u64, &str); 19] = [
    (60, "*/1 * * * *"),
    (120, "*/2 * * * *"),
    (180, "*/3 * * * *"),
    (240, "*/4 * * * *"),
    (300, "*/5 * * * *"),
    (360, "*/6 * * * *"),
    (600, "*/10 * * * *"),
    (720, "*/12 * * * *"),
    (900, "*/15 * * * *"),
    (1200, "*/20 * * * *"),
    (1800, "*/30 * * * *"),
    (3600, "0 */1 * * *"),
    (7200, "0 */2 * * *"),
    (10800, "0 */3 * * *"),
    (14400, "0 */4 * * *"),
    (21600, "0 */6 * * *"),
    (28800, "0 */8 * * *"),
    (43200, "0 */12 * * *"),
    (86400, "0 0 * * *"),
];

const MAX_DIGITS: usize = 9;

/// The five fields for `@every <interval>`, or why the interval cannot be repeated exactly.
pub(super) fn translate(interval: &str) -> Result<&'static str, String> {
    let seconds = interval_seconds(interval)?;
    if let Some((_, fields)) = EXPRESSIBLE.iter().find(|(s, _)| *s == seconds) {
        return Ok(fields);
    }
    Err(format!(
        "the interval {interval} {}; nearest: {}",
        why_inexpressible(seconds),
        nearest_suggestions(seconds)
    ))
}

/// Seconds in `<N>s`, `<N>m` or `<N>h`.
fn interval_seconds(interval: &str) -> Result<u64, String> {
    if interval.is_empty() {
        return Err("@every needs an interval, e.g. @every 15m or @every 2h".to_string());
    }
    let digits_end = interval
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(interval.len());
    let (digits, unit) = interval.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "the interval {interval:?} must start with a number, e.g. @every 15m"
        ));
    }
    let unit_seconds = match unit.to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "" => {
            return Err(format!(
                "the interval {interval} needs a unit; write {interval}m or {interval}h"
            ));
        }
        "d" => {
            return Err(format!(
                "the interval {interval}: days are not supported; use @daily, @weekly or a five-field schedule"
            ));
        }
        _ if unit.bytes().any(|b| b.is_ascii_digit()) => {
            return Err(format!(
                "the interval {interval}: use one number with a single unit (s, m or h), e.g. @every 90m"
            ));
        }
        _ => {
            return Err(format!(
                "the interval {interval} has an unknown unit {unit:?}; use s, m or h"
            ));
        }
    };
    let count = (digits.len() <= MAX_DIGITS)
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            format!("the interval {interval} is too large; the longest is @every 24h")
        })?;
    Ok(count * unit_seconds)
}

fn why_inexpressible(seconds: u64) -> String {
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    if seconds < 60 {
        "is shorter than cron's one-minute resolution".to_string()
    } else if !seconds.is_multiple_of(60) {
        "is not a whole number of minutes, and cron fires on minutes".to_string()
    } else if minutes < 60 {
        format!(
            "does not repeat exactly: {minutes} does not divide 60, so the gap across each hour would differ"
        )
    } else if !seconds.is_multiple_of(3600) {
        "is over an hour and not a whole number of hours".to_string()
    } else if hours < 24 {
        format!(
            "does not repeat exactly: {hours} does not divide 24, so the gap across midnight would differ"
        )
    } else {
        "is longer than a day, which cron cannot repeat exactly; for longer periods write a five-field \
         schedule such as @weekly"
            .to_string()
    }
}

/// The expressible intervals just below and just above `seconds`.
fn nearest_suggestions(seconds: u64) -> String {
    let below = EXPRESSIBLE.iter().rev().find(|(s, _)| *s < seconds);
    let above = EXPRESSIBLE.iter().find(|(s, _)| *s > seconds);
    [below, above]
        .into_iter()
        .flatten()
        .map(|(s, fields)| format!("@every {} ({fields})", display_interval(*s)))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn display_interval(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else {
        format!("{}m", seconds / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressible_intervals_translate_exactly() {
        let cases = [
            ("1m", "*/1 * * * *"),
            ("60s", "*/1 * * * *"),
            ("300s", "*/5 * * * *"),
            ("15m", "*/15 * * * *"),
            ("60m", "0 */1 * * *"),
            ("120m", "0 */2 * * *"),
            ("1h", "0 */1 * * *"),
            ("8h", "0 */8 * * *"),
            ("24h", "0 0 * * *"),
            ("1440m", "0 0 * * *"),
        ];
        for (interval, expected) in cases {
            assert_eq!(translate(interval).unwrap(), expected, "{interval}");
        }
    }

    #[test]
    fn every_expressible_form_is_what_its_interval_says() {
        for (seconds, fields) in EXPRESSIBLE {
            let minutes = seconds / 60;
            let expected = if minutes < 60 {
                format!("*/{minutes} * * * *")
            } else if minutes < 1440 {
                format!("0 */{} * * *", minutes / 60)
            } else {
                "0 0 * * *".to_string()
            };
            assert_eq!(fields, expected);
            assert_eq!(1440 % minutes, 0, "{fields} must divide the day");
        }
    }
}
