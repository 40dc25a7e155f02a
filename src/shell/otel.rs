//! `trigger --otel`: where a fire's trace goes (the config's `otel:` section, else the standard
//! `OTEL_*` variables) and its one export over OTLP/HTTP (protobuf), with the OpenTelemetry SDK's span
//! type and `opentelemetry-otlp`'s exporter, which is handed cronix's own blocking HTTP client.
//!
//! Owns the export: at most one POST per fire, bounded by one deadline (the whole export, connect to
//! response head; the response body is never read), no proxy from the environment (the config's
//! `http_proxy` only, as for every peer), redirects never followed, no retry. The collector client
//! sends only `Content-Type` and the headers resolved here (the exporter crate's own reading of
//! `OTEL_EXPORTER_OTLP_HEADERS` cannot add one), and header values never reach a log line or a span.
//! Must not decide what a span says (that is `core::otel`) and must never change a fire's outcome:
//! every failure comes back as a message for one warn line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status as OtelStatus, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

use crate::core::otel::{self as shape, Kind, Status, Value};
use crate::shell::config::{DEFAULT_OTEL_TIMEOUT_MS, MAX_OTEL_TIMEOUT_MS, OtelConfig};
use crate::shell::http::{self, Transport};
use crate::shell::secrets;

/// Default `service.name`.
pub const DEFAULT_SERVICE_NAME: &str = "cronix";

/// Where and how a fire's trace is exported (resolved once, after the fire).
pub struct Destination {
    /// The full OTLP/HTTP traces URL.
    pub url: url::Url,
    /// Header names and values (values from secret references or `OTEL_EXPORTER_OTLP_HEADERS`).
    headers: Vec<(String, Zeroizing<String>)>,
    pub timeout: Duration,
    pub service_name: String,
    pub resource_attributes: BTreeMap<String, String>,
    /// Where the endpoint came from: `config` or the variable's name (for the warn line).
    pub source: &'static str,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Destination")
            .field("url", &self.url.as_str())
            .field("header_names", &names)
            .field("timeout", &self.timeout)
            .field("service_name", &self.service_name)
            .field("source", &self.source)
            .finish()
    }
}

/// The destination of `--otel`, or `None` when no endpoint is set (then `--otel` does nothing).
/// The config's `otel.endpoint` wins over the variables, and the headers come from the same place as
/// the endpoint: the config's headers are never sent to an endpoint named by the environment.
/// Headers (a collector's credentials) go over plain `http://` only to a loopback host or one in
/// `allow_http_hosts`, as signed job requests do.
pub fn destination(
    config: Option<&OtelConfig>,
    env_file: Option<&Path>,
    allow_http_hosts: &[String],
) -> Result<Option<Destination>, String> {
    let config = config.cloned().unwrap_or_default();
    let var = crate::env::otel_var;
    let (endpoint, source, headers) = if let Some(endpoint) = &config.endpoint {
        let headers = config_headers(&config.headers, env_file)?;
        (shape::traces_url(endpoint), "config", headers)
    } else if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        (url, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env_headers()?)
    } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        (
            shape::traces_url(&base),
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            env_headers()?,
        )
    } else {
        return Ok(None);
    };
    let url = url::Url::parse(&endpoint).map_err(|e| format!("{source}: not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{source}: write an http:// or https:// URL with a host"
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if !headers.is_empty()
        && url.scheme() == "http"
        && !crate::core::manifest::is_loopback_host(&url)
        && !allow_http_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    {
        return Err(format!(
            "{source}: plain http:// to {host} would send the collector's headers in clear; use \
             https://, or list {host} in allow_http_hosts"
        ));
    }
    let timeout_ms = match config.timeout_ms {
        Some(ms) => ms,
        None => match var("OTEL_EXPORTER_OTLP_TIMEOUT") {
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| {
                    "OTEL_EXPORTER_OTLP_TIMEOUT: not a number of milliseconds".to_string()
                })?
                .clamp(1, MAX_OTEL_TIMEOUT_MS),
            None => DEFAULT_OTEL_TIMEOUT_MS,
        },
    };
    let mut resource_attributes = BTreeMap::new();
    if let Some(text) = var("OTEL_RESOURCE_ATTRIBUTES") {
        let pairs =
            shape::parse_pairs(&text).map_err(|e| format!("OTEL_RESOURCE_ATTRIBUTES: {e}"))?;
        resource_attributes.extend(pairs);
    }
    resource_attributes.extend(config.resource_attributes.clone());
    let service_name = config
        .service_name
        .clone()
        .or_else(|| var("OTEL_SERVICE_NAME"))
        .or_else(|| resource_attributes.get("service.name").cloned())
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
    resource_attributes.remove("service.name");
    Ok(Some(Destination {
        url,
        headers,
        timeout: Duration::from_millis(timeout_ms),
        service_name,
        resource_attributes,
        source,
    }))
}

fn config_headers(
    refs: &BTreeMap<String, String>,
    env_file: Option<&Path>,
) -> Result<Vec<(String, Zeroizing<String>)>, String> {
    let mut out = Vec::with_capacity(refs.len());
    for (name, reference) in refs {
        let resolved = secrets::resolve(std::slice::from_ref(reference), env_file)
            .map_err(|e| format!("otel.headers.{name}: {e}"))?;
        let secret = resolved.secrets.first().ok_or_else(|| {
            format!("otel.headers.{name}: {reference} resolved to nothing; set it")
        })?;
        let value = std::str::from_utf8(secret.expose())
            .map_err(|_| format!("otel.headers.{name}: {reference} is not UTF-8 text"))?;
        out.push((name.clone(), Zeroizing::new(value.trim_end().to_string())));
    }
    Ok(out)
}

fn env_headers() -> Result<Vec<(String, Zeroizing<String>)>, String> {
    let Some(text) = crate::env::otel_var("OTEL_EXPORTER_OTLP_HEADERS").map(Zeroizing::new) else {
        return Ok(Vec::new());
    };
    // The error names the item's position, never its value.
    let pairs =
        shape::parse_pairs(&text).map_err(|e| format!("OTEL_EXPORTER_OTLP_HEADERS: {e}"))?;
    Ok(pairs
        .into_iter()
        .map(|(name, value)| (name, Zeroizing::new(value)))
        .collect())
}

/// The shim's client and the job URL it was built for, which the export may reuse.
#[derive(Debug)]
pub struct ShimClient {
    pub client: reqwest::blocking::Client,
    pub built_for: url::Url,
}

/// Export one fire's trace; `Err` is the one line the caller logs at warn. The fire's own client is
/// reused when it reaches the collector exactly as a new one would (same proxy decision, and TLS
/// roots loaded if the collector is `https://`): building a blocking client starts a runtime thread.
pub fn export(
    destination: &Destination,
    trace: &shape::Trace,
    transport: &Transport,
    shim: Option<ShimClient>,
) -> Result<(), String> {
    let deadline = Instant::now() + destination.timeout;
    let client = match shim {
        Some(shim) if reusable(&shim.built_for, &destination.url, transport) => shim.client,
        _ => http::client(&destination.url, destination.timeout, transport)?,
    };
    let errors = CollectorErrors::default();
    let collector = Collector {
        client,
        headers: header_map(&destination.headers)?,
        deadline,
        errors: errors.clone(),
    };
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(collector)
        .with_endpoint(destination.url.as_str())
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(destination.timeout)
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter ({e})"))?;
    exporter.set_resource(&resource(destination));
    let batch = span_data(trace);
    let result = futures_executor::block_on(exporter.export(batch));
    let _ = exporter.shutdown();
    result.map_err(|e| match errors.take() {
        Some(why) => why,
        None => e.to_string(),
    })
}

/// Whether a client built by `shell::http` for `built_for` reaches `collector` as one built for it.
fn reusable(built_for: &url::Url, collector: &url::Url, transport: &Transport) -> bool {
    let tls_ready = collector.scheme() == "http" || built_for.scheme() == "https";
    tls_ready && transport.proxy_for(built_for) == transport.proxy_for(collector)
}

fn resource(destination: &Destination) -> Resource {
    Resource::builder_empty()
        .with_service_name(destination.service_name.clone())
        .with_attributes(
            destination
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}

fn header_map(headers: &[(String, Zeroizing<String>)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name:?}: not an HTTP header name"))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("header {name}: the value is not a valid header value"))?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

/// The spans as the SDK's exporter takes them: ids, times and parentage as `core::otel` decided.
fn span_data(trace: &shape::Trace) -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("cronix")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let trace_id = TraceId::from_bytes(trace.trace_id);
    trace
        .spans
        .iter()
        .map(|span| {
            let mut events = SpanEvents::default();
            events.events = span
                .events
                .iter()
                .map(|e| opentelemetry::trace::Event::new(e.name, e.time, key_values(&e.attrs), 0))
                .collect();
            SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    SpanId::from_bytes(span.span_id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: span.parent.map_or(SpanId::INVALID, SpanId::from_bytes),
                parent_span_is_remote: false,
                span_kind: match span.kind {
                    Kind::Internal => SpanKind::Internal,
                    Kind::Client => SpanKind::Client,
                },
                name: Cow::Borrowed(span.name),
                start_time: span.start,
                end_time: span.end,
                attributes: key_values(&span.attrs),
                dropped_attributes_count: 0,
                events,
                links: SpanLinks::default(),
                status: match &span.status {
                    Status::Ok => OtelStatus::Ok,
                    Status::Error(why) => OtelStatus::error(why.clone()),
                },
                instrumentation_scope: scope.clone(),
            }
        })
        .collect()
}

fn key_values(attrs: &[shape::Attr]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|a| match &a.value {
            Value::Str(v) => KeyValue::new(a.key, v.clone()),
            Value::Int(v) => KeyValue::new(a.key, *v),
            Value::Float(v) => KeyValue::new(a.key, *v),
        })
        .collect()
}

/// Where the collector client leaves the reason of a failed POST (the exporter's own error says
/// only "network error").
#[derive(Debug, Default, Clone)]
struct CollectorErrors(std::sync::Arc<Mutex<Option<String>>>);

impl CollectorErrors {
    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// cronix's blocking client, as the exporter's `HttpClient`.
#[derive(Debug)]
struct Collector {
    client: reqwest::blocking::Client,
    headers: HeaderMap,
    deadline: Instant,
    errors: CollectorErrors,
}

impl Collector {
    fn fail(&self, why: String) -> HttpError {
        *self.errors.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
        why.into()
    }

    fn post(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let remaining = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| self.fail("the export deadline passed before the POST".into()))?;
        let url = request.uri().to_string();
        // Only the body's type from the exporter; every other header is ours.
        let mut headers = self.headers.clone();
        if let Some(kind) = request.headers().get(reqwest::header::CONTENT_TYPE) {
            headers.insert(reqwest::header::CONTENT_TYPE, kind.clone());
        }
        let body = request.into_body();
        let response = self
            .client
            .post(url)
            .headers(headers)
            .timeout(remaining)
            .body(body.to_vec())
            .send()
            .map_err(|e| {
                self.fail(format!(
                    "POST to the collector: {}",
                    http::describe_error(&e)
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            let _ = self.fail(format!("the collector answered HTTP {}", status.as_u16()));
        }
        // The body (a partial-success note) is never read: an unread body cannot stall the fire.
        Response::builder()
            .status(status.as_u16())
            .body(Bytes::new())
            .map_err(|e| self.fail(format!("collector response: {e}")))
    }
}

#[async_trait::async_trait]
impl HttpClient for Collector {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.post(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_endpoint_means_no_destination() {
        let config = OtelConfig::default();
        // The test process may have OTEL_* set; only the config path is checked here.
        if crate::env::OTEL_VARS
            .iter()
            .all(|v| crate::env::otel_var(v).is_none())
        {
            assert!(destination(Some(&config), None, &[]).unwrap().is_none());
        }
    }

    #[test]
    fn the_config_endpoint_gets_the_traces_path_and_the_default_deadline() {
        let config = OtelConfig {
            endpoint: Some("http://127.0.0.1:4318".into()),
            service_name: Some("billing-cron".into()),
            ..OtelConfig::default()
        };
        let d = destination(Some(&config), None, &[]).unwrap().unwrap();
        assert_eq!(d.url.as_str(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(d.timeout, Duration::from_millis(DEFAULT_OTEL_TIMEOUT_MS));
        assert_eq!(d.service_name, "billing-cron");
        assert_eq!(d.source, "config");
        assert!(!format!("{d:?}").contains("REDACT"), "no header values");
    }

    #[test]
    fn headers_never_go_over_plain_http_to_a_remote_collector_unless_allowed() {
        let config = OtelConfig {
            endpoint: Some("http://otel.internal:4318".into()),
            headers: [("X-Token".to_string(), "raw:abc".to_string())].into(),
            ..OtelConfig::default()
        };
        let refused = destination(Some(&config), None, &[]).unwrap_err();
        assert!(refused.contains("allow_http_hosts"), "{refused}");
        assert!(!refused.contains("abc"), "{refused}");
        let allowed = destination(Some(&config), None, &["otel.internal".to_string()]);
        assert!(allowed.unwrap().is_some());
    }

    #[test]
    fn the_fires_client_is_reused_only_when_it_reaches_the_collector_the_same_way() {
        let url = |u: &str| url::Url::parse(u).unwrap();
        let none = Transport::default();
        let local = url("http://127.0.0.1:4318/v1/traces");
        assert!(reusable(&url("http://127.0.0.1:9/x"), &local, &none));
        assert!(reusable(&url("https://app.example/x"), &local, &none));
        let tls = url("https://otel.example/v1/traces");
        assert!(
            !reusable(&url("http://127.0.0.1:9/x"), &tls, &none),
            "no TLS roots"
        );
        assert!(reusable(&url("https://app.example/x"), &tls, &none));
        let proxied = Transport {
            proxy: Some(url("http://10.0.0.1:3128")),
            ca_file: None,
        };
        assert!(
            !reusable(&url("http://127.0.0.1:9/x"), &tls, &proxied),
            "proxy differs"
        );
        assert!(reusable(&url("https://app.example/x"), &tls, &proxied));
    }

    #[test]
    fn spans_keep_their_ids_and_parents() {
        let trace = shape::Trace {
            trace_id: [7; 16],
            spans: vec![shape::Span {
                name: shape::ATTEMPT_SPAN,
                kind: Kind::Client,
                span_id: [1; 8],
                parent: Some([2; 8]),
                start: std::time::SystemTime::UNIX_EPOCH,
                end: std::time::SystemTime::UNIX_EPOCH,
                attrs: vec![],
                events: vec![],
                status: Status::Error("HTTP 500".into()),
            }],
        };
        let data = span_data(&trace);
        assert_eq!(data[0].span_context.span_id(), SpanId::from_bytes([1; 8]));
        assert_eq!(data[0].parent_span_id, SpanId::from_bytes([2; 8]));
        assert_eq!(
            data[0].span_context.trace_id(),
            TraceId::from_bytes([7; 16])
        );
    }
}
