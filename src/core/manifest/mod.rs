//! Manifests (protocol v1): parse with strict field checks, validate every rule, normalize, and
//! produce the canonical bytes.
//!
//! Owns the manifest types. Must not do I/O: sources are fetched by `shell::source`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::core::request_rules::{
    CREDENTIAL_HEADERS, RESERVED_HEADERS, check_url, is_loopback_host,
};

pub mod bounds;
mod checker;
use checker::Checker;

/// A normalized manifest. Field order is the canonical key order: `serde_json::to_string` of this
/// value is the canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub app: String,
    pub jobs: Vec<Job>,
}

/// One normalized job, with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    /// Trimmed schedule expressions, in the user's order.
    pub schedules: Vec<String>,
    pub timezone: String,
    pub request: Request,
    pub policy: Policy,
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: Method,
    pub url: String,
    /// Header names to values, sorted by name.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "DELETE")]
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub concurrency: Concurrency,
    pub concurrency_scope: ConcurrencyScope,
    pub timeout_seconds: u32,
    pub retries: Retries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Concurrency {
    Allow,
    Forbid,
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcurrencyScope {
    Host,
    Global,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    pub max_attempts: u32,
    pub min_seconds: u32,
    pub max_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub secret_refs: Vec<String>,
}

/// One validation problem: a `/`-joined JSON path and a message saying what is wrong and what is right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

/// Largest manifest accepted, in bytes (the same cap as an HTTP fetch).
pub const MAX_MANIFEST_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_JOBS: usize = 256;
pub const MAX_SCHEDULES: usize = 64;
pub const MAX_SECRET_REFS: usize = 8;
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_VALUE_BYTES: usize = 8192;
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Upper bound of `retries.min_seconds` / `retries.max_seconds` (one day).
pub const MAX_RETRY_SECONDS: u64 = 86_400;

/// Why a manifest was refused: the first `MAX_REPORTED_PROBLEMS` issues, each at its JSON path, and
/// how many more were found but not kept (checking stops keeping issues at the cap, and the schema
/// pass does not run once the cap is reached, so `more` is a lower bound then).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems {
    pub issues: Vec<Issue>,
    pub more: usize,
}

impl Problems {
    /// Problems found by a later check (the operator's gate), all at `path`, capped like parsing's.
    pub fn at(path: &str, messages: Vec<String>) -> Problems {
        let more = messages.len().saturating_sub(MAX_REPORTED_PROBLEMS);
        Problems {
            issues: messages
                .into_iter()
                .take(MAX_REPORTED_PROBLEMS)
                .map(|m| issue(path, m))
                .collect(),
            more,
        }
    }

    /// One problem.
    pub fn one(path: &str, message: String) -> Problems {
        Problems {
            issues: vec![issue(path, message)],
            more: 0,
        }
    }

    /// Every problem found, kept or not.
    pub fn total(&self) -> usize {
        self.issues.len() + self.more
    }

    /// Whether no more issues are kept (the next ones are only counted).
    pub(crate) fn is_full(&self) -> bool {
        self.issues.len() >= MAX_REPORTED_PROBLEMS
    }

    /// Keep `found` while there is room, count it otherwise.
    pub(crate) fn push(&mut self, found: Issue) {
        if !self.is_full() {
            self.issues.push(found);
        } else {
            self.more += 1;
        }
    }
}

impl std::ops::Deref for Problems {
    type Target = [Issue];

    fn deref(&self) -> &[Issue] {
        &self.issues
    }
}

impl IntoIterator for Problems {
    type Item = Issue;
    type IntoIter = std::vec::IntoIter<Issue>;

    fn into_iter(self) -> Self::IntoIter {
        self.issues.into_iter()
    }
}

/// Parse, validate and normalize manifest bytes. `zone_exists` answers whether an IANA zone name is in
/// the system tz database (the caller looks it up; the core does no I/O).
///
/// The size pass (`bounds`) runs first, on the raw bytes: a document whose shape no manifest has is
/// refused with that one problem before any value is built. Otherwise every problem is reported, each
/// at its JSON path, up to `MAX_REPORTED_PROBLEMS` (the rest are counted); the JSON Schema runs too,
/// and the problems it finds that the semantic checks did not are reported as well.
pub fn parse(bytes: &[u8], zone_exists: &dyn Fn(&str) -> bool) -> Result<Manifest, Problems> {
    parse_cow(std::borrow::Cow::Borrowed(bytes), zone_exists)
}

/// [`parse`], taking the bytes: they are freed as soon as the JSON value is built, so a 10 MiB
/// manifest is not held three times over (bytes, value, typed manifest) while it is checked.
pub fn parse_owned(
    bytes: Vec<u8>,
    zone_exists: &dyn Fn(&str) -> bool,
) -> Result<Manifest, Problems> {
    parse_cow(std::borrow::Cow::Owned(bytes), zone_exists)
}

fn parse_cow(
    bytes: std::borrow::Cow<'_, [u8]>,
    zone_exists: &dyn Fn(&str) -> bool,
) -> Result<Manifest, Problems> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(Problems::one(
            "",
            format!(
                "the manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES} bytes (10 MiB): split the app's jobs or shorten request bodies",
                bytes.len()
            ),
        ));
    }
    if let Some(found) = bounds::check(&bytes) {
        return Err(Problems {
            issues: vec![found],
            more: 0,
        });
    }
    let (value, duplicates) = crate::core::strict_json::parse(&bytes).map_err(|e| {
        Problems::one(
            "",
            format!("not valid JSON ({e}); a manifest is a UTF-8 JSON object"),
        )
    })?;
    drop(bytes);
    let mut checker = Checker {
        problems: Problems::default(),
        zone_exists,
    };
    for path in duplicates {
        let key = path.rsplit('/').next().unwrap_or_default().to_string();
        checker.report(
            &path,
            format!(
                "the key {} appears more than once in this object (JSON readers disagree on \
                 which one wins); keep one",
                excerpt(&key)
            ),
        );
    }
    let manifest = checker.manifest(&value);
    let mut problems = checker.problems;
    if problems.more == 0 {
        merge_schema_issues(
            &mut problems,
            crate::core::manifest_schema::validate(&value, MAX_REPORTED_PROBLEMS),
        );
    }
    match manifest {
        Some(manifest) if problems.total() == 0 => Ok(normalize(manifest)),
        _ => {
            if problems.total() == 0 {
                problems.push(issue("", "the manifest is invalid".to_string()));
            }
            Err(problems)
        }
    }
}

/// Problems printed at most; the rest are counted (a 10 MB manifest can hold a million mistakes).
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// "1 problem" / "N problems".
pub fn problem_count(n: usize) -> String {
    format!("{n} problem{}", if n == 1 { "" } else { "s" })
}

/// The kept issues as `  path: message` lines, then a line counting the rest. Paths come from the
/// input's keys, so they are shown escaped and cut short.
pub fn issue_lines(problems: &Problems) -> Vec<String> {
    let mut lines: Vec<String> = problems
        .issues
        .iter()
        .map(|i| {
            let at = if i.path.is_empty() {
                "(top level)".to_string()
            } else {
                shown_path(&i.path)
            };
            // A path holds the manifest's own keys (`shown_path` escapes them): one line per issue,
            // whatever a key holds.
            format!("  {at}: {}", crate::core::escape::inline(&i.message))
        })
        .collect();
    if problems.more > 0 {
        lines.push(format!(
            "  … and {} more not shown (fix these first)",
            problems.more
        ));
    }
    lines
}

/// A JSON path for a terminal: as is when it is short and plain, else escaped and cut at 120
/// characters (keys are input).
pub fn shown_path(path: &str) -> String {
    crate::core::escape::inline_cut(path, 120)
}

/// Re-check one normalized job with the parser's own rules (the shim runs this on a spec before it
/// signs): the job is written back as JSON and walked by the same checker a manifest goes through,
/// so there is one implementation of every rule. Returns every problem, at `jobs/0/...` paths.
pub fn check_job(app: &str, job: &Job, zone_exists: &dyn Fn(&str) -> bool) -> Vec<Issue> {
    let mut checker = Checker {
        problems: Problems::default(),
        zone_exists,
    };
    if !is_identifier(app) {
        checker.report("app", format!("app {} is not valid", excerpt(app)));
    }
    match serde_json::to_value(job) {
        Ok(value) => {
            checker.job(&value, "jobs/0");
        }
        Err(e) => checker.report("jobs/0", format!("cannot be written as JSON ({e})")),
    }
    let mut issues = checker.problems.issues;
    if checker.problems.more > 0 {
        issues.push(issue(
            "jobs/0",
            format!("… and {} more problems", checker.problems.more),
        ));
    }
    issues
}

/// Add the schema's findings at paths (or parents of paths) where the semantic checks found nothing.
fn merge_schema_issues(problems: &mut Problems, schema_issues: Vec<Issue>) {
    for found in schema_issues {
        let covered = problems.issues.iter().any(|known| {
            known.path.is_empty()
                || within(&known.path, &found.path)
                || within(&found.path, &known.path)
        });
        if !covered {
            problems.push(found);
        }
    }
}

/// Whether `path` is `parent` or below it.
fn within(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Sort jobs by name (byte order). Headers are already sorted (BTreeMap); schedules keep their order.
fn normalize(mut manifest: Manifest) -> Manifest {
    manifest
        .jobs
        .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    manifest
}

fn issue(path: &str, message: String) -> Issue {
    Issue {
        path: path.to_string(),
        message,
    }
}

/// A short, printable rendering of user input for messages: quoted, control characters escaped, cut
/// at 48 characters so a 10 MB string never reaches a terminal.
pub fn excerpt(s: &str) -> String {
    excerpt_at(s, 48)
}

/// Like [`excerpt`], cut at `limit` characters.
pub fn excerpt_at(s: &str, limit: usize) -> String {
    let mut out: String = s.chars().take(limit).collect();
    if s.chars().nth(limit).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

/// The first `limit` characters of `shown`'s text (then `…`), escaped and quoted like [`excerpt`],
/// without formatting the rest: a schema error or a JSON value that would print megabytes stops
/// being formatted at the limit.
pub fn display_excerpt(shown: &dyn std::fmt::Display, limit: usize) -> String {
    format!("{:?}", display_cut(shown, limit))
}

/// The first `limit` characters of `shown`'s text, then `…` when there is more; not escaped (for
/// text that has no control characters, such as JSON).
pub fn display_cut(shown: &dyn std::fmt::Display, limit: usize) -> String {
    struct Capped {
        text: String,
        chars: usize,
        limit: usize,
        cut: bool,
    }
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for c in s.chars() {
                if self.chars == self.limit {
                    self.cut = true;
                    return Err(std::fmt::Error);
                }
                self.text.push(c);
                self.chars += 1;
            }
            Ok(())
        }
    }
    let mut capped = Capped {
        text: String::new(),
        chars: 0,
        limit,
        cut: false,
    };
    let _ = std::fmt::write(&mut capped, format_args!("{shown}"));
    if capped.cut {
        capped.text.push('…');
    }
    capped.text
}

/// `^[a-z][a-z0-9-]{0,62}$`: app ids and job names.
pub fn is_identifier(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `APP.JOB` → (`APP`, `JOB`): both names are identifiers, as the manifest requires (so an id can never
/// name a path outside the spec, lock or history directory).
pub fn split_job_id(id: &str) -> Result<(&str, &str), String> {
    match id.split_once('.') {
        Some((app, job)) if is_identifier(app) && is_identifier(job) => Ok((app, job)),
        _ => Err(format!(
            "job {id:?}: expected APP.JOB, e.g. billing-service.settle-invoices (names are lowercase \
             letters, digits and dashes, starting with a letter)"
        )),
    }
}

/// `^[a-zA-Z][a-zA-Z0-9_:./-]{0,127}$`: the syntax of a secret reference.
pub fn is_secret_ref_syntax(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_:./-".contains(b))
}

/// The canonical bytes of a normalized manifest.
pub fn canonical(manifest: &Manifest) -> String {
    serde_json::to_string(manifest).unwrap_or_default()
}

/// The canonical bytes of the single-job manifest `{version, app, jobs:[job]}` (used by the entry hash).
pub fn canonical_single_job(app: &str, job: &Job) -> String {
    #[derive(Serialize)]
    struct Single<'a> {
        version: u32,
        app: &'a str,
        jobs: [&'a Job; 1],
    }
    serde_json::to_string(&Single {
        version: 1,
        app,
        jobs: [job],
    })
    .unwrap_or_default()
}

/// SHA-256 (lowercase hex) of the manifest's canonical bytes, hashed as they are written (a 10 MiB
/// manifest is never held a second time as text).
pub fn digest(manifest: &Manifest) -> String {
    use sha2::Digest;
    struct Hashing(sha2::Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(sha2::Sha256::new());
    if serde_json::to_writer(&mut hashing, manifest).is_err() {
        // Serializing these types cannot fail; hash the same text `canonical` would give.
        return hex::encode(sha2::Sha256::digest(canonical(manifest).as_bytes()));
    }
    hex::encode(hashing.0.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_sha256_of_the_canonical_bytes() {
        use sha2::Digest;
        let doc = br#"{"version":1,"app":"a","jobs":[{"name":"j","schedule":"@daily",
            "request":{"url":"https://a.example/x","body":"\u00e9<&>","headers":{"B":"2","A":"1"}}}]}"#;
        let manifest = parse(doc, &|_| true).unwrap();
        let text = canonical(&manifest);
        assert_eq!(
            digest(&manifest),
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        );
    }

    #[test]
    fn problems_keep_the_first_hundred_and_count_the_rest() {
        let mut problems = Problems::default();
        for i in 0..150 {
            problems.push(issue(&format!("jobs/{i}"), "bad".into()));
        }
        assert_eq!((problems.issues.len(), problems.more), (100, 50));
        let lines = issue_lines(&problems);
        assert_eq!(lines.len(), 101);
        assert!(lines[100].contains("… and 50 more not shown"));
    }

    #[test]
    fn paths_are_shown_escaped_and_short() {
        assert_eq!(shown_path("jobs/0/name"), "jobs/0/name");
        let hostile = format!("jobs/0/\u{1b}[2J{}", "k".repeat(500));
        let shown = shown_path(&hostile);
        assert!(
            !shown.contains('\u{1b}') && shown.contains("\\u001b"),
            "{shown}"
        );
        assert!(shown.chars().count() < 140, "{shown}");
    }
}
