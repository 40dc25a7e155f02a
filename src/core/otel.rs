//! The trace of one fire as data, in the reference's shape (its decision D-037): a root
//! `cronix.trigger.fire` span, one `cronix.trigger.attempt` child per HTTP attempt, a
//! `cronix.trigger.lock` child for global scope, their attributes, events and statuses; plus the
//! parsing of the standard `OTEL_*` value formats and the redaction of `url.full`.
//!
//! Pure: the facts (times included) come from the shim; this module takes no clock, no randomness
//! and no OpenTelemetry type (the exporter in `shell::otel` converts). Must never be handed a secret,
//! a signature or a header value: its inputs have no field for one.

use std::time::SystemTime;

use crate::core::history::RunStatus;
use crate::core::trace;

pub const FIRE_SPAN: &str = "cronix.trigger.fire";
pub const ATTEMPT_SPAN: &str = "cronix.trigger.attempt";
pub const LOCK_SPAN: &str = "cronix.trigger.lock";
pub const LOCK_ACQUIRED_EVENT: &str = "cronix.lock.acquired";
pub const SECRETS_RESOLVED_EVENT: &str = "cronix.secrets.resolved";
pub const SIGN_COMPLETED_EVENT: &str = "cronix.sign.completed";

/// What `url.full` shows instead of a query value whose name looks like a credential.
pub const REDACTED: &str = "REDACTED";

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
}

/// One attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: &'static str,
    pub value: Value,
}

fn text(key: &'static str, value: impl Into<String>) -> Attr {
    Attr {
        key,
        value: Value::Str(value.into()),
    }
}

fn int(key: &'static str, value: impl Into<i64>) -> Attr {
    Attr {
        key,
        value: Value::Int(value.into()),
    }
}

/// A span's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error(String),
}

/// A point in a span.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub time: SystemTime,
    pub attrs: Vec<Attr>,
}

/// A span kind, as OTLP names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Client,
}

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub name: &'static str,
    pub kind: Kind,
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attrs: Vec<Attr>,
    pub events: Vec<Event>,
    pub status: Status,
}

/// The spans of one fire, under one trace id (the run id).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub trace_id: [u8; 16],
    pub spans: Vec<Span>,
}

/// One HTTP attempt as the shim saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFacts {
    pub attempt: u32,
    pub start: SystemTime,
    pub end: SystemTime,
    /// When the signature was made (the `cronix.sign.completed` event).
    pub signed_at: SystemTime,
    /// The response status, when one came back.
    pub status_code: Option<u16>,
    /// Why no response came back: `timeout`, `connect`, `network`, `bad_header`.
    pub error_class: Option<&'static str>,
    /// Whether another attempt followed this one.
    pub retried: bool,
    /// The wait before this attempt, seconds (0 for the first).
    pub backoff_seconds: f64,
}

/// The global-scope step (Redis).
#[derive(Debug, Clone, PartialEq)]
pub struct LockFacts {
    pub key: String,
    /// `acquired`, `contended`, `duplicate` (another host claimed the instant) or `unavailable`.
    pub outcome: &'static str,
    pub ttl_seconds: i64,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// Everything the trace of a fire says.
#[derive(Debug, Clone, PartialEq)]
pub struct FireFacts {
    pub app: String,
    pub job: String,
    pub run_id: String,
    pub schedule: String,
    /// Intended fire time, unix seconds.
    pub intended_fire_time: i64,
    pub actual_fire_time: SystemTime,
    pub backend: String,
    pub timeout_seconds: u32,
    pub concurrency_policy: &'static str,
    pub concurrency_scope: &'static str,
    pub max_attempts: u32,
    pub method: String,
    /// The job's URL (redacted here before it becomes `url.full`).
    pub url: String,
    pub status: RunStatus,
    pub end: SystemTime,
    /// When the secrets were resolved, and how many resolved.
    pub secrets: Option<(SystemTime, usize)>,
    /// This host's lock: when it was taken and how long taking it took, milliseconds.
    pub host_lock: Option<(SystemTime, u64)>,
    pub global_lock: Option<LockFacts>,
    pub attempts: Vec<AttemptFacts>,
}

/// `cronix.outcome` of a run status.
pub fn outcome(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Ok => "success",
        RunStatus::Rejected => "app_rejected",
        RunStatus::Exhausted => "retries_exhausted",
        RunStatus::Contended | RunStatus::Duplicate => "lock_contended",
        RunStatus::Internal | RunStatus::Replaced | RunStatus::Terminated => "internal_error",
    }
}

/// `cronix.retry_reason` of an attempt that was retried: `5xx`, `timeout` (a timeout or a 408),
/// `network` (no response), `429` (throttled; not one of the reference's values, which has no word
/// for it).
pub fn retry_reason(status_code: Option<u16>, error_class: Option<&str>) -> &'static str {
    match (status_code, error_class) {
        (Some(408), _) | (None, Some("timeout")) => "timeout",
        (Some(429), _) => "429",
        (Some(_), _) => "5xx",
        (None, _) => "network",
    }
}

/// The trace of a fire: the root span first, then the lock span (global scope), then the attempts.
pub fn build(facts: &FireFacts) -> Trace {
    let run_id = facts.run_id.as_str();
    let root_id = trace::fire_span_id_bytes(run_id);
    let mut spans = vec![root_span(facts, root_id)];
    if let Some(lock) = &facts.global_lock {
        spans.push(Span {
            name: LOCK_SPAN,
            kind: Kind::Client,
            span_id: trace::lock_span_id_bytes(run_id),
            parent: Some(root_id),
            start: lock.start,
            end: lock.end,
            attrs: vec![
                text("cronix.lock.backend", "redis"),
                text("cronix.lock.scope", "global"),
                text("cronix.lock.key", lock.key.clone()),
                text("cronix.lock.outcome", lock.outcome),
                int("cronix.lock.ttl_seconds", lock.ttl_seconds),
            ],
            events: Vec::new(),
            status: if lock.outcome == "acquired" {
                Status::Ok
            } else {
                Status::Error(lock.outcome.to_string())
            },
        });
    }
    let url_full = redact_url(&facts.url);
    for attempt in &facts.attempts {
        spans.push(attempt_span(facts, attempt, root_id, &url_full));
    }
    Trace {
        trace_id: trace::trace_id_bytes(run_id),
        spans,
    }
}

fn root_span(facts: &FireFacts, root_id: [u8; 8]) -> Span {
    let outcome = outcome(facts.status);
    let attrs = vec![
        text("cronix.app", facts.app.clone()),
        text("cronix.job", facts.job.clone()),
        text("cronix.run_id", facts.run_id.clone()),
        text("cronix.schedule", facts.schedule.clone()),
        text(
            "cronix.intended_fire_time",
            rfc3339_seconds(facts.intended_fire_time),
        ),
        text("cronix.actual_fire_time", rfc3339(facts.actual_fire_time)),
        text("cronix.backend", facts.backend.clone()),
        int("cronix.timeout_seconds", facts.timeout_seconds),
        text("cronix.concurrency_policy", facts.concurrency_policy),
        text("cronix.concurrency_scope", facts.concurrency_scope),
        int("cronix.max_attempts", facts.max_attempts),
        text("cronix.outcome", outcome),
        int(
            "cronix.attempts_made",
            u32::try_from(facts.attempts.len()).unwrap_or(u32::MAX),
        ),
    ];
    let mut events = Vec::new();
    if let Some((at, count)) = facts.secrets {
        events.push(Event {
            name: SECRETS_RESOLVED_EVENT,
            time: at,
            attrs: vec![int(
                "cronix.secrets.count",
                i64::try_from(count).unwrap_or(i64::MAX),
            )],
        });
    }
    if let Some((at, duration_ms)) = facts.host_lock {
        events.push(Event {
            name: LOCK_ACQUIRED_EVENT,
            time: at,
            attrs: vec![
                text("cronix.lock.scope", "host"),
                int(
                    "cronix.lock.duration_ms",
                    i64::try_from(duration_ms).unwrap_or(i64::MAX),
                ),
            ],
        });
    }
    Span {
        name: FIRE_SPAN,
        kind: Kind::Internal,
        span_id: root_id,
        parent: None,
        start: facts.actual_fire_time,
        end: facts.end,
        attrs,
        events,
        status: if facts.status == RunStatus::Ok {
            Status::Ok
        } else {
            Status::Error(outcome.to_string())
        },
    }
}

fn attempt_span(facts: &FireFacts, a: &AttemptFacts, root_id: [u8; 8], url_full: &str) -> Span {
    let mut attrs = vec![
        int("cronix.attempt", a.attempt),
        text("http.request.method", facts.method.clone()),
        text("url.full", url_full),
    ];
    if let Some(code) = a.status_code {
        attrs.push(int("http.response.status_code", code));
    }
    if a.retried {
        attrs.push(text(
            "cronix.retry_reason",
            retry_reason(a.status_code, a.error_class),
        ));
    }
    attrs.push(Attr {
        key: "cronix.backoff_seconds",
        value: Value::Float(a.backoff_seconds),
    });
    if let Some(class) = a.error_class {
        attrs.push(text("error.type", class));
    }
    let ok = a.status_code.is_some_and(|c| (200..300).contains(&c));
    let status = if ok {
        Status::Ok
    } else {
        Status::Error(match (a.status_code, a.error_class) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(class)) => class.to_string(),
            (None, None) => "no response".to_string(),
        })
    };
    Span {
        name: ATTEMPT_SPAN,
        kind: Kind::Client,
        span_id: trace::span_id_bytes(&facts.run_id, a.attempt),
        parent: Some(root_id),
        start: a.start,
        end: a.end,
        attrs,
        events: vec![Event {
            name: SIGN_COMPLETED_EVENT,
            time: a.signed_at,
            attrs: Vec::new(),
        }],
        status,
    }
}

fn rfc3339(time: SystemTime) -> String {
    match jiff::Timestamp::try_from(time) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => String::new(),
    }
}

fn rfc3339_seconds(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|ts| format!("{ts:.0}"))
        .unwrap_or_default()
}

/// Query parameter names whose values are never shown (compared lowercased, as substrings).
const CREDENTIAL_WORDS: &[&str] = &[
    "token",
    "secret",
    "key",
    "pass",
    "pwd",
    "auth",
    "sig",
    "credential",
    "session",
    "code",
    "jwt",
    "bearer",
    "cookie",
];

/// `url.full`: the URL without user info or fragment, each query value whose name looks like a
/// credential (`token`, `api_key`, `sig`, `password`, …) replaced by `REDACTED`. A URL that does not
/// parse is replaced whole.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return REDACTED.to_string();
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if let Some(query) = url.query().map(str::to_string) {
        let pieces: Vec<String> = query
            .split('&')
            .map(|piece| match piece.split_once('=') {
                Some((name, _)) if looks_like_credential(name) => format!("{name}={REDACTED}"),
                _ => piece.to_string(),
            })
            .collect();
        url.set_query(Some(&pieces.join("&")));
    }
    url.to_string()
}

fn looks_like_credential(name: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(name.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect();
    let lower = decoded.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|w| lower.contains(w))
}

/// `k1=v1,k2=v2` (the format of `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`), values
/// percent-decoded; an item without `=` or with an empty key is an error naming its position.
pub fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, item) in text.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("item {} has no `=`", n + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("item {} has an empty key", n + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("item {}: the value is not UTF-8 once decoded", n + 1))?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut n = 0;
    while n < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[n], bytes.get(n + 1), bytes.get(n + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                n += 3;
            }
            (b, _, _) => {
                out.push(b);
                n += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The traces URL of an OTLP/HTTP base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, the config's
/// `otel.endpoint`): `<base>/v1/traces`, unless the path already ends with it.
pub fn traces_url(base: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    if trimmed.ends_with("/v1/traces") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const RUN: &str = "0190f5e2-7c3a-7b21-9d4e-2f1a3b4c5d6e";

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_780_000_000_000 + ms)
    }

    fn facts() -> FireFacts {
        FireFacts {
            app: "billing".into(),
            job: "settle".into(),
            run_id: RUN.into(),
            schedule: "*/5 * * * *".into(),
            intended_fire_time: 1_780_000_000,
            actual_fire_time: at(0),
            backend: "crontab".into(),
            timeout_seconds: 30,
            concurrency_policy: "Forbid",
            concurrency_scope: "host",
            max_attempts: 3,
            method: "POST".into(),
            url: "https://app.example/run?id=7&api_key=abc&Token=x#frag".into(),
            status: RunStatus::Ok,
            end: at(900),
            secrets: Some((at(1), 1)),
            host_lock: Some((at(2), 0)),
            global_lock: None,
            attempts: vec![
                AttemptFacts {
                    attempt: 1,
                    start: at(3),
                    end: at(10),
                    signed_at: at(3),
                    status_code: Some(503),
                    error_class: None,
                    retried: true,
                    backoff_seconds: 0.0,
                },
                AttemptFacts {
                    attempt: 2,
                    start: at(800),
                    end: at(890),
                    signed_at: at(800),
                    status_code: Some(200),
                    error_class: None,
                    retried: false,
                    backoff_seconds: 0.79,
                },
            ],
        }
    }

    fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
        span.attrs.iter().find(|a| a.key == key).map(|a| &a.value)
    }

    #[test]
    fn the_shape_is_a_root_and_one_child_per_attempt_with_the_traceparent_ids() {
        let t = build(&facts());
        assert_eq!(hex::encode(t.trace_id), trace::trace_id(RUN));
        let names: Vec<&str> = t.spans.iter().map(|s| s.name).collect();
        assert_eq!(names, [FIRE_SPAN, ATTEMPT_SPAN, ATTEMPT_SPAN]);
        let root = &t.spans[0];
        assert_eq!(root.parent, None);
        assert_eq!(root.status, Status::Ok);
        assert_eq!(
            attr(root, "cronix.outcome"),
            Some(&Value::Str("success".into()))
        );
        assert_eq!(attr(root, "cronix.attempts_made"), Some(&Value::Int(2)));
        assert_eq!(
            attr(root, "cronix.intended_fire_time"),
            Some(&Value::Str("2026-05-28T20:26:40Z".into()))
        );
        let events: Vec<&str> = root.events.iter().map(|e| e.name).collect();
        assert_eq!(events, [SECRETS_RESOLVED_EVENT, LOCK_ACQUIRED_EVENT]);
        for (n, span) in t.spans[1..].iter().enumerate() {
            let attempt = u32::try_from(n + 1).unwrap();
            assert_eq!(span.parent, Some(root.span_id));
            let header = trace::traceparent(RUN, attempt);
            assert_eq!(hex::encode(span.span_id), header[36..52]);
            assert_eq!(span.events[0].name, SIGN_COMPLETED_EVENT);
        }
        let first = &t.spans[1];
        assert_eq!(
            attr(first, "cronix.retry_reason"),
            Some(&Value::Str("5xx".into()))
        );
        assert_eq!(first.status, Status::Error("HTTP 503".into()));
        assert_eq!(
            attr(first, "url.full"),
            Some(&Value::Str(
                "https://app.example/run?id=7&api_key=REDACTED&Token=REDACTED".into()
            ))
        );
        assert_eq!(attr(&t.spans[2], "cronix.retry_reason"), None);
        assert_eq!(
            attr(&t.spans[2], "cronix.backoff_seconds"),
            Some(&Value::Float(0.79))
        );
        assert_eq!(t.spans[2].status, Status::Ok);
    }

    #[test]
    fn global_scope_adds_a_lock_span_and_failures_are_errors() {
        let mut f = facts();
        f.host_lock = None;
        f.concurrency_scope = "global";
        f.global_lock = Some(LockFacts {
            key: "cronix:lock:billing.settle".into(),
            outcome: "contended",
            ttl_seconds: 10,
            start: at(2),
            end: at(3),
        });
        f.attempts.clear();
        f.status = RunStatus::Contended;
        let t = build(&f);
        assert_eq!(t.spans.len(), 2);
        let lock = &t.spans[1];
        assert_eq!(lock.name, LOCK_SPAN);
        assert_eq!(lock.status, Status::Error("contended".into()));
        assert_eq!(
            attr(&t.spans[0], "cronix.outcome"),
            Some(&Value::Str("lock_contended".into()))
        );
        assert_eq!(t.spans[0].status, Status::Error("lock_contended".into()));
        assert!(
            t.spans[0]
                .events
                .iter()
                .all(|e| e.name != LOCK_ACQUIRED_EVENT)
        );
    }

    #[test]
    fn outcomes_and_retry_reasons_use_the_reference_words() {
        assert_eq!(outcome(RunStatus::Rejected), "app_rejected");
        assert_eq!(outcome(RunStatus::Exhausted), "retries_exhausted");
        assert_eq!(outcome(RunStatus::Internal), "internal_error");
        assert_eq!(retry_reason(Some(502), None), "5xx");
        assert_eq!(retry_reason(None, Some("timeout")), "timeout");
        assert_eq!(retry_reason(None, Some("connect")), "network");
        assert_eq!(retry_reason(Some(408), None), "timeout");
    }

    #[test]
    fn credential_looking_query_values_are_redacted() {
        for (raw, want) in [
            ("http://h/p?a=1&b=2", "http://h/p?a=1&b=2"),
            (
                "http://u:pw@h/p?access_token=t&x=1&signature=s&password=p",
                "http://h/p?access_token=REDACTED&x=1&signature=REDACTED&password=REDACTED",
            ),
            ("http://h/p?API%5FKEY=z", "http://h/p?API%5FKEY=REDACTED"),
            ("not a url", REDACTED),
        ] {
            assert_eq!(redact_url(raw), want, "{raw}");
        }
    }

    #[test]
    fn pairs_parse_and_decode() {
        assert_eq!(
            parse_pairs("a=1, b = x%20y ,,c=").unwrap(),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y".to_string()),
                ("c".to_string(), String::new())
            ]
        );
        assert!(parse_pairs("novalue").is_err());
        assert!(parse_pairs("=v").is_err());
    }

    #[test]
    fn the_traces_path_is_appended_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(traces_url("http://c/x/"), "http://c/x/v1/traces");
        assert_eq!(traces_url("http://c/v1/traces"), "http://c/v1/traces");
    }
}
