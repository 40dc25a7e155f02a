//! The vercel backend's pure half: where the `crons` array sits in a `vercel.json` (a small JSON
//! tokenizer that keeps byte spans), which of its entries cronix owns (by path), the rendering of an
//! owned entry, the span-preserving rewrite, and the schedule and request rules of Vercel Cron.
//!
//! Pure: bytes in, bytes out. Only the `crons` array is ever re-emitted; every byte outside it, and
//! every element of it that is not replaced, stays as it was (formatting, key order, indentation).
//!
//! Ownership (DESIGN §4a, `docs/vercel.md`): an entry whose path is `<prefix><app>/<job>` (both
//! names identifiers) is cronix's, of that app and job. An entry whose path is `<prefix><job>` is
//! what the reference tool writes (it carries no app); it is taken over by the app being applied
//! when that app has a job of that name, and otherwise left alone. Every other entry is foreign.

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::core::manifest::{self, Method};
use crate::core::render::{JobInput, Rendered, Renderer};

/// `--vercel-json-path` when neither the flag nor the config gives one.
pub const DEFAULT_JSON_PATH: &str = "vercel.json";
/// `--vercel-trigger-prefix` when neither the flag nor the config gives one (the reference SDK's
/// mount point).
pub const DEFAULT_TRIGGER_PREFIX: &str = "/api/v1/scheduled/";
/// Nesting deeper than this is refused (a hostile file cannot exhaust the stack).
const MAX_DEPTH: usize = 128;
/// Zones Vercel Cron fires in: it runs every schedule in UTC.
const UTC_NAMES: &[&str] = &["UTC", "Etc/UTC"];

/// One cron entry exactly as Vercel reads it: an object of `path` and `schedule`, both strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cron {
    pub path: String,
    pub schedule: String,
}

/// One element of the `crons` array: where its bytes are, and the entry it is (`None` for any other
/// value: an object with other keys, a non-string path, …; such an element is foreign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub span: Range<usize>,
    pub cron: Option<Cron>,
    /// The element's `path` when it is an object with a string `path` (an entry or not).
    pub path: Option<String>,
}

/// The `crons` array found in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronsArray {
    /// From `[` to `]` inclusive.
    pub span: Range<usize>,
    pub elements: Vec<Element>,
    /// The whitespace before each element on its own line, and before `]`, when the array is laid
    /// out one element per line.
    layout: Option<(String, Option<String>)>,
}

/// A parsed `vercel.json`: the top-level object and its `crons` array, as byte spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub crons: Option<CronsArray>,
    /// The index of the top-level object's closing `}`.
    close: usize,
    /// The end of the last member's value (`None` for an empty object).
    last_value_end: Option<usize>,
    /// The whitespace before a top-level key on its own line (`None` when the object is on one line).
    member_indent: Option<String>,
    newline: &'static str,
}

/// Who an entry belongs to, by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathOwner {
    /// `<prefix><app>/<job>`: cronix's, of this app and job.
    App { app: String, job: String },
    /// `<prefix><job>`: written by the reference tool, which records no app.
    Reference { job: String },
    /// Anything else.
    Foreign,
}

/// Parse `bytes` as a `vercel.json`: a JSON object, at most one `crons` key, and that key an array.
/// The error says what is wrong and where, and that the file must be fixed by hand.
pub fn parse(bytes: &[u8]) -> Result<Document, String> {
    if std::str::from_utf8(bytes).is_err() {
        return Err("is not UTF-8 text, so it is not JSON".to_string());
    }
    let mut s = Scanner { b: bytes, i: 0 };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.error("expected the top-level object `{`"));
    }
    s.i += 1;
    let mut crons: Option<CronsArray> = None;
    let mut last_value_end = None;
    let mut member_indent = None;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let key_start = s.i;
            let key = s.string_value()?;
            if member_indent.is_none() {
                member_indent = line_indent(bytes, key_start);
            }
            s.ws();
            s.expect(b':')?;
            s.ws();
            if key == "crons" {
                if crons.is_some() {
                    return Err(s.error("has two `crons` keys; keep one"));
                }
                crons = Some(s.crons_array()?);
            } else {
                s.value(1)?;
            }
            last_value_end = Some(s.i);
            s.ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(s.error("expected `,` or `}` after a member")),
            }
        }
    }
    let close = s.i - 1;
    s.ws();
    if s.i != bytes.len() {
        return Err(s.error("has more after the top-level object"));
    }
    Ok(Document {
        crons,
        close,
        last_value_end,
        member_indent,
        newline: if bytes.windows(2).any(|w| w == b"\r\n") {
            "\r\n"
        } else {
            "\n"
        },
    })
}

/// The whitespace from the start of the line holding `at` to `at`, when only whitespace precedes it
/// on that line (the element or key starts its own line).
fn line_indent(bytes: &[u8], at: usize) -> Option<String> {
    let line_start = bytes[..at].iter().rposition(|&b| b == b'\n')? + 1;
    let indent = &bytes[line_start..at];
    indent
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
        .then(|| String::from_utf8_lossy(indent).replace('\r', ""))
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += usize::from(c.is_some());
        c
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        let line = self.b[..self.i.min(self.b.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        format!("is not a JSON object cronix can edit: {what} (line {line})")
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.next() == Some(c) {
            return Ok(());
        }
        Err(self.error(&format!("expected `{}`", c as char)))
    }

    /// Skip one value of any kind, checking its syntax; its span.
    fn value(&mut self, depth: usize) -> Result<Range<usize>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nests too deep"));
        }
        let start = self.i;
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(start..self.i);
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b'}') => break,
                        _ => return Err(self.error("expected `,` or `}` in an object")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(start..self.i);
                }
                loop {
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b']') => break,
                        _ => return Err(self.error("expected `,` or `]` in an array")),
                    }
                }
            }
            Some(b'"') => {
                self.string()?;
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error("expected a value")),
        }
        Ok(start..self.i)
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            return Ok(());
        }
        Err(self.error("expected a value"))
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.error("bad number"));
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        Ok(())
    }

    /// Skip one string, checking escapes and control characters; its span, quotes included.
    fn string(&mut self) -> Result<Range<usize>, String> {
        let start = self.i;
        if self.next() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        loop {
            match self.next() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => return Ok(start..self.i),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        for _ in 0..4 {
                            if !self.next().is_some_and(|c| c.is_ascii_hexdigit()) {
                                return Err(self.error("bad \\u escape"));
                            }
                        }
                    }
                    _ => return Err(self.error("bad escape in a string")),
                },
                Some(c) if c < 0x20 => {
                    return Err(self.error("control character in a string"));
                }
                Some(_) => {}
            }
        }
    }

    /// One string, decoded.
    fn string_value(&mut self) -> Result<String, String> {
        let span = self.string()?;
        serde_json::from_slice(&self.b[span]).map_err(|_| self.error("bad string"))
    }

    /// The `crons` value: an array whose elements are kept as spans, each read as an entry when it
    /// is one.
    fn crons_array(&mut self) -> Result<CronsArray, String> {
        let start = self.i;
        if self.peek() != Some(b'[') {
            return Err(self.error("`crons` is not an array"));
        }
        self.i += 1;
        let mut elements = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                let span = self.value(2)?;
                let cron = cron_of(&self.b[span.clone()]);
                let path = path_of(&self.b[span.clone()]);
                elements.push(Element { span, cron, path });
                self.ws();
                match self.next() {
                    Some(b',') => continue,
                    Some(b']') => break,
                    _ => return Err(self.error("expected `,` or `]` in `crons`")),
                }
            }
        }
        let span = start..self.i;
        // One element per line: their indent, and the `]`'s when it starts its own line too.
        let layout = match elements.first() {
            Some(first) => line_indent(self.b, first.span.start)
                .filter(|_| {
                    elements
                        .iter()
                        .all(|e| line_indent(self.b, e.span.start).is_some())
                })
                .map(|indent| (indent, line_indent(self.b, span.end - 1))),
            None => None,
        };
        Ok(CronsArray {
            span,
            elements,
            layout,
        })
    }
}

/// The entry an element is: an object of exactly `path` and `schedule`, both strings.
fn cron_of(bytes: &[u8]) -> Option<Cron> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    if object.len() != 2 {
        return None;
    }
    Some(Cron {
        path: object.get("path")?.as_str()?.to_string(),
        schedule: object.get("schedule")?.as_str()?.to_string(),
    })
}

/// The string `path` of an object element.
fn path_of(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(value.as_object()?.get("path")?.as_str()?.to_string())
}

/// The entry an [`entry_line`] holds (what a plan op carries back to the backend).
pub fn cron_from_line(line: &str) -> Option<Cron> {
    cron_of(line.as_bytes())
}

/// The trigger prefix as entries use it: ends with `/`.
pub fn normalize_prefix(prefix: &str) -> String {
    if prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// Problems with a trigger prefix: an absolute URL path of `[A-Za-z0-9/._-]` without empty, `.` or
/// `..` segments.
pub fn check_prefix(prefix: &str) -> Option<String> {
    let segments: Vec<&str> = prefix.trim_end_matches('/').split('/').skip(1).collect();
    let ok = prefix.starts_with('/')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        && segments.iter().all(|s| !matches!(*s, "" | "." | ".."));
    (!ok).then(|| {
        format!(
            "vercel trigger prefix {prefix:?} is not a URL path cronix can own; give \
             --vercel-trigger-prefix an absolute path of [A-Za-z0-9/._-] such as {DEFAULT_TRIGGER_PREFIX}"
        )
    })
}

/// The path of an owned entry: `<prefix><app>/<job>` (prefix normalized).
pub fn entry_path(prefix: &str, app: &str, job: &str) -> String {
    format!("{}{app}/{job}", normalize_prefix(prefix))
}

/// Who an entry with this path belongs to.
pub fn path_owner(prefix: &str, path: &str) -> PathOwner {
    let Some(rest) = path.strip_prefix(normalize_prefix(prefix).as_str()) else {
        return PathOwner::Foreign;
    };
    match rest.split_once('/') {
        Some((app, job)) if manifest::is_identifier(app) && manifest::is_identifier(job) => {
            PathOwner::App {
                app: app.to_string(),
                job: job.to_string(),
            }
        }
        None if manifest::is_identifier(rest) => PathOwner::Reference {
            job: rest.to_string(),
        },
        _ => PathOwner::Foreign,
    }
}

/// An entry as cronix writes it (one line), and as drift compares it: what the hash covers.
pub fn entry_line(cron: &Cron) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\"path\": {}, \"schedule\": {}}}",
        quote(&cron.path),
        quote(&cron.schedule)
    )
}

/// The hash of an entry, from what it shows: Vercel entries have no room for a mark, so the hash of
/// an installed entry is computed from its path and schedule and its place among the job's entries,
/// and the desired hash the same way. (What the manifest says beyond path and schedule does not
/// reach Vercel; the request rules are checked at plan time instead.)
pub fn entry_hash(idx: usize, line: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"cronix vercel entry\0");
    hasher.update(idx.to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(line.as_bytes());
    hex::encode(&hasher.finalize()[..8])
}

/// Why Vercel Cron cannot run this schedule, with the fix; `None` when it can: exactly five
/// numeric fields (no `@daily`-style shortcut, no `@every`, no month or weekday names) and not both
/// a day of month and a day of week.
pub fn schedule_problem(expr: &str) -> Option<String> {
    let expr = expr.trim();
    if expr.starts_with("@every") {
        return Some(
            "Vercel Cron has no @every; write the interval as five cron fields (`@every 15m` is \
             `*/15 * * * *`)"
                .to_string(),
        );
    }
    if expr.starts_with('@') {
        return Some(
            "Vercel Cron takes no shortcut such as @daily or @hourly; write the five fields \
             (`@daily` is `0 0 * * *`)"
                .to_string(),
        );
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "Vercel Cron takes exactly five fields (minute hour day-of-month month day-of-week), \
             this has {}",
            fields.len()
        ));
    }
    if expr.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Some(
            "Vercel Cron takes no month or weekday names; use numbers (MON is 1, JAN is 1)"
                .to_string(),
        );
    }
    let sunday_as_seven = fields[4].split(',').any(|item| {
        let range = item.split('/').next().unwrap_or_default();
        range.split('-').any(|n| n == "7")
    });
    if sunday_as_seven {
        return Some("Vercel Cron takes days of week 0-6; write Sunday as 0, not 7".to_string());
    }
    if fields[2] != "*" && fields[4] != "*" {
        return Some(
            "Vercel Cron does not take both a day of month and a day of week; set one of them \
             to `*` (or use two schedules)"
                .to_string(),
        );
    }
    None
}

/// The pure renderer of the vercel backend: one `crons` entry per schedule.
pub struct VercelRenderer<'a> {
    pub prefix: &'a str,
}

impl Renderer for VercelRenderer<'_> {
    fn check_target(&self) -> Vec<String> {
        check_prefix(self.prefix).into_iter().collect()
    }

    /// Everything Vercel cannot run is refused before anything is written: a zone other than UTC,
    /// a schedule that is not five numeric fields, and a request Vercel will not send (it sends a
    /// GET without a body and with only its own headers).
    fn check_job(&self, input: &JobInput) -> Vec<String> {
        let job = input.job;
        let name = &job.name;
        let mut problems = Vec::new();
        if !UTC_NAMES.contains(&job.timezone.as_str()) {
            problems.push(format!(
                "job {name}: timezone {:?}: Vercel Cron runs every schedule in UTC; drop the \
                 job's timezone (or set it to UTC) and write the schedules in UTC, or use another \
                 backend",
                job.timezone
            ));
        }
        for (i, expr) in job.schedules.iter().enumerate() {
            if let Some(why) = schedule_problem(expr) {
                problems.push(format!("job {name}: schedules/{i} {expr:?}: {why}"));
            }
        }
        if job.request.method != Method::Get {
            problems.push(format!(
                "job {name}: method {}: Vercel Cron calls the path with GET; set the job's method \
                 to GET and serve GET {}",
                job.request.method.as_str(),
                entry_path(self.prefix, input.app, name)
            ));
        }
        if !job.request.body.is_empty() {
            problems.push(format!(
                "job {name}: has a request body, which Vercel Cron never sends; drop the body"
            ));
        }
        if !job.request.headers.is_empty() {
            let names: Vec<&str> = job.request.headers.keys().map(String::as_str).collect();
            problems.push(format!(
                "job {name}: headers {}: Vercel Cron sends only its own headers (Authorization: \
                 Bearer $CRON_SECRET); drop them",
                names.join(", ")
            ));
        }
        problems
    }

    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        let path = entry_path(self.prefix, input.app, &input.job.name);
        input
            .job
            .schedules
            .iter()
            .map(|expr| {
                let schedule = expr.split_whitespace().collect::<Vec<_>>().join(" ");
                let line = entry_line(&Cron {
                    path: path.clone(),
                    schedule: schedule.clone(),
                });
                Rendered {
                    line,
                    shown: schedule,
                    gate_wakeups_per_day: None,
                }
            })
            .collect()
    }

    fn entry_hash(&self, _canonical_single_job: &str, idx: usize, line: &str) -> String {
        entry_hash(idx, line)
    }

    fn uses_spec_files(&self) -> bool {
        false
    }
}

/// One element of the rewritten array: an element kept with its original bytes, or an owned entry
/// (new or replaced) rendered by cronix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Kept(usize),
    New(Cron),
}

/// The rewritten document: the `crons` array replaced by `foreign` (indexes of elements kept in
/// place order, first) followed by `owned` (already in (app, job, idx) order), every other byte of
/// `original` unchanged. A document without `crons` gets the key after its last member. `None` for
/// `original` (no file) gives a new document holding only `crons`, with a final newline.
pub fn rewrite(original: Option<(&[u8], &Document)>, items: &[Item]) -> Vec<u8> {
    let Some((bytes, doc)) = original else {
        let array = emit_array(&[], items, Some(("    ", "  ")), "\n");
        return format!("{{\n  \"crons\": {array}\n}}\n").into_bytes();
    };
    let text = |r: Range<usize>| String::from_utf8_lossy(&bytes[r]).into_owned();
    match &doc.crons {
        Some(crons) => {
            let elements: Vec<String> = crons
                .elements
                .iter()
                .map(|e| text(e.span.clone()))
                .collect();
            let layout = crons
                .layout
                .as_ref()
                .map(|(e, c)| {
                    // A `]` after the last element moves to its own line, under the key.
                    let closing = c.clone().or_else(|| doc.member_indent.clone());
                    (e.clone(), closing.unwrap_or_default())
                })
                .or_else(|| {
                    // An empty or one-line array in a laid-out document: one entry per line, one
                    // indent step below the key.
                    let indent = doc.member_indent.clone().filter(|i| !i.is_empty())?;
                    crons
                        .elements
                        .is_empty()
                        .then(|| (format!("{indent}{indent}"), indent))
                });
            let layout = layout.as_ref().map(|(e, c)| (e.as_str(), c.as_str()));
            let array = emit_array(&elements, items, layout, doc.newline);
            let mut out = bytes[..crons.span.start].to_vec();
            out.extend_from_slice(array.as_bytes());
            out.extend_from_slice(&bytes[crons.span.end..]);
            out
        }
        None => {
            let nl = doc.newline;
            match (doc.last_value_end, &doc.member_indent) {
                (None, _) => {
                    let array = emit_array(&[], items, Some(("    ", "  ")), nl);
                    let mut out = bytes[..doc.close].to_vec();
                    // `{}` and whatever whitespace was inside it become the laid-out member.
                    let open = bytes[..doc.close]
                        .iter()
                        .rposition(|&b| b == b'{')
                        .unwrap_or(0);
                    out.truncate(open + 1);
                    out.extend_from_slice(format!("{nl}  \"crons\": {array}{nl}").as_bytes());
                    out.extend_from_slice(&bytes[doc.close..]);
                    out
                }
                (Some(end), Some(indent)) if !indent.is_empty() => {
                    let element_indent = format!("{indent}{indent}");
                    let array = emit_array(&[], items, Some((element_indent.as_str(), indent)), nl);
                    let mut out = bytes[..end].to_vec();
                    out.extend_from_slice(format!(",{nl}{indent}\"crons\": {array}").as_bytes());
                    out.extend_from_slice(&bytes[end..]);
                    out
                }
                (Some(end), _) => {
                    let array = emit_array(&[], items, None, nl);
                    let mut out = bytes[..end].to_vec();
                    out.extend_from_slice(format!(", \"crons\": {array}").as_bytes());
                    out.extend_from_slice(&bytes[end..]);
                    out
                }
            }
        }
    }
}

/// `[…]` of the items: laid out one per line with `(element indent, closing indent)`, or on one line.
fn emit_array(
    elements: &[String],
    items: &[Item],
    layout: Option<(&str, &str)>,
    nl: &str,
) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Item::Kept(i) => elements.get(*i).cloned().unwrap_or_default(),
            Item::New(cron) => entry_line(cron),
        })
        .collect();
    if parts.is_empty() {
        return "[]".to_string();
    }
    match layout {
        Some((element, closing)) => {
            let mut out = String::from("[");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(nl);
                out.push_str(element);
                out.push_str(part);
            }
            out.push_str(nl);
            out.push_str(closing);
            out.push(']');
            out
        }
        None => format!("[{}]", parts.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = DEFAULT_TRIGGER_PREFIX;

    fn cron(path: &str, schedule: &str) -> Cron {
        Cron {
            path: path.to_string(),
            schedule: schedule.to_string(),
        }
    }

    #[test]
    fn finds_the_crons_array_and_reads_its_entries() {
        let text = br#"{
  "framework": "nextjs",
  "crons": [
    {"path": "/api/cleanup", "schedule": "0 3 * * *"},
    { "schedule": "*/5 * * * *", "path": "/api/v1/scheduled/billing/settle" },
    {"path": "/x", "schedule": "1 * * * *", "extra": true},
    42
  ],
  "regions": ["fra1"]
}
"#;
        let doc = parse(text).unwrap();
        let crons = doc.crons.as_ref().unwrap();
        assert_eq!(crons.elements.len(), 4);
        assert_eq!(
            crons.elements[0].cron,
            Some(cron("/api/cleanup", "0 3 * * *"))
        );
        assert_eq!(
            crons.elements[1].cron,
            Some(cron("/api/v1/scheduled/billing/settle", "*/5 * * * *"))
        );
        assert_eq!(crons.elements[2].cron, None);
        assert_eq!(crons.elements[2].path.as_deref(), Some("/x"));
        assert_eq!(crons.elements[3].path, None);
        assert_eq!(crons.elements[3].cron, None);
        assert_eq!(&text[crons.elements[3].span.clone()], b"42");
        assert_eq!(
            crons.layout,
            Some(("    ".to_string(), Some("  ".to_string())))
        );
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        for bad in [
            &b"[1]"[..],
            b"{\"crons\": {}}",
            b"{\"crons\": [], \"crons\": []}",
            b"{\"a\": 1,}",
            b"{\"a\": 01}",
            b"{\"a\": \"x\ny\"}",
            b"{} {}",
            b"{\"a\": tru}",
            b"\xff{}",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(500), "]".repeat(500));
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deep"));
        assert!(parse(b" {\"a\": [1.5e-3, -0, null, true, \"\\u00e9\\n\"]} \n").is_ok());
    }

    #[test]
    fn paths_say_who_owns_an_entry() {
        assert_eq!(
            path_owner(P, "/api/v1/scheduled/billing/settle"),
            PathOwner::App {
                app: "billing".into(),
                job: "settle".into()
            }
        );
        assert_eq!(
            path_owner(P, "/api/v1/scheduled/settle"),
            PathOwner::Reference {
                job: "settle".into()
            }
        );
        for foreign in [
            "/api/cleanup",
            "/api/v1/scheduled/",
            "/api/v1/scheduled/a/b/c",
            "/api/v1/scheduled/Billing/settle",
            "/api/v1/scheduled/billing/settle?x=1",
        ] {
            assert_eq!(path_owner(P, foreign), PathOwner::Foreign, "{foreign}");
        }
        assert_eq!(
            path_owner("/cron", "/cron/a/b"),
            PathOwner::App {
                app: "a".into(),
                job: "b".into()
            }
        );
        assert_eq!(entry_path("/cron", "a", "b"), "/cron/a/b");
    }

    #[test]
    fn prefixes_must_be_plain_absolute_paths() {
        assert_eq!(check_prefix(P), None);
        assert_eq!(check_prefix("/cron"), None);
        for bad in ["api/", "/a//b/", "/a/../b/", "/a b/", "/a?x/"] {
            assert!(check_prefix(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn vercel_runs_only_five_numeric_fields() {
        assert_eq!(schedule_problem("*/15 * * * *"), None);
        assert_eq!(schedule_problem("0 3 1 * *"), None);
        assert_eq!(schedule_problem("0 3 * * 1-5"), None);
        assert!(schedule_problem("@every 5m").unwrap().contains("@every"));
        assert!(schedule_problem("@daily").unwrap().contains("0 0 * * *"));
        assert!(schedule_problem("0 0 * * MON").unwrap().contains("names"));
        assert!(
            schedule_problem("0 0 1 * 1")
                .unwrap()
                .contains("day of week")
        );
        assert!(schedule_problem("0 0 * *").unwrap().contains("five"));
        assert!(schedule_problem("0 0 * * 5-7").unwrap().contains("Sunday"));
        assert!(schedule_problem("0 0 * * 1,7").unwrap().contains("Sunday"));
        assert_eq!(schedule_problem("0 0 * * */7"), None);
        assert_eq!(schedule_problem("0 0 * * 0,6"), None);
    }

    #[test]
    fn hash_follows_what_the_entry_shows() {
        let line = entry_line(&cron("/api/v1/scheduled/a/b", "0 3 * * *"));
        assert_eq!(
            line,
            r#"{"path": "/api/v1/scheduled/a/b", "schedule": "0 3 * * *"}"#
        );
        assert_eq!(entry_hash(0, &line), entry_hash(0, &line));
        assert_eq!(entry_hash(0, &line).len(), 16);
        assert_ne!(entry_hash(0, &line), entry_hash(1, &line));
        let other = entry_line(&cron("/api/v1/scheduled/a/b", "0 4 * * *"));
        assert_ne!(entry_hash(0, &line), entry_hash(0, &other));
    }

    #[test]
    fn rewrite_keeps_every_byte_outside_the_array_and_foreign_elements() {
        let text = "{\r\n\t\"z\":   [1,2],\r\n\t\"crons\": [\r\n\t\t{ \"path\" : \"/api/x\",\"schedule\":\"0 1 * * *\" },\r\n\t\t{\"path\": \"/api/v1/scheduled/a/j\", \"schedule\": \"0 2 * * *\"}\r\n\t],\r\n\t\"a\": {\"b\": null}\r\n}";
        let doc = parse(text.as_bytes()).unwrap();
        let items = [
            Item::Kept(0),
            Item::New(cron("/api/v1/scheduled/a/j", "0 5 * * *")),
            Item::New(cron("/api/v1/scheduled/a/k", "0 6 * * *")),
        ];
        let out = String::from_utf8(rewrite(Some((text.as_bytes(), &doc)), &items)).unwrap();
        let want = "{\r\n\t\"z\":   [1,2],\r\n\t\"crons\": [\r\n\t\t{ \"path\" : \"/api/x\",\"schedule\":\"0 1 * * *\" },\r\n\t\t{\"path\": \"/api/v1/scheduled/a/j\", \"schedule\": \"0 5 * * *\"},\r\n\t\t{\"path\": \"/api/v1/scheduled/a/k\", \"schedule\": \"0 6 * * *\"}\r\n\t],\r\n\t\"a\": {\"b\": null}\r\n}";
        assert_eq!(out, want);
        // Keeping every element in place reproduces the file byte for byte.
        let same = rewrite(
            Some((text.as_bytes(), &doc)),
            &[Item::Kept(0), Item::Kept(1)],
        );
        assert_eq!(same, text.as_bytes());
        // Dropping every element leaves an empty array.
        let empty = String::from_utf8(rewrite(Some((text.as_bytes(), &doc)), &[])).unwrap();
        assert!(empty.contains("\"crons\": [],\r\n\t\"a\""), "{empty}");
    }

    #[test]
    fn rewrite_adds_the_key_when_there_is_none() {
        let items = [Item::New(cron("/api/v1/scheduled/a/j", "0 5 * * *"))];
        let line = r#"{"path": "/api/v1/scheduled/a/j", "schedule": "0 5 * * *"}"#;
        let text = "{\n  \"framework\": \"nextjs\",\n  \"regions\": [\"fra1\"]\n}\n";
        let doc = parse(text.as_bytes()).unwrap();
        let out = String::from_utf8(rewrite(Some((text.as_bytes(), &doc)), &items)).unwrap();
        assert_eq!(
            out,
            format!(
                "{{\n  \"framework\": \"nextjs\",\n  \"regions\": [\"fra1\"],\n  \"crons\": [\n    {line}\n  ]\n}}\n"
            )
        );
        let inline = "{\"a\":1}";
        let doc = parse(inline.as_bytes()).unwrap();
        let out = String::from_utf8(rewrite(Some((inline.as_bytes(), &doc)), &items)).unwrap();
        assert_eq!(out, format!("{{\"a\":1, \"crons\": [{line}]}}"));
        let empty = " { } \n";
        let doc = parse(empty.as_bytes()).unwrap();
        let out = String::from_utf8(rewrite(Some((empty.as_bytes(), &doc)), &items)).unwrap();
        assert_eq!(out, format!(" {{\n  \"crons\": [\n    {line}\n  ]\n}} \n"));
        let created = String::from_utf8(rewrite(None, &items)).unwrap();
        assert_eq!(
            created,
            format!("{{\n  \"crons\": [\n    {line}\n  ]\n}}\n")
        );
        assert!(parse(created.as_bytes()).is_ok());
    }

    #[test]
    fn a_closing_bracket_after_the_last_element_moves_under_the_key() {
        let text = "{\n  \"crons\": [\n    {\"path\": \"/x\", \"schedule\": \"0 1 * * *\"}]\n}\n";
        let doc = parse(text.as_bytes()).unwrap();
        let items = [
            Item::Kept(0),
            Item::New(cron("/api/v1/scheduled/a/j", "0 5 * * *")),
        ];
        let out = String::from_utf8(rewrite(Some((text.as_bytes(), &doc)), &items)).unwrap();
        assert_eq!(
            out,
            "{\n  \"crons\": [\n    {\"path\": \"/x\", \"schedule\": \"0 1 * * *\"},\n    {\"path\": \"/api/v1/scheduled/a/j\", \"schedule\": \"0 5 * * *\"}\n  ]\n}\n"
        );
    }

    #[test]
    fn an_empty_array_in_a_laid_out_file_gets_one_entry_per_line() {
        let text = "{\n  \"crons\": []\n}\n";
        let doc = parse(text.as_bytes()).unwrap();
        let items = [Item::New(cron("/api/v1/scheduled/a/j", "0 5 * * *"))];
        let out = String::from_utf8(rewrite(Some((text.as_bytes(), &doc)), &items)).unwrap();
        assert_eq!(
            out,
            "{\n  \"crons\": [\n    {\"path\": \"/api/v1/scheduled/a/j\", \"schedule\": \"0 5 * * *\"}\n  ]\n}\n"
        );
        let one_line = "{\"crons\": [{\"path\": \"/x\", \"schedule\": \"0 1 * * *\"}]}";
        let doc = parse(one_line.as_bytes()).unwrap();
        let out = String::from_utf8(rewrite(
            Some((one_line.as_bytes(), &doc)),
            &[Item::Kept(0), items[0].clone()],
        ))
        .unwrap();
        assert_eq!(
            out,
            "{\"crons\": [{\"path\": \"/x\", \"schedule\": \"0 1 * * *\"}, {\"path\": \"/api/v1/scheduled/a/j\", \"schedule\": \"0 5 * * *\"}]}"
        );
    }
}
