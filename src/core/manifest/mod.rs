//! Manifests (protocol v1): parse with strict field checks, validate every rule, normalize, and
//! produce the canonical bytes.
//!
//! Owns the manifest types. Must not do I/O: sources are fetched by `shell::source`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::core::request_rules::{
    CREDENTIAL_HEADERS, RESERVED_HEADERS, check_url, is_loopback_host,
};

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

/// Parse, validate and normalize manifest bytes. `zone_exists` answers whether an IANA zone name is in
/// the system tz database (the caller looks it up; the core does no I/O).
///
/// Every problem found is reported, each at its JSON path; the JSON Schema runs too, and any problem it
/// finds that the semantic checks did not is reported as well.
pub fn parse(bytes: &[u8], zone_exists: &dyn Fn(&str) -> bool) -> Result<Manifest, Vec<Issue>> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(vec![issue(
            "",
            format!(
                "the manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES} bytes (10 MiB): split the app's jobs or shorten request bodies",
                bytes.len()
            ),
        )]);
    }
    let (value, duplicates) = crate::core::strict_json::parse(bytes).map_err(|e| {
        vec![issue(
            "",
            format!("not valid JSON ({e}); a manifest is a UTF-8 JSON object"),
        )]
    })?;
    let mut checker = Checker {
        issues: duplicates
            .into_iter()
            .map(|path| {
                let key = path.rsplit('/').next().unwrap_or_default().to_string();
                issue(
                    &path,
                    format!(
                        "the key {} appears more than once in this object (JSON readers disagree on \
                         which one wins); keep one",
                        excerpt(&key)
                    ),
                )
            })
            .collect(),
        zone_exists,
    };
    let manifest = checker.manifest(&value);
    let mut issues = checker.issues;
    merge_schema_issues(&mut issues, crate::core::manifest_schema::validate(&value));
    match manifest {
        Some(manifest) if issues.is_empty() => Ok(normalize(manifest)),
        _ => {
            if issues.is_empty() {
                issues.push(issue("", "the manifest is invalid".to_string()));
            }
            Err(issues)
        }
    }
}

/// Problems printed at most; the rest are counted (a 10 MB manifest can hold a million mistakes).
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// "1 problem" / "N problems".
pub fn problem_count(n: usize) -> String {
    format!("{n} problem{}", if n == 1 { "" } else { "s" })
}

/// The first `MAX_REPORTED_PROBLEMS` issues as `  path: message` lines, then a line counting the rest.
pub fn issue_lines(issues: &[Issue]) -> Vec<String> {
    let mut lines: Vec<String> = issues
        .iter()
        .take(MAX_REPORTED_PROBLEMS)
        .map(|i| {
            let at = if i.path.is_empty() {
                "(top level)"
            } else {
                &i.path
            };
            // A path holds the manifest's own keys: one line per issue, whatever a key holds.
            format!(
                "  {}: {}",
                crate::core::escape::inline(at),
                crate::core::escape::inline(&i.message)
            )
        })
        .collect();
    if issues.len() > MAX_REPORTED_PROBLEMS {
        lines.push(format!(
            "  … and {} more not shown (fix these first)",
            issues.len() - MAX_REPORTED_PROBLEMS
        ));
    }
    lines
}

/// Re-check one normalized job with the parser's own rules (the shim runs this on a spec before it
/// signs): the job is written back as JSON and walked by the same checker a manifest goes through,
/// so there is one implementation of every rule. Returns every problem, at `jobs/0/...` paths.
pub fn check_job(app: &str, job: &Job, zone_exists: &dyn Fn(&str) -> bool) -> Vec<Issue> {
    let mut checker = Checker {
        issues: Vec::new(),
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
    checker.issues
}

/// Add the schema's findings at paths (or parents of paths) where the semantic checks found nothing.
fn merge_schema_issues(issues: &mut Vec<Issue>, schema_issues: Vec<Issue>) {
    for found in schema_issues {
        let covered = issues.iter().any(|known| {
            known.path == found.path
                || known.path.starts_with(&format!("{}/", found.path))
                || found.path.starts_with(&format!("{}/", known.path))
                || known.path.is_empty()
        });
        if !covered {
            issues.push(found);
        }
    }
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

/// SHA-256 (lowercase hex) of the manifest's canonical bytes.
pub fn digest(manifest: &Manifest) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(canonical(manifest).as_bytes()))
}
