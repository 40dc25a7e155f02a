//! The operator's `env_file`: `NAME=value` lines that stand in for the environment cron does not give.
//!
//! Reads one file (with the same ownership and mode checks as a `file:` secret) and returns a map; it
//! never calls `set_var`. Errors name the file and the line, never a value or a line's text.

use std::collections::BTreeMap;
use std::path::Path;

use crate::core::secret::Secret;
use crate::shell::trusted_path;

/// Largest env file accepted.
pub const MAX_ENV_FILE_LEN: u64 = 1024 * 1024;

/// Load an env file: `NAME=value` per line; blank lines and lines starting with `#` are skipped; an
/// optional `export ` prefix is allowed; a value wrapped in matching `"` or `'` has them removed (no
/// escapes are processed); an unquoted value is trimmed of surrounding whitespace. A name set twice
/// is an error.
pub fn load_env_file(path: &Path) -> Result<BTreeMap<String, Secret>, String> {
    let bytes = trusted_path::read(path, MAX_ENV_FILE_LEN)
        .map_err(|why| format!("env file {} {why}", path.display()))?;
    parse(&bytes).map_err(|why| format!("env file {}: {why}", path.display()))
}

/// Parse env file contents; errors are `line N: ...` without the line's text.
pub fn parse(bytes: &[u8]) -> Result<BTreeMap<String, Secret>, String> {
    let mut vars = BTreeMap::new();
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let Some((name, value)) =
            parse_line(raw_line).map_err(|why| format!("line {number}: {why}"))?
        else {
            continue;
        };
        if let Some(previous) = first_seen.get(&name) {
            return Err(format!(
                "line {number}: {name} is already set on line {previous}; keep one of them"
            ));
        }
        first_seen.insert(name.clone(), number);
        vars.insert(name, Secret::new(value));
    }
    Ok(vars)
}

/// One line: `None` for blank lines and comments, else the name and the value bytes.
fn parse_line(raw_line: &[u8]) -> Result<Option<(String, Vec<u8>)>, String> {
    let line = raw_line
        .strip_suffix(b"\r")
        .unwrap_or(raw_line)
        .trim_ascii();
    if line.is_empty() || line.starts_with(b"#") {
        return Ok(None);
    }
    let line = strip_export(line);
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return Err("expected NAME=value (the line has no \"=\")".into());
    };
    let name = parse_name(&line[..eq])?;
    let value = parse_value(&line[eq + 1..]).map_err(|why| format!("the value of {name} {why}"))?;
    Ok(Some((name, value)))
}

fn strip_export(line: &[u8]) -> &[u8] {
    match line.strip_prefix(b"export") {
        Some(rest) if rest.first().is_some_and(|b| *b == b' ' || *b == b'\t') => {
            rest.trim_ascii_start()
        }
        _ => line,
    }
}

fn parse_name(name: &[u8]) -> Result<String, String> {
    let valid = name
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if !valid {
        return Err(
            "the name before \"=\" must be letters, digits and _, not starting with a digit, \
             with no space before \"=\""
                .into(),
        );
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

fn parse_value(value: &[u8]) -> Result<Vec<u8>, String> {
    let value = value.trim_ascii();
    match value.first() {
        Some(&quote @ (b'"' | b'\'')) => {
            if value.len() >= 2 && value.last() == Some(&quote) {
                Ok(value[1..value.len() - 1].to_vec())
            } else {
                Err("opens a quote that is not closed at the end of the line".into())
            }
        }
        _ => Ok(value.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(vars: &'a BTreeMap<String, Secret>, name: &str) -> &'a [u8] {
        vars.get(name).unwrap().expose()
    }

    #[test]
    fn names_values_comments_blanks_export_and_quotes() {
        let text = b"# billing secrets\n\nA=plain\nexport B=exported\r\nC=\"double quoted \"\nD='single'\nF=x=y#z\n";
        let vars = parse(text).unwrap();
        assert_eq!(value(&vars, "A"), b"plain");
        assert_eq!(value(&vars, "B"), b"exported");
        assert_eq!(value(&vars, "C"), b"double quoted ");
        assert_eq!(value(&vars, "D"), b"single");
        assert!(parse(b"E =x").is_err(), "no space before =");
        assert_eq!(value(&vars, "F"), b"x=y#z");
        assert_eq!(vars.len(), 5);
    }

    #[test]
    fn an_empty_value_is_kept_as_empty() {
        let vars = parse(b"EMPTY=\nQUOTED=\"\"\n").unwrap();
        assert_eq!(value(&vars, "EMPTY"), b"");
        assert_eq!(value(&vars, "QUOTED"), b"");
    }

    #[test]
    fn exported_is_a_name_not_an_export_prefix() {
        let vars = parse(b"exported=1\n").unwrap();
        assert_eq!(value(&vars, "exported"), b"1");
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let cases: [(&[u8], &str); 5] = [
            (b"A=1\nhunter2\n", "line 2: expected NAME=value"),
            (b"A=1\n\n9X=hunter2\n", "line 3: the name"),
            (b"A=\"hunter2\n", "line 1: the value of A opens a quote"),
            (b"A='hunter2\"\n", "line 1: the value of A opens a quote"),
            (
                b"A=hunter2\nA=hunter2\n",
                "line 2: A is already set on line 1",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with(expected), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
