//! The manifest checker: walks a manifest's JSON value and collects every issue with its path (unknown
//! keys with "did you mean" hints, types, limits, identifiers, schedules, zones, requests, policies and
//! secret references), building the typed value where the input is valid.
//!
//! Pure, like its parent `manifest`, which owns the types, `parse` and the canonical form. Must not
//! normalize or decide what a valid manifest means beyond reporting issues.

use std::collections::BTreeMap;

use super::*;
use crate::core::request_rules::{check_header_name, check_header_value};

/// A JSON value as written, cut short for messages (never formatted past the cut).
fn json_excerpt(value: &serde_json::Value) -> String {
    // JSON text escapes control characters itself.
    display_cut(value, 48)
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
pub(super) struct Checker<'z> {
    pub(super) problems: Problems,
    pub(super) zone_exists: &'z dyn Fn(&str) -> bool,
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
    pub(super) fn report(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(issue(path, message.into()));
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
                if self.problems.is_full() {
                    // Only counted from here on: no hint worth computing.
                    self.problems.more += 1;
                    continue;
                }
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

    pub(super) fn manifest(&mut self, value: &serde_json::Value) -> Option<Manifest> {
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

    pub(super) fn job(&mut self, value: &serde_json::Value, path: &str) -> Option<Job> {
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

/// The allowed key closest to `key` (edit distance ≤ 2), for "did you mean" hints.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    if key.len() > 64 {
        return None;
    }
    allowed
        .iter()
        // The distance is at least the difference in length: skip what cannot be within 2.
        .filter(|a| key.len().abs_diff(a.len()) <= 2)
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
