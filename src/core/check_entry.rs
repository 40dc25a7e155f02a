//! The owned `cronix check` crontab entry that config `check_every` asks for: its line, its marker
//! (`# cronix:check hash=<16 hex>`, an identity of its own that the app entries' parser treats as a
//! foreign comment), and the crontab bytes with that entry put in place, replaced or removed.
//!
//! Pure and self-contained so a backend layer can move it whole. Only validated parts reach the
//! line: the caller checks the paths with `target_checks::is_safe_path` first.

use sha2::{Digest, Sha256};

/// Every check marker starts with this.
pub const MARKER_PREFIX: &str = "# cronix:check ";

/// What the entry runs and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEntry<'a> {
    /// The five crontab fields (from `@every N`).
    pub schedule: &'a str,
    /// The user column of a system crontab.
    pub run_as: Option<&'a str>,
    pub bin: &'a str,
    pub config: &'a str,
    pub spec_dir: &'a str,
    pub state_dir: &'a str,
}

impl CheckEntry<'_> {
    /// The entry line: output discarded (cron would mail it at every run; alerts tell people).
    pub fn line(&self) -> String {
        let user = self.run_as.map(|u| format!("{u} ")).unwrap_or_default();
        format!(
            "{} {user}{} --config {} check --spec-dir {} --state-dir {} >/dev/null",
            self.schedule, self.bin, self.config, self.spec_dir, self.state_dir
        )
    }

    /// The entry and its marker, two lines.
    pub fn render(&self) -> String {
        let line = self.line();
        let digest = Sha256::digest(line.as_bytes());
        format!(
            "{line}\n{MARKER_PREFIX}hash={}\n",
            &hex::encode(digest)[..16]
        )
    }
}

/// `bytes` with exactly the `desired` check entry (rendered), or none: existing check entries (a
/// marker and, when it is a check line, the line above it) are removed and the desired one appended.
/// When the only check entry already equals `desired`, the bytes come back unchanged.
pub fn place(bytes: &[u8], desired: Option<&str>) -> Vec<u8> {
    let (out, found) = split_found(bytes);
    if let (Some(want), [only]) = (desired, found.as_slice())
        && only == want.as_bytes()
    {
        return bytes.to_vec();
    }
    if found.is_empty() && desired.is_none() {
        return bytes.to_vec();
    }
    let mut result: Vec<u8> = out.concat();
    if let Some(want) = desired {
        if !result.is_empty() && !result.ends_with(b"\n") {
            result.push(b'\n');
        }
        result.extend_from_slice(want.as_bytes());
    }
    result
}

/// The check entries found (each its line, when there is one, and its marker) and the other lines.
fn split_found(bytes: &[u8]) -> (Vec<&[u8]>, Vec<Vec<u8>>) {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let mut out: Vec<&[u8]> = Vec::with_capacity(lines.len());
    let mut found: Vec<Vec<u8>> = Vec::new();
    for line in lines {
        if !content(line).starts_with(MARKER_PREFIX.as_bytes()) {
            out.push(line);
            continue;
        }
        let mut pair = Vec::new();
        if out.last().is_some_and(|prev| is_check_line(content(prev))) {
            pair.extend_from_slice(out.pop().unwrap_or_default());
        }
        pair.extend_from_slice(line);
        found.push(pair);
    }
    (out, found)
}

/// The check entry installed in a crontab's bytes, as `place` would compare it (every marked
/// entry found, in order: more than one differs from any one desired entry).
pub fn installed(bytes: &[u8]) -> Option<String> {
    let (_, found) = split_found(bytes);
    (!found.is_empty()).then(|| String::from_utf8_lossy(&found.concat()).into_owned())
}

fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line this module renders: not a comment, running `… check --spec-dir …`.
fn is_check_line(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    !text.trim_start().starts_with('#') && text.contains(" check --spec-dir ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(schedule: &str) -> String {
        CheckEntry {
            schedule,
            run_as: Some("root"),
            bin: "/usr/local/bin/cronix",
            config: "/etc/cronix/cronix.yaml",
            spec_dir: "/etc/cronix/jobs",
            state_dir: "/var/lib/cronix",
        }
        .render()
    }

    #[test]
    fn the_entry_is_added_kept_replaced_and_removed() {
        let foreign = b"MAILTO=ops\n# keep me\r\n0 1 * * * root /bin/true";
        let five = entry("*/5 * * * *");
        let added = place(foreign, Some(&five));
        assert!(added.starts_with(b"MAILTO=ops\n# keep me\r\n0 1 * * * root /bin/true\n"));
        assert!(added.ends_with(five.as_bytes()));
        assert_eq!(place(&added, Some(&five)), added, "unchanged when equal");
        let ten = entry("*/10 * * * *");
        let replaced = place(&added, Some(&ten));
        assert_eq!(
            String::from_utf8_lossy(&replaced)
                .matches("cronix:check")
                .count(),
            1
        );
        assert!(replaced.ends_with(ten.as_bytes()));
        let removed = place(&replaced, None);
        assert_eq!(
            removed,
            b"MAILTO=ops\n# keep me\r\n0 1 * * * root /bin/true\n"
        );
        assert_eq!(
            place(foreign, None),
            foreign.to_vec(),
            "no entry, nothing to do"
        );
    }

    #[test]
    fn an_orphaned_marker_never_takes_a_foreign_line_with_it() {
        let text = format!("0 1 * * * root /bin/true\n{MARKER_PREFIX}hash=0123456789abcdef\n");
        assert_eq!(place(text.as_bytes(), None), b"0 1 * * * root /bin/true\n");
    }

    #[test]
    fn the_line_has_the_user_column_only_when_asked() {
        let user_format = CheckEntry {
            schedule: "0 * * * *",
            run_as: None,
            bin: "/b",
            config: "/c",
            spec_dir: "/s",
            state_dir: "/t",
        };
        assert_eq!(
            user_format.line(),
            "0 * * * * /b --config /c check --spec-dir /s --state-dir /t >/dev/null"
        );
    }
}
