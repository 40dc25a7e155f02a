//! Crontab text as bytes: split it into foreign lines and cronix-owned entries (an entry line and the
//! marker line right after it), and render entries and markers.
//!
//! Works on bytes, never on `String`, so foreign lines (comments, variables, CRLF, tabs, invalid UTF-8, a
//! missing final newline) come back byte-identical. Pure: no files, no processes.

use std::fmt;

use std::collections::HashMap;

use crate::core::manifest::is_identifier;
use crate::core::plan::{Action, InstalledEntry, Op, Plan};

/// Every marker line starts with this (the reference tool writes the same marker).
pub const MARKER_PREFIX: &str = "# cronix:owned ";

/// What a marker line says: which entry owns the line above it and the hash it was written with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Marker {
    pub app: String,
    pub job: String,
    pub hash: String,
    pub idx: usize,
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{MARKER_PREFIX}app={} job={} hash={} idx={}",
            self.app, self.job, self.hash, self.idx
        )
    }
}

/// An entry cronix owns: the entry line and its marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEntry {
    pub marker: Marker,
    /// The entry line without its line terminator (and without a trailing `\r`).
    pub line: String,
    /// Both lines exactly as read.
    pub raw: Vec<u8>,
}

/// One piece of a crontab, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A line cronix does not own, with its terminator as read (the last line may have none).
    Foreign(Vec<u8>),
    /// An entry line followed by the marker that owns it.
    Owned(OwnedEntry),
    /// A marker line whose previous line is not its entry. It owns nothing; only the marker line itself
    /// is in this block.
    OrphanMarker { marker: Marker, raw: Vec<u8> },
}

/// The name an environment line (`NAME = value`) assigns, if the line is one.
fn assigned_name(line: &str) -> Option<String> {
    let line = line.trim_start();
    let (name, _) = line.split_once('=')?;
    let name = name.trim_end();
    let first = name.chars().next()?;
    (first.is_ascii_alphabetic() || first == '_')
        .then_some(())
        .filter(|()| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|()| name.to_string())
}

/// A parsed crontab: its blocks in file order. Rendering all blocks gives back the input bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crontab {
    pub blocks: Vec<Block>,
}

impl Crontab {
    /// The names its environment lines assign (`NAME=value`, as cron reads them): cron hands them to
    /// every command of the file, so an `env:` ref may resolve from one at fire time.
    pub fn assigned_names(&self) -> std::collections::BTreeSet<String> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Foreign(raw) => assigned_name(&String::from_utf8_lossy(raw)),
                _ => None,
            })
            .collect()
    }

    /// The owned entries, in file order.
    pub fn owned(&self) -> impl Iterator<Item = &OwnedEntry> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Owned(e) => Some(e),
            _ => None,
        })
    }

    /// The owned entries and orphaned markers as backend-neutral entries; `at` is the block index.
    pub fn entries(&self) -> Vec<InstalledEntry> {
        self.blocks
            .iter()
            .enumerate()
            .filter_map(|(at, block)| {
                let (marker, line) = match block {
                    Block::Owned(e) => (&e.marker, Some(e.line.clone())),
                    Block::OrphanMarker { marker, .. } => (marker, None),
                    Block::Foreign(_) => return None,
                };
                Some(InstalledEntry {
                    app: marker.app.clone(),
                    job: marker.job.clone(),
                    idx: marker.idx,
                    hash: marker.hash.clone(),
                    schedule: line.as_deref().map(schedule_of),
                    line,
                    at,
                    inactive: None,
                    revision: None,
                })
            })
            .collect()
    }

    /// The bytes of every block, in order (the input, unchanged).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for block in &self.blocks {
            out.extend_from_slice(block.raw());
        }
        out
    }
}

impl Block {
    /// The block's bytes exactly as read.
    pub fn raw(&self) -> &[u8] {
        match self {
            Block::Foreign(raw) => raw,
            Block::Owned(e) => &e.raw,
            Block::OrphanMarker { raw, .. } => raw,
        }
    }
}

/// Split crontab bytes into blocks. Never fails: whatever is not a well-formed owned entry is foreign.
pub fn parse(bytes: &[u8]) -> Crontab {
    let mut blocks: Vec<Block> = Vec::new();
    for raw in split_lines(bytes) {
        let Some(marker) = parse_marker(content_of(raw)) else {
            blocks.push(Block::Foreign(raw.to_vec()));
            continue;
        };
        match blocks.pop() {
            Some(Block::Foreign(prev)) if owns(&marker, content_of(&prev)) => {
                let line = String::from_utf8_lossy(content_of(&prev)).into_owned();
                let mut both = prev;
                both.extend_from_slice(raw);
                blocks.push(Block::Owned(OwnedEntry {
                    marker,
                    line,
                    raw: both,
                }));
            }
            other => {
                blocks.extend(other);
                blocks.push(Block::OrphanMarker {
                    marker,
                    raw: raw.to_vec(),
                });
            }
        }
    }
    Crontab { blocks }
}

/// Lines with their terminators; the last one may lack `\n`.
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

/// A line without its `\n` and a `\r` before it.
fn content_of(raw: &[u8]) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parse `# cronix:owned app=A job=J hash=H idx=N`; anything else is not a marker.
pub fn parse_marker(line: &[u8]) -> Option<Marker> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix(MARKER_PREFIX)?;
    let mut fields = rest.split(' ');
    let app = fields.next()?.strip_prefix("app=")?;
    let job = fields.next()?.strip_prefix("job=")?;
    let hash = fields.next()?.strip_prefix("hash=")?;
    let idx = fields.next()?.strip_prefix("idx=")?;
    if fields.next().is_some() || !is_identifier(app) || !is_identifier(job) || !is_hash(hash) {
        return None;
    }
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Marker {
        app: app.to_string(),
        job: job.to_string(),
        hash: hash.to_string(),
        idx: idx.parse().ok()?,
    })
}

/// Whether `line` is a crontab entry running ` trigger … <app>.<job>` for the marker's app and job.
fn owns(marker: &Marker, line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    let trimmed = text.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return false;
    }
    let words: Vec<&str> = trimmed.split_ascii_whitespace().collect();
    let Some((last, before)) = words.split_last() else {
        return false;
    };
    let target = format!("{}.{}", marker.app, marker.job);
    *last == target && before.iter().skip(1).any(|w| *w == "trigger")
}

fn is_hash(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What goes into one rendered entry line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLine<'a> {
    /// The schedule as cron reads it (five fields or an `@` keyword).
    pub schedule: &'a str,
    /// For an entry whose job is in a zone other than the host's: the schedule index the shim's gate
    /// checks (`--gate <idx>`).
    pub gate: Option<usize>,
    /// `--otel`: the fire exports its trace (config `otel.render_in_entries`).
    pub otel: bool,
    /// The user column of a system crontab; `None` for a user crontab.
    pub run_as: Option<&'a str>,
    pub trigger_bin: &'a str,
    pub spec_dir: &'a str,
    pub app: &'a str,
    pub job: &'a str,
}

impl EntryLine<'_> {
    /// `<schedule> [<user>] <bin> trigger --spec-dir <dir> [--gate <idx>] [--otel] <app>.<job>`.
    pub fn render(&self) -> String {
        let user = self.run_as.map(|u| format!("{u} ")).unwrap_or_default();
        let gate = self
            .gate
            .map(|idx| format!("--gate {idx} "))
            .unwrap_or_default();
        let otel = if self.otel { "--otel " } else { "" };
        format!(
            "{} {user}{} trigger --spec-dir {} {gate}{otel}{}.{}",
            self.schedule, self.trigger_bin, self.spec_dir, self.app, self.job
        )
    }
}

/// The two lines of an owned entry, each ending in `\n`.
pub fn render_entry(line: &str, marker: &Marker) -> Vec<u8> {
    format!("{line}\n{marker}\n").into_bytes()
}

/// The schedule part of an entry line: an `@` keyword, or the first five fields.
pub fn schedule_of(line: &str) -> String {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    match words.first() {
        Some(w) if w.starts_with('@') => (*w).to_string(),
        _ => words.iter().take(5).copied().collect::<Vec<_>>().join(" "),
    }
}

/// Where a gated entry line sends the shim: the spec dir and the schedule index of
/// `trigger --spec-dir <dir> --gate <idx>`; `None` for a line without a gate.
pub fn gate_of(line: &str) -> Option<(String, usize)> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let after_trigger = &words[words.iter().position(|w| *w == "trigger")? + 1..];
    let value_of = |flag: &str| {
        after_trigger
            .windows(2)
            .find(|pair| pair[0] == flag)
            .map(|pair| pair[1])
    };
    let idx = value_of("--gate")?.parse().ok()?;
    Some((value_of("--spec-dir")?.to_string(), idx))
}

/// The crontab bytes after the plan's entry ops: updated entries in place, deleted ones gone (both
/// lines, nothing else), created ones appended at the end, after a `\n` if the file lacked a final one.
/// Every other byte is copied unchanged.
pub fn render_crontab(installed: &Crontab, plan: &Plan) -> Vec<u8> {
    let by_block: HashMap<usize, &Op> = plan
        .entry_ops()
        .filter_map(|op| op.at.map(|at| (at, op)))
        .collect();
    let mut out = Vec::with_capacity(installed.blocks.iter().map(|b| b.raw().len()).sum());
    for (at, block) in installed.blocks.iter().enumerate() {
        match by_block.get(&at) {
            None => out.extend_from_slice(block.raw()),
            Some(op) if op.op == Action::Delete => {}
            Some(op) => out.extend_from_slice(&rendered(op)),
        }
    }
    let creates: Vec<&Op> = plan
        .entry_ops()
        .filter(|op| op.op == Action::Create)
        .collect();
    if !creates.is_empty() && !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    for op in creates {
        out.extend_from_slice(&rendered(op));
    }
    out
}

fn rendered(op: &Op) -> Vec<u8> {
    let marker = Marker {
        app: op.app.clone(),
        job: op.job.clone(),
        hash: op.hash.clone().unwrap_or_default(),
        idx: op.idx.unwrap_or_default(),
    };
    render_entry(op.line.as_deref().unwrap_or_default(), &marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef";

    fn marker(app: &str, job: &str, idx: usize) -> String {
        format!("# cronix:owned app={app} job={job} hash={HASH} idx={idx}")
    }

    #[test]
    fn rendering_the_parsed_blocks_gives_back_every_byte() {
        let mut input = b"MAILTO=ops\r\n# comment\n\n\tx\xff\xfe line\n".to_vec();
        input.extend_from_slice(b"0 2 * * * root /bin/cronix trigger --spec-dir /s a.j\n");
        input.extend_from_slice(marker("a", "j", 0).as_bytes());
        input.extend_from_slice(b"\nlast line without newline");
        let parsed = parse(&input);
        assert_eq!(parsed.to_bytes(), input);
        assert_eq!(parsed.owned().count(), 1);
    }

    #[test]
    fn a_marker_owns_the_entry_line_right_before_it() {
        let text = format!(
            "0 2 * * * root /bin/cronix trigger --spec-dir /s app.job\n{}\n",
            marker("app", "job", 3)
        );
        let parsed = parse(text.as_bytes());
        let entry = parsed.owned().next().unwrap();
        assert_eq!(entry.marker.idx, 3);
        assert_eq!(
            entry.line,
            "0 2 * * * root /bin/cronix trigger --spec-dir /s app.job"
        );
    }

    #[test]
    fn the_reference_tools_two_line_format_is_owned() {
        let text = format!(
            "*/5 * * * * /usr/bin/cronix trigger app.job\r\n{}\r\n",
            marker("app", "job", 0)
        );
        let parsed = parse(text.as_bytes());
        assert_eq!(parsed.owned().count(), 1);
        assert_eq!(parsed.to_bytes(), text.as_bytes());
    }

    #[test]
    fn an_orphaned_marker_takes_no_foreign_line_with_it() {
        for prev in [
            "# a comment\n",
            "MAILTO=x\n",
            "0 2 * * * root /bin/backup other.job\n",
            "0 2 * * * root /bin/cronix trigger app.other\n",
            "\n",
        ] {
            let text = format!("{prev}{}\n", marker("app", "job", 0));
            let parsed = parse(text.as_bytes());
            assert_eq!(parsed.owned().count(), 0, "{prev:?}");
            assert_eq!(parsed.blocks[0], Block::Foreign(prev.as_bytes().to_vec()));
            assert!(matches!(parsed.blocks[1], Block::OrphanMarker { .. }));
        }
    }

    #[test]
    fn a_second_marker_after_an_owned_entry_is_orphaned() {
        let text = format!(
            "0 2 * * * u /b trigger a.j\n{}\n{}\n",
            marker("a", "j", 0),
            marker("a", "j", 0)
        );
        let parsed = parse(text.as_bytes());
        assert_eq!(parsed.blocks.len(), 2);
        assert!(matches!(parsed.blocks[1], Block::OrphanMarker { .. }));
    }

    #[test]
    fn malformed_markers_are_foreign_lines() {
        for line in [
            "# cronix:owned app=a job=j hash=XYZ idx=0",
            "# cronix:owned app=a job=j hash=0123456789abcdef idx=-1",
            "# cronix:owned app=a job=j hash=0123456789abcdef idx=0 extra=1",
            "# cronix:owned app=A job=j hash=0123456789abcdef idx=0",
            "#cronix:owned app=a job=j hash=0123456789abcdef idx=0",
        ] {
            assert_eq!(parse_marker(line.as_bytes()), None, "{line}");
        }
    }

    #[test]
    fn an_entry_line_renders_with_and_without_a_user_column() {
        let mut line = EntryLine {
            schedule: "0 2 * * *",
            gate: None,
            otel: false,
            run_as: Some("root"),
            trigger_bin: "/usr/local/bin/cronix",
            spec_dir: "/etc/cronix/jobs",
            app: "billing",
            job: "settle",
        };
        assert_eq!(
            line.render(),
            "0 2 * * * root /usr/local/bin/cronix trigger --spec-dir /etc/cronix/jobs billing.settle"
        );
        line.run_as = None;
        assert_eq!(
            line.render(),
            "0 2 * * * /usr/local/bin/cronix trigger --spec-dir /etc/cronix/jobs billing.settle"
        );
        line.gate = Some(3);
        assert_eq!(
            line.render(),
            "0 2 * * * /usr/local/bin/cronix trigger --spec-dir /etc/cronix/jobs --gate 3 billing.settle"
        );
        line.otel = true;
        assert_eq!(
            line.render(),
            "0 2 * * * /usr/local/bin/cronix trigger --spec-dir /etc/cronix/jobs --gate 3 --otel billing.settle"
        );
        assert_eq!(
            gate_of(&line.render()),
            Some(("/etc/cronix/jobs".to_string(), 3)),
            "--otel does not hide the gate"
        );
        let marker = Marker {
            app: "billing".into(),
            job: "settle".into(),
            hash: HASH.into(),
            idx: 3,
        };
        let parsed = parse(&render_entry(&line.render(), &marker));
        assert_eq!(parsed.owned().count(), 1, "a gated line is still owned");
    }

    #[test]
    fn a_rendered_entry_parses_back_as_owned() {
        let m = Marker {
            app: "a".into(),
            job: "j".into(),
            hash: HASH.into(),
            idx: 1,
        };
        let bytes = render_entry("@daily root /b trigger --spec-dir /s a.j", &m);
        let parsed = parse(&bytes);
        assert_eq!(parsed.owned().next().unwrap().marker, m);
    }

    #[test]
    fn a_gated_line_names_its_spec_dir_and_schedule_index() {
        assert_eq!(
            gate_of("0,30 0,1 * * * root /b trigger --spec-dir /s --gate 2 a.j"),
            Some(("/s".to_string(), 2))
        );
        assert_eq!(gate_of("0 2 * * * root /b trigger --spec-dir /s a.j"), None);
        assert_eq!(gate_of("0 2 * * * root /b trigger --gate x a.j"), None);
    }

    #[test]
    fn the_schedule_of_a_line_is_its_first_five_fields_or_a_keyword() {
        assert_eq!(
            schedule_of("0 2 * * 1-5 root /b trigger a.j"),
            "0 2 * * 1-5"
        );
        assert_eq!(schedule_of("@hourly root /b trigger a.j"), "@hourly");
    }
}
