//! What an update changes, for people: the lines of an entry's artifact that go and come (a crontab
//! line, or a unit pair's lines), and the fields of a spec file that differ (`job.request.url`,
//! `job.policy.timeout_seconds`, …).
//!
//! Never shows a value that may be secret: a header is named with "value changed", never its value;
//! a body by its sizes; a `raw:` secret reference redacted. Pure: bytes in, lines out; the plan holds
//! the lines and the commands print them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::core::escape;
use crate::core::target_checks::shown_ref;

/// Longest value shown whole; longer ones are cut with an ellipsis.
const SHOWN_VALUE: usize = 120;

/// The lines of `before` that are not in `after` (`- `), then those of `after` not in `before`
/// (`+ `), each in its order; one line each for a one-line artifact (a crontab entry).
pub fn artifact_changes(before: &str, after: &str) -> Vec<String> {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let mut out: Vec<String> = old
        .iter()
        .filter(|l| !new.contains(l))
        .map(|l| format!("- {}", escape::inline(l)))
        .collect();
    out.extend(
        new.iter()
            .filter(|l| !old.contains(l))
            .map(|l| format!("+ {}", escape::inline(l))),
    );
    out
}

/// The fields of a spec file that differ between `before` and `after` (both JSON), plus its mode
/// and group: one line each, `field: old → new`, values that may be secret withheld.
pub fn spec_changes(
    before: &[u8],
    after: &[u8],
    modes: (u32, u32),
    groups: (Option<u32>, Option<u32>),
) -> Vec<String> {
    let mut out = Vec::new();
    match (
        serde_json::from_slice::<Value>(before),
        serde_json::from_slice::<Value>(after),
    ) {
        (Ok(old), Ok(new)) => {
            let (old, new) = (flatten(&old), flatten(&new));
            let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
            paths.sort();
            paths.dedup();
            for path in paths {
                let (o, n) = (old.get(path), new.get(path));
                if o != n {
                    out.push(field_change(path, o, n));
                }
            }
        }
        _ => out.push("the installed file is not a spec cronix can read; it is rewritten".into()),
    }
    if modes.0 != modes.1 {
        out.push(format!("file mode: {:o} → {:o}", modes.0, modes.1));
    }
    if let (old, Some(new)) = groups
        && old != Some(new)
    {
        let shown = old.map_or_else(|| "?".to_string(), |g| g.to_string());
        out.push(format!("file group: {shown} → {new}"));
    }
    out
}

/// Every leaf of a JSON document by its dotted path (array items by index).
fn flatten(value: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

fn walk(at: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                walk(&join(k), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                walk(&join(&i.to_string()), v, out);
            }
        }
        leaf => {
            out.insert(at.to_string(), leaf.clone());
        }
    }
}

/// One field's change, in words; headers, bodies and `raw:` refs never show their values.
fn field_change(path: &str, old: Option<&Value>, new: Option<&Value>) -> String {
    if let Some(header) = path.strip_prefix("job.request.headers.") {
        let header = escape::inline(header);
        return match (old, new) {
            (None, _) => format!("header {header}: added (value not shown)"),
            (_, None) => format!("header {header}: removed"),
            _ => format!("header {header}: value changed (not shown)"),
        };
    }
    if path == "job.request.body" {
        let size = |v: Option<&Value>| v.and_then(Value::as_str).map_or(0, str::len);
        return format!(
            "body: changed ({} → {} bytes, not shown)",
            size(old),
            size(new)
        );
    }
    let refs = path.starts_with("secret_refs.") || path.starts_with("job.auth.secret_refs.");
    let shown = |v: Option<&Value>| match v {
        None => "(none)".to_string(),
        Some(Value::String(s)) if refs => shown_ref(s),
        Some(Value::String(s)) => {
            format!("{:?}", escape::inline_cut(s, SHOWN_VALUE))
        }
        Some(other) => escape::inline_cut(&other.to_string(), SHOWN_VALUE),
    };
    format!("{}: {} → {}", escape::inline(path), shown(old), shown(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_line_shows_the_line_that_goes_and_the_one_that_comes() {
        assert_eq!(
            artifact_changes("*/20 * * * * x", "*/15 * * * * x"),
            vec!["- */20 * * * * x", "+ */15 * * * * x"]
        );
        let unit_a = "[Timer]\nOnCalendar=*:0/20\nPersistent=true\n";
        let unit_b = "[Timer]\nOnCalendar=*:0/15\nPersistent=true\n";
        assert_eq!(
            artifact_changes(unit_a, unit_b),
            vec!["- OnCalendar=*:0/20", "+ OnCalendar=*:0/15"]
        );
    }

    #[test]
    fn a_spec_change_names_fields_and_never_shows_header_values_or_bodies() {
        let old = br#"{"job":{"request":{"url":"https://a/x","headers":{"Authorization":"Bearer s3cr3t"},"body":"token=abc"},"policy":{"timeout_seconds":30}},"secret_refs":["raw:hunter2"]}"#;
        let new = br#"{"job":{"request":{"url":"https://a/y","headers":{"Authorization":"Bearer other","X-New":"v"},"body":"token=abcd"},"policy":{"timeout_seconds":60}},"secret_refs":["env:K"]}"#;
        let lines = spec_changes(old, new, (0o600, 0o640), (None, None));
        let text = lines.join("\n");
        for secret in ["s3cr3t", "other", "token=", "hunter2", "\"v\""] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        assert!(
            text.contains("job.request.url: \"https://a/x\" → \"https://a/y\""),
            "{text}"
        );
        assert!(
            text.contains("job.policy.timeout_seconds: 30 → 60"),
            "{text}"
        );
        assert!(
            text.contains("header Authorization: value changed (not shown)"),
            "{text}"
        );
        assert!(
            text.contains("header X-New: added (value not shown)"),
            "{text}"
        );
        assert!(
            text.contains("body: changed (9 → 10 bytes, not shown)"),
            "{text}"
        );
        assert!(
            text.contains("secret_refs.0: raw:[redacted] → env:K"),
            "{text}"
        );
        assert!(text.contains("file mode: 600 → 640"), "{text}");
    }
}
