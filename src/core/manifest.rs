//! Manifests (protocol v1): parse with strict field checks, validate every rule, normalize, and
//! produce the canonical bytes.
//!
//! Owns the manifest types. Must not do I/O: sources are fetched by `shell::source`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::core::request_rules::{
    CREDENTIAL_HEADERS, RESERVED_HEADERS, check_url, is_loopback_host,
};
use crate::core::request_rules::{check_header_name, check_header_value};

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
            format!("  {at}: {}", i.message)
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

/// A JSON value as written, cut short for messages.
fn json_excerpt(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out: String = text.chars().take(48).collect();
    if text.chars().nth(48).is_some() {
        out.push('…');
    }
    out
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Walks the JSON value, collecting every issue with its path.
struct Checker<'z> {
    issues: Vec<Issue>,
    zone_exists: &'z dyn Fn(&str) -> bool,
}

const ROOT_KEYS: &[&str] = &["version", "app", "jobs"];
const JOB_KEYS: &[&str] = &[
    "name",
    "schedule",
    "schedules",
    "timezone",
    "request",
    "policy",
    "auth",
];
const REQUEST_KEYS: &[&str] = &["method", "url", "headers", "body"];
const POLICY_KEYS: &[&str] = &[
    "concurrency",
    "concurrency_scope",
    "timeout_seconds",
    "retries",
];
const RETRIES_KEYS: &[&str] = &["max_attempts", "min_seconds", "max_seconds"];
const AUTH_KEYS: &[&str] = &["secret_refs"];

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

impl Checker<'_> {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(issue(path, message.into()));
    }

    fn object<'v>(
        &mut self,
        value: &'v serde_json::Value,
        path: &str,
        what: &str,
    ) -> Option<&'v Object> {
        match value.as_object() {
            Some(obj) => Some(obj),
            None => {
                self.report(
                    path,
                    format!("{what} must be a JSON object, not {}", kind_of(value)),
                );
                None
            }
        }
    }

    /// Report every key not in `allowed`, suggesting the closest allowed key.
    fn unknown_keys(&mut self, obj: &Object, path: &str, allowed: &[&str]) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = match closest(key, allowed) {
                    Some(near) => format!("did you mean \"{near}\"?"),
                    None => format!("allowed fields here: {}", allowed.join(", ")),
                };
                self.report(
                    &join(path, key),
                    format!("unknown field {}; {hint}", excerpt(key)),
                );
            }
        }
    }

    fn string<'v>(
        &mut self,
        value: &'v serde_json::Value,
        path: &str,
        what: &str,
    ) -> Option<&'v str> {
        match value.as_str() {
            Some(s) => Some(s),
            None => {
                self.report(
                    path,
                    format!("{what} must be a string, not {}", kind_of(value)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`, reported with `what` and the range when it is not.
    fn integer(
        &mut self,
        value: &serde_json::Value,
        path: &str,
        what: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ if value.is_number() => {
                self.report(
                    path,
                    format!("{what} is {value}; use a whole number from {min} to {max}"),
                );
                None
            }
            _ => {
                self.report(
                    path,
                    format!(
                        "{what} must be a whole number from {min} to {max}, not {}",
                        kind_of(value)
                    ),
                );
                None
            }
        }
    }

    fn identifier(&mut self, value: &serde_json::Value, path: &str, what: &str) -> Option<String> {
        let s = self.string(value, path, what)?;
        if is_identifier(s) {
            Some(s.to_string())
        } else {
            self.report(
                path,
                format!(
                    "{what} {} is not valid; use 1 to 63 characters of lowercase letters, digits and '-', starting with a letter",
                    excerpt(s)
                ),
            );
            None
        }
    }

    fn manifest(&mut self, value: &serde_json::Value) -> Option<Manifest> {
        let obj = self.object(value, "", "the manifest")?;
        self.unknown_keys(obj, "", ROOT_KEYS);
        let version = self.version(obj.get("version"));
        let app = match obj.get("app") {
            Some(v) => self.identifier(v, "app", "app"),
            None => {
                self.report(
                    "app",
                    "missing; name the application, e.g. \"app\": \"billing-service\"",
                );
                None
            }
        };
        let jobs = self.jobs(obj.get("jobs"));
        Some(Manifest {
            version: version?,
            app: app?,
            jobs: jobs?,
        })
    }

    fn version(&mut self, value: Option<&serde_json::Value>) -> Option<u32> {
        match value {
            None => self.report("version", "missing; add \"version\": 1"),
            Some(v) if v.as_u64() == Some(1) => return Some(1),
            Some(v) => self.report(
                "version",
                format!(
                    "version {} is not supported; this is protocol v1: use \"version\": 1",
                    json_excerpt(v)
                ),
            ),
        }
        None
    }

    fn jobs(&mut self, value: Option<&serde_json::Value>) -> Option<Vec<Job>> {
        let Some(value) = value else {
            self.report("jobs", "missing; add \"jobs\": [ … ] with 1 to 256 jobs");
            return None;
        };
        let Some(items) = value.as_array() else {
            self.report(
                "jobs",
                format!(
                    "jobs must be an array of 1 to 256 jobs, not {}",
                    kind_of(value)
                ),
            );
            return None;
        };
        if items.is_empty() || items.len() > MAX_JOBS {
            self.report(
                "jobs",
                format!("{} jobs; a manifest has 1 to {MAX_JOBS} jobs", items.len()),
            );
            return None;
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut jobs = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let path = format!("jobs/{index}");
            match self.job(item, &path) {
                Some(job) => {
                    if let Some(first) = seen.get(&job.name) {
                        self.report(
                            &format!("{path}/name"),
                            format!("job name \"{}\" is already used by jobs/{first}; job names must be unique", job.name),
                        );
                        ok = false;
                    } else {
                        seen.insert(job.name.clone(), index);
                    }
                    jobs.push(job);
                }
                None => {
                    // Still detect duplicates when the rest of the job is broken.
                    if let Some(name) = item
                        .get("name")
                        .and_then(|n| n.as_str())
                        .filter(|n| is_identifier(n))
                    {
                        if let Some(first) = seen.get(name) {
                            self.report(
                                &format!("{path}/name"),
                                format!("job name \"{name}\" is already used by jobs/{first}; job names must be unique"),
                            );
                        } else {
                            seen.insert(name.to_string(), index);
                        }
                    }
                    ok = false;
                }
            }
        }
        ok.then_some(jobs)
    }

    fn job(&mut self, value: &serde_json::Value, path: &str) -> Option<Job> {
        let obj = self.object(value, path, "a job")?;
        self.unknown_keys(obj, path, JOB_KEYS);
        let name = match obj.get("name") {
            Some(v) => self.identifier(v, &join(path, "name"), "job name"),
            None => {
                self.report(
                    &join(path, "name"),
                    "missing; every job needs a \"name\" such as \"settle-invoices\"",
                );
                None
            }
        };
        let label = name
            .as_deref()
            .map(|n| format!("job {n}: "))
            .unwrap_or_default();
        let schedules = self.schedules(obj, path, &label);
        let timezone = self.timezone(obj.get("timezone"), &join(path, "timezone"), &label);
        let request = match obj.get("request") {
            Some(v) => self.request(v, &join(path, "request"), &label),
            None => {
                self.report(
                    &join(path, "request"),
                    format!("{label}missing; add \"request\": {{\"url\": \"https://…\"}}"),
                );
                None
            }
        };
        let policy = self.policy(obj.get("policy"), &join(path, "policy"), &label);
        let auth = self.auth(obj.get("auth"), &join(path, "auth"), &label);
        Some(Job {
            name: name?,
            schedules: schedules?,
            timezone: timezone?,
            request: request?,
            policy: policy?,
            auth: auth?,
        })
    }

    fn schedules(&mut self, obj: &Object, path: &str, label: &str) -> Option<Vec<String>> {
        match (obj.get("schedule"), obj.get("schedules")) {
            (None, None) => {
                self.report(path, format!("{label}needs a schedule: add \"schedule\": \"0 2 * * *\" or \"schedules\": [ … ]"));
                None
            }
            (Some(_), Some(_)) => {
                self.report(
                    path,
                    format!("{label}has both \"schedule\" and \"schedules\"; keep exactly one"),
                );
                None
            }
            (Some(one), None) => {
                let p = join(path, "schedule");
                let expr = self.string(one, &p, &format!("{label}schedule"))?;
                self.schedule(expr, &p, label).map(|s| vec![s])
            }
            (None, Some(many)) => self.schedule_list(many, &join(path, "schedules"), label),
        }
    }

    fn schedule_list(
        &mut self,
        value: &serde_json::Value,
        path: &str,
        label: &str,
    ) -> Option<Vec<String>> {
        let Some(items) = value.as_array() else {
            self.report(
                path,
                format!(
                    "{label}schedules must be an array of 1 to {MAX_SCHEDULES} strings, not {}",
                    kind_of(value)
                ),
            );
            return None;
        };
        if items.is_empty() || items.len() > MAX_SCHEDULES {
            self.report(
                path,
                format!(
                    "{label}{} schedules; a job has 1 to {MAX_SCHEDULES}",
                    items.len()
                ),
            );
            return None;
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        let mut fire_sets: Vec<Option<crate::core::schedule::FireSet>> =
            Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = join(path, &i.to_string());
            let parsed = self
                .string(item, &p, &format!("{label}schedule"))
                .and_then(|e| self.schedule(e, &p, label));
            let Some(expr) = parsed else {
                ok = false;
                continue;
            };
            if out.contains(&expr) {
                self.report(
                    &p,
                    format!(
                        "{label}schedule {} is listed twice; remove the repeat",
                        excerpt(&expr)
                    ),
                );
                ok = false;
                continue;
            }
            let fire_set = crate::core::schedule::Schedule::parse(&expr)
                .ok()
                .map(|s| s.fire_set());
            if let Some(first) = fire_set.as_ref().and_then(|set| {
                fire_sets
                    .iter()
                    .position(|known| known.as_ref() == Some(set))
            }) {
                self.report(
                    &p,
                    format!(
                        "{label}schedule {} fires at exactly the times of {path}/{first} {} (each \
                         would fire the job, twice at every instant); remove one",
                        excerpt(&expr),
                        excerpt(&out[first])
                    ),
                );
                ok = false;
                continue;
            }
            fire_sets.push(fire_set);
            out.push(expr);
        }
        ok.then_some(out)
    }

    fn schedule(&mut self, expr: &str, path: &str, label: &str) -> Option<String> {
        let trimmed = expr.trim_matches(' ');
        match crate::core::schedule::Schedule::parse(trimmed) {
            Ok(_) => Some(trimmed.to_string()),
            Err(e) => {
                self.report(path, format!("{label}{}", e.message));
                None
            }
        }
    }

    fn timezone(
        &mut self,
        value: Option<&serde_json::Value>,
        path: &str,
        label: &str,
    ) -> Option<String> {
        let Some(value) = value else {
            return Some("UTC".to_string());
        };
        let name = self.string(value, path, &format!("{label}timezone"))?;
        if name.len() <= 64 && (self.zone_exists)(name) {
            Some(name.to_string())
        } else {
            self.report(
                path,
                format!(
                    "{label}timezone {} is not a zone in the system tz database; use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\" (exact case)",
                    excerpt(name)
                ),
            );
            None
        }
    }

    fn request(&mut self, value: &serde_json::Value, path: &str, label: &str) -> Option<Request> {
        let obj = self.object(value, path, &format!("{label}request"))?;
        self.unknown_keys(obj, path, REQUEST_KEYS);
        let method = match obj.get("method") {
            None => Some(Method::Post),
            Some(v) => self.method(v, &join(path, "method"), label),
        };
        let url = match obj.get("url") {
            Some(v) => self.url(v, &join(path, "url"), label),
            None => {
                self.report(
                    &join(path, "url"),
                    format!("{label}missing; add \"url\": \"https://host/path\""),
                );
                None
            }
        };
        let headers = match obj.get("headers") {
            None => Some(BTreeMap::new()),
            Some(v) => self.headers(v, &join(path, "headers"), label),
        };
        let body = match obj.get("body") {
            None => Some(String::new()),
            Some(v) => self.body(v, &join(path, "body"), label),
        };
        Some(Request {
            method: method?,
            url: url?,
            headers: headers?,
            body: body?,
        })
    }

    fn method(&mut self, value: &serde_json::Value, path: &str, label: &str) -> Option<Method> {
        const METHODS: [(&str, Method); 5] = [
            ("GET", Method::Get),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("PATCH", Method::Patch),
            ("DELETE", Method::Delete),
        ];
        self.one_of(value, path, &format!("{label}method"), &METHODS)
    }

    /// A string that must be one of `choices` (exact case), reported with the list when it is not.
    fn one_of<T: Copy>(
        &mut self,
        value: &serde_json::Value,
        path: &str,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(value, path, what)?;
        if let Some((_, chosen)) = choices.iter().find(|(name, _)| *name == s) {
            return Some(*chosen);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        self.report(
            path,
            format!("{what} {} is not one of {}", excerpt(s), names.join(", ")),
        );
        None
    }

    fn url(&mut self, value: &serde_json::Value, path: &str, label: &str) -> Option<String> {
        let s = self.string(value, path, &format!("{label}url"))?;
        match check_url(s) {
            Ok(()) => Some(s.to_string()),
            Err(why) => {
                self.report(path, format!("{label}url {}: {why}", excerpt(s)));
                None
            }
        }
    }

    fn headers(
        &mut self,
        value: &serde_json::Value,
        path: &str,
        label: &str,
    ) -> Option<BTreeMap<String, String>> {
        let obj = self.object(value, path, &format!("{label}headers"))?;
        if obj.len() > MAX_HEADERS {
            self.report(
                path,
                format!("{label}{} headers; at most {MAX_HEADERS}", obj.len()),
            );
            return None;
        }
        let mut out = BTreeMap::new();
        let mut lower_seen: BTreeMap<String, String> = BTreeMap::new();
        let mut ok = true;
        for (name, v) in obj {
            let p = join(path, name);
            if let Err(why) = check_header_name(name) {
                self.report(&p, format!("{label}header {}: {why}", excerpt(name)));
                ok = false;
                continue;
            }
            if let Some(other) = lower_seen.insert(name.to_ascii_lowercase(), name.clone()) {
                self.report(&p, format!("{label}header \"{name}\" repeats \"{other}\" (names are case-insensitive); keep one"));
                ok = false;
                continue;
            }
            let Some(text) = self.string(v, &p, &format!("{label}header \"{name}\" value")) else {
                ok = false;
                continue;
            };
            if let Err(why) = check_header_value(text) {
                self.report(&p, format!("{label}header \"{name}\" value: {why}"));
                ok = false;
                continue;
            }
            out.insert(name.clone(), text.to_string());
        }
        ok.then_some(out)
    }

    fn body(&mut self, value: &serde_json::Value, path: &str, label: &str) -> Option<String> {
        let s = self.string(value, path, &format!("{label}body"))?;
        if s.len() > MAX_BODY_BYTES {
            self.report(
                path,
                format!(
                    "{label}body is {} bytes; the limit is {MAX_BODY_BYTES} (1 MiB)",
                    s.len()
                ),
            );
            return None;
        }
        Some(s.to_string())
    }

    fn policy(
        &mut self,
        value: Option<&serde_json::Value>,
        path: &str,
        label: &str,
    ) -> Option<Policy> {
        let mut policy = Policy {
            concurrency: Concurrency::Forbid,
            concurrency_scope: ConcurrencyScope::Host,
            timeout_seconds: 60,
            retries: Retries {
                max_attempts: 3,
                min_seconds: 1,
                max_seconds: 60,
            },
        };
        let Some(value) = value else {
            return Some(policy);
        };
        let obj = self.object(value, path, &format!("{label}policy"))?;
        self.unknown_keys(obj, path, POLICY_KEYS);
        let mut ok = true;
        if let Some(v) = obj.get("concurrency") {
            const CHOICES: [(&str, Concurrency); 3] = [
                ("Allow", Concurrency::Allow),
                ("Forbid", Concurrency::Forbid),
                ("Replace", Concurrency::Replace),
            ];
            let what = format!("{label}concurrency");
            match self.one_of(v, &join(path, "concurrency"), &what, &CHOICES) {
                Some(c) => policy.concurrency = c,
                None => ok = false,
            }
        }
        if let Some(v) = obj.get("concurrency_scope") {
            const CHOICES: [(&str, ConcurrencyScope); 2] = [
                ("host", ConcurrencyScope::Host),
                ("global", ConcurrencyScope::Global),
            ];
            let what = format!("{label}concurrency_scope");
            match self.one_of(v, &join(path, "concurrency_scope"), &what, &CHOICES) {
                Some(scope) => policy.concurrency_scope = scope,
                None => ok = false,
            }
        }
        if let Some(v) = obj.get("timeout_seconds") {
            match self.integer(
                v,
                &join(path, "timeout_seconds"),
                &format!("{label}timeout_seconds"),
                1,
                600,
            ) {
                Some(n) => policy.timeout_seconds = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = obj.get("retries") {
            match self.retries(v, &join(path, "retries"), label) {
                Some(r) => policy.retries = r,
                None => ok = false,
            }
        }
        ok.then_some(policy)
    }

    fn retries(&mut self, value: &serde_json::Value, path: &str, label: &str) -> Option<Retries> {
        let obj = self.object(value, path, &format!("{label}retries"))?;
        self.unknown_keys(obj, path, RETRIES_KEYS);
        let mut field = |name: &str, min: u64, max: u64, default: u32| -> Option<u32> {
            match obj.get(name) {
                None => Some(default),
                Some(v) => self
                    .integer(
                        v,
                        &join(path, name),
                        &format!("{label}retries.{name}"),
                        min,
                        max,
                    )
                    .map(|n| n as u32),
            }
        };
        let max_attempts = field("max_attempts", 1, 10, 3);
        let min_seconds = field("min_seconds", 0, MAX_RETRY_SECONDS, 1);
        let max_seconds = field("max_seconds", 1, MAX_RETRY_SECONDS, 60);
        let retries = Retries {
            max_attempts: max_attempts?,
            min_seconds: min_seconds?,
            max_seconds: max_seconds?,
        };
        if retries.min_seconds > retries.max_seconds {
            self.report(
                path,
                format!(
                    "{label}retries.min_seconds ({}) is greater than retries.max_seconds ({}); make min_seconds <= max_seconds",
                    retries.min_seconds, retries.max_seconds
                ),
            );
            return None;
        }
        Some(retries)
    }

    fn auth(&mut self, value: Option<&serde_json::Value>, path: &str, label: &str) -> Option<Auth> {
        let Some(value) = value else {
            return Some(Auth {
                secret_refs: Vec::new(),
            });
        };
        let obj = self.object(value, path, &format!("{label}auth"))?;
        self.unknown_keys(obj, path, AUTH_KEYS);
        let Some(refs) = obj.get("secret_refs") else {
            return Some(Auth {
                secret_refs: Vec::new(),
            });
        };
        let p = join(path, "secret_refs");
        let Some(items) = refs.as_array() else {
            self.report(
                &p,
                format!(
                    "{label}secret_refs must be an array of references, not {}",
                    kind_of(refs)
                ),
            );
            return None;
        };
        if items.len() > MAX_SECRET_REFS {
            self.report(
                &p,
                format!(
                    "{label}{} secret references; at most {MAX_SECRET_REFS}",
                    items.len()
                ),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = join(&p, &i.to_string());
            match self.string(item, &ip, &format!("{label}secret reference")) {
                Some(r) if is_secret_ref_syntax(r) => out.push(r.to_string()),
                Some(r) => {
                    self.report(
                        &ip,
                        format!(
                            "{label}secret reference {} is not valid; write env:NAME, file:/absolute/path or raw:value (letters, digits and _:./- only, at most 128 characters)",
                            excerpt(r)
                        ),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some(Auth { secret_refs: out })
    }
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

/// The allowed key closest to `key` (edit distance ≤ 2), for "did you mean" hints.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    if key.len() > 64 {
        return None;
    }
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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
