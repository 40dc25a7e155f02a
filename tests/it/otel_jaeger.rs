//! `trigger --otel` end to end. Against a real Jaeger (all-in-one v1.75.0, OTLP/HTTP in, its query API
//! out; built once by `.ci/jaeger`, which `.ci/run` calls): a successful fire, a 500-then-200 fire, a
//! 422 fire, a contended `Forbid` fire and a global-scope fire (real `redis-server`) each come back as
//! one trace with the reference's names, attributes and parentage, and the app's server saw a
//! `traceparent` whose parent id is the attempt span's id. Those tests need the binary and are
//! `#[ignore]`d with the reason (CI runs them with `--ignored`).
//!
//! Without Jaeger (they run everywhere): a collector that is down or never answers leaves the fire's
//! exit code, history and timing alone (one warn line); a scripted collector sees one protobuf POST
//! with the configured header and nothing from the environment's headers or proxy; `--otel` without
//! an endpoint does nothing.

use crate::redis_support;
use crate::support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{APP, Fixture, JOB, Reply, SECRET_ENV, SENTINEL, Server};

const PATH: &str = "/api/v1/scheduled/settle?region=eu&access_token=query-credential-77";

fn jaeger_bin() -> PathBuf {
    std::env::var_os("CRONIX_JAEGER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/cronix-jaeger/jaeger"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Jaeger all-in-one on free loopback ports, memory storage, killed when dropped.
struct Jaeger {
    child: Child,
    otlp_port: u16,
    query_port: u16,
    _dir: tempfile::TempDir,
}

impl Jaeger {
    fn start() -> Jaeger {
        let bin = jaeger_bin();
        assert!(
            bin.exists(),
            "{} is missing: run .ci/jaeger (as root) first",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let (otlp_port, query_port, grpc_port) = (free_port(), free_port(), free_port());
        let config = format!(
            "service:\n  extensions: [jaeger_storage, jaeger_query]\n  pipelines:\n    traces:\n      \
             receivers: [otlp]\n      exporters: [jaeger_storage_exporter]\n  telemetry:\n    \
             metrics:\n      level: none\n    logs:\n      level: error\n\
             extensions:\n  jaeger_query:\n    storage:\n      traces: mem\n    http:\n      \
             endpoint: 127.0.0.1:{query_port}\n    grpc:\n      endpoint: 127.0.0.1:{grpc_port}\n  \
             jaeger_storage:\n    backends:\n      mem:\n        memory:\n          max_traces: 1000\n\
             receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{otlp_port}\n\
             exporters:\n  jaeger_storage_exporter:\n    trace_storage: mem\n"
        );
        let path = dir.path().join("jaeger.yaml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(&bin)
            .arg("--config")
            .arg(format!("file:{}", path.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let jaeger = Jaeger {
            child,
            otlp_port,
            query_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&format!("{}/api/services", jaeger.query())).is_none()
            || std::net::TcpStream::connect(("127.0.0.1", otlp_port)).is_err()
        {
            assert!(Instant::now() < deadline, "jaeger did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        jaeger
    }

    fn query(&self) -> String {
        format!("http://127.0.0.1:{}", self.query_port)
    }

    fn otlp(&self) -> String {
        format!("http://127.0.0.1:{}", self.otlp_port)
    }

    /// The trace of `run_id` once it holds `spans` spans (Jaeger stores spans as they arrive).
    fn trace(&self, run_id: &str, spans: usize) -> Trace {
        let id = run_id.replace('-', "");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(body) = get(&format!("{}/api/traces/{id}", self.query())) {
                let doc: Value = serde_json::from_str(&body).unwrap();
                let data = doc["data"].as_array().cloned().unwrap_or_default();
                assert!(data.len() <= 1, "one trace per run id: {body}");
                if let Some(trace) = data.first()
                    && trace["spans"].as_array().map_or(0, Vec::len) >= spans
                {
                    return Trace::from_jaeger(trace, body);
                }
            }
            assert!(
                Instant::now() < deadline,
                "trace {id} with {spans} spans never appeared"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> Option<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let response = client.get(url).send().ok()?;
    response
        .status()
        .is_success()
        .then(|| response.text().ok())
        .flatten()
}

/// One span as Jaeger returns it.
#[derive(Debug, Clone)]
struct Span {
    id: String,
    name: String,
    parent: Option<String>,
    tags: BTreeMap<String, Value>,
    events: Vec<BTreeMap<String, Value>>,
    service: String,
}

impl Span {
    fn tag(&self, key: &str) -> &Value {
        self.tags
            .get(key)
            .unwrap_or_else(|| panic!("{} has no tag {key}: {:?}", self.name, self.tags))
    }

    fn str(&self, key: &str) -> &str {
        self.tag(key).as_str().unwrap()
    }

    fn int(&self, key: &str) -> i64 {
        self.tag(key).as_i64().unwrap()
    }

    fn event_names(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    }
}

struct Trace {
    spans: Vec<Span>,
    raw: String,
}

impl Trace {
    fn from_jaeger(trace: &Value, raw: String) -> Trace {
        let processes = &trace["processes"];
        let spans = trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let tags = s["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| (t["key"].as_str().unwrap().to_string(), t["value"].clone()))
                    .collect();
                let events = s["logs"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| {
                        l["fields"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|f| (f["key"].as_str().unwrap().to_string(), f["value"].clone()))
                            .collect()
                    })
                    .collect();
                let parent = s["references"].as_array().and_then(|refs| {
                    refs.iter()
                        .find(|r| r["refType"] == "CHILD_OF")
                        .map(|r| r["spanID"].as_str().unwrap().to_string())
                });
                let process = s["processID"].as_str().unwrap();
                Span {
                    id: s["spanID"].as_str().unwrap().to_string(),
                    name: s["operationName"].as_str().unwrap().to_string(),
                    parent,
                    tags,
                    events,
                    service: processes[process]["serviceName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                }
            })
            .collect();
        Trace { spans, raw }
    }

    fn root(&self) -> &Span {
        let roots: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.name == "cronix.trigger.fire")
            .collect();
        assert_eq!(roots.len(), 1, "{:?}", self.spans);
        assert_eq!(roots[0].parent, None);
        roots[0]
    }

    /// The attempt spans, by `cronix.attempt`.
    fn attempts(&self) -> Vec<&Span> {
        let mut attempts: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.name == "cronix.trigger.attempt")
            .collect();
        attempts.sort_by_key(|s| s.int("cronix.attempt"));
        attempts
    }

    /// Names, parentage and the things that must never be in a span.
    fn check_common(&self, outcome: &str, attempts: usize) {
        let root = self.root();
        assert_eq!(root.service, "cronix-e2e");
        assert_eq!(root.str("cronix.app"), APP);
        assert_eq!(root.str("cronix.job"), JOB);
        assert_eq!(root.str("cronix.schedule"), "* * * * *");
        assert_eq!(root.str("cronix.backend"), "crontab");
        assert_eq!(root.int("cronix.timeout_seconds"), 5);
        assert_eq!(root.str("cronix.concurrency_policy"), "Forbid");
        assert_eq!(root.int("cronix.max_attempts"), 3);
        assert_eq!(root.str("cronix.outcome"), outcome);
        assert_eq!(root.int("cronix.attempts_made"), attempts as i64);
        for key in ["cronix.intended_fire_time", "cronix.actual_fire_time"] {
            let value = root.str(key);
            assert!(value.parse::<jiff::Timestamp>().is_ok(), "{key} {value}");
        }
        let status = if outcome == "success" { "OK" } else { "ERROR" };
        assert_eq!(root.str("otel.status_code"), status);
        assert!(
            root.event_names()
                .contains(&"cronix.secrets.resolved".to_string())
        );
        for span in &self.spans {
            assert!(span.name.starts_with("cronix.trigger."), "{}", span.name);
            if span.parent.is_some() {
                assert_eq!(
                    span.parent.as_deref(),
                    Some(root.id.as_str()),
                    "{}",
                    span.name
                );
            }
        }
        assert_eq!(self.attempts().len(), attempts);
        for secret in [SENTINEL, "query-credential-77", "v1=", "collector-token-31"] {
            assert!(!self.raw.contains(secret), "{secret} is in the trace");
        }
    }
}

/// A fixture whose config exports to `endpoint` (named `cronix-e2e`).
fn fixture(endpoint: &str, extra: &str) -> Fixture {
    let fx = Fixture::new();
    fx.write_config(&format!(
        "version: 1\notel:\n  endpoint: {endpoint}\n  service_name: cronix-e2e\n  \
         resource_attributes:\n    deployment.environment: e2e\n{extra}"
    ));
    fx
}

fn otel_command(fx: &Fixture) -> Command {
    let mut cmd = Command::new(support::cronix_bin());
    cmd.arg("--config")
        .arg(fx.config())
        .arg("trigger")
        .arg("--spec-dir")
        .arg(fx.spec_dir())
        .arg("--otel")
        .arg(format!("{APP}.{JOB}"))
        .env(SECRET_ENV, SENTINEL)
        .env("HOME", fx.dir.path())
        .env_remove("CRONIX_CONFIG");
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn fire(fx: &Fixture) -> (Output, String) {
    let out = otel_command(fx).output().unwrap();
    let run_id = fx
        .history()
        .last()
        .map(|r| r.run_id.clone())
        .unwrap_or_default();
    (out, run_id)
}

/// The attempt span of attempt `n` is the parent named in that attempt's `traceparent`.
fn check_traceparents(trace: &Trace, server: &Server, run_id: &str) {
    let got = server.received();
    let attempts = trace.attempts();
    assert_eq!(got.len(), attempts.len());
    for (request, span) in got.iter().zip(attempts) {
        assert_eq!(request.verified, Ok(0), "the app verified the signature");
        let header = request.header("traceparent").unwrap();
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts[1], run_id.replace('-', ""), "trace id = run id");
        assert_eq!(
            parts[2], span.id,
            "the handler's parent is the attempt span"
        );
        assert_eq!(span.str("http.request.method"), "POST");
        assert_eq!(
            span.str("url.full"),
            server.url("/api/v1/scheduled/settle?region=eu&access_token=REDACTED")
        );
        assert_eq!(span.event_names(), ["cronix.sign.completed"]);
    }
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn a_successful_fire_is_one_trace_in_the_reference_shape() {
    let jaeger = Jaeger::start();
    let server = Server::start(vec![Reply::status(200)]);
    let fx = fixture(&jaeger.otlp(), "");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let (out, run_id) = fire(&fx);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = jaeger.trace(&run_id, 2);
    trace.check_common("success", 1);
    let root = trace.root();
    assert_eq!(root.str("cronix.run_id"), run_id);
    assert_eq!(root.str("cronix.concurrency_scope"), "host");
    let lock_events: Vec<_> = root
        .events
        .iter()
        .filter(|e| e["event"] == "cronix.lock.acquired")
        .collect();
    assert_eq!(lock_events.len(), 1);
    assert_eq!(lock_events[0]["cronix.lock.scope"], "host");
    assert!(lock_events[0]["cronix.lock.duration_ms"].is_i64());
    let attempt = trace.attempts()[0];
    assert_eq!(attempt.int("cronix.attempt"), 1);
    assert_eq!(attempt.int("http.response.status_code"), 200);
    assert_eq!(attempt.str("otel.status_code"), "OK");
    assert_eq!(attempt.str("span.kind"), "client");
    assert!(!attempt.tags.contains_key("cronix.retry_reason"));
    assert_eq!(attempt.tag("cronix.backoff_seconds").as_f64(), Some(0.0));
    assert_eq!(trace.spans.len(), 2, "no lock span on host scope");
    check_traceparents(&trace, &server, &run_id);
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn a_500_then_200_fire_has_two_attempt_spans_with_the_retry_and_backoff() {
    let jaeger = Jaeger::start();
    let server = Server::start(vec![Reply::status(500), Reply::status(200)]);
    let fx = fixture(&jaeger.otlp(), "");
    let retries = json!({"retries": {"max_attempts": 3, "min_seconds": 1, "max_seconds": 1}});
    fx.write_spec(&fx.spec(&server.url(PATH), retries));

    let (out, run_id) = fire(&fx);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let trace = jaeger.trace(&run_id, 3);
    trace.check_common("success", 2);
    let attempts = trace.attempts();
    assert_eq!(attempts[0].int("http.response.status_code"), 500);
    assert_eq!(attempts[0].str("cronix.retry_reason"), "5xx");
    assert_eq!(attempts[0].str("otel.status_code"), "ERROR");
    assert_eq!(
        attempts[0].tag("cronix.backoff_seconds").as_f64(),
        Some(0.0)
    );
    assert_eq!(attempts[1].int("http.response.status_code"), 200);
    assert_eq!(attempts[1].str("otel.status_code"), "OK");
    assert!(!attempts[1].tags.contains_key("cronix.retry_reason"));
    let backoff = attempts[1].tag("cronix.backoff_seconds").as_f64().unwrap();
    assert!(backoff > 0.0 && backoff <= 1.0, "backoff {backoff}");
    check_traceparents(&trace, &server, &run_id);
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn a_422_fire_is_app_rejected() {
    let jaeger = Jaeger::start();
    let server = Server::start(vec![Reply::status(422)]);
    let fx = fixture(&jaeger.otlp(), "");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let (out, run_id) = fire(&fx);

    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let trace = jaeger.trace(&run_id, 2);
    trace.check_common("app_rejected", 1);
    let attempt = trace.attempts()[0];
    assert_eq!(attempt.int("http.response.status_code"), 422);
    assert_eq!(attempt.str("otel.status_code"), "ERROR");
    assert!(!attempt.tags.contains_key("cronix.retry_reason"));
    check_traceparents(&trace, &server, &run_id);
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn a_contended_forbid_fire_is_lock_contended_with_no_attempt() {
    let jaeger = Jaeger::start();
    let server = Server::start(vec![Reply::status(200).after(Duration::from_secs(3))]);
    let fx = fixture(&jaeger.otlp(), "");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));
    let mut holder = fx.spawn_trigger();
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);

    let out = otel_command(&fx).output().unwrap();

    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(holder.wait().unwrap().code(), Some(0));
    let contended = fx
        .history()
        .into_iter()
        .find(|r| r.exit_code == 4)
        .expect("the contended fire is recorded");
    let trace = jaeger.trace(&contended.run_id, 1);
    trace.check_common("lock_contended", 0);
    assert_eq!(trace.spans.len(), 1);
    assert!(
        !trace
            .root()
            .event_names()
            .contains(&"cronix.lock.acquired".to_string())
    );
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn a_global_scope_fire_has_a_lock_span_against_a_real_redis() {
    assert!(
        redis_support::available("otel global scope"),
        "redis-server is needed (apt-get install redis-server; .ci/run installs it)"
    );
    let jaeger = Jaeger::start();
    let redis = redis_support::RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let locks = format!(
        "locks:\n  redis:\n    addr: {}\n    allow_unauthenticated: true\n",
        redis.addr()
    );
    let fx = fixture(&jaeger.otlp(), &locks);
    fx.write_spec(&fx.spec(&server.url(PATH), json!({"concurrency_scope": "global"})));

    let (out, run_id) = fire(&fx);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let trace = jaeger.trace(&run_id, 3);
    trace.check_common("success", 1);
    assert_eq!(trace.root().str("cronix.concurrency_scope"), "global");
    let locks: Vec<&Span> = trace
        .spans
        .iter()
        .filter(|s| s.name == "cronix.trigger.lock")
        .collect();
    assert_eq!(locks.len(), 1);
    let lock = locks[0];
    assert_eq!(lock.str("cronix.lock.backend"), "redis");
    assert_eq!(lock.str("cronix.lock.scope"), "global");
    assert_eq!(
        lock.str("cronix.lock.key"),
        format!("cronix:lock:{APP}.{JOB}")
    );
    assert_eq!(lock.str("cronix.lock.outcome"), "acquired");
    assert_eq!(lock.int("cronix.lock.ttl_seconds"), 10);
    assert_eq!(lock.str("otel.status_code"), "OK");
    assert!(
        !trace
            .root()
            .event_names()
            .contains(&"cronix.lock.acquired".to_string()),
        "global scope has a span, not the host event"
    );
    check_traceparents(&trace, &server, &run_id);
}

#[test]
#[ignore = "needs the Jaeger binary built by .ci/jaeger (run .ci/run)"]
fn the_standard_variables_configure_the_export_when_the_config_does_not() {
    let jaeger = Jaeger::start();
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = otel_command(&fx)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp())
        .env("OTEL_SERVICE_NAME", "cronix-e2e")
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=e2e")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let run_id = fx.history()[0].run_id.clone();
    let trace = jaeger.trace(&run_id, 2);
    trace.check_common("success", 1);
}

// ---- without Jaeger ----

/// One POST a fake collector received: path, lowercased headers, body size.
type Post = (String, BTreeMap<String, String>, usize);

/// A collector that records each POST and answers `status`.
struct FakeCollector {
    port: u16,
    seen: Arc<Mutex<Vec<Post>>>,
}

impl FakeCollector {
    fn start(status: u16) -> FakeCollector {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                let headers = request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect();
                sink.lock()
                    .unwrap()
                    .push((request.url().to_string(), headers, body.len()));
                let _ = request.respond(tiny_http::Response::empty(status));
            }
        });
        FakeCollector { port, seen }
    }
}

#[test]
fn the_export_sends_the_configured_header_and_ignores_the_environments_headers_and_proxy() {
    let collector = FakeCollector::start(200);
    let server = Server::start(vec![Reply::status(200)]);
    let fx = fixture(
        &format!("http://127.0.0.1:{}", collector.port),
        "  headers:\n    X-Collector-Token: env:OTEL_TEST_TOKEN\n",
    );
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = otel_command(&fx)
        .env("OTEL_TEST_TOKEN", "collector-token-31")
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-from-env=planted")
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-from-env-traces=planted",
        )
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = collector.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one POST per fire");
    let (path, headers, size) = &seen[0];
    assert_eq!(path, "/v1/traces");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["x-collector-token"], "collector-token-31");
    assert!(!headers.contains_key("x-from-env"), "{headers:?}");
    assert!(!headers.contains_key("x-from-env-traces"), "{headers:?}");
    assert!(*size > 100, "a trace was sent ({size} bytes)");
    let history = std::fs::read_to_string(fx.history_path()).unwrap();
    assert!(!history.contains("collector-token-31"));
}

#[test]
fn a_collector_that_is_down_changes_nothing_but_one_warn_line() {
    let dead = free_port();
    let server = Server::start(vec![Reply::status(200)]);
    let fx = fixture(&format!("http://127.0.0.1:{dead}"), "");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let started = Instant::now();
    let out = otel_command(&fx).output().unwrap();
    let took = started.elapsed();

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warns: Vec<&str> = stderr.lines().collect();
    assert_eq!(warns.len(), 1, "{stderr}");
    let line: Value = serde_json::from_str(warns[0]).unwrap();
    assert_eq!(line["level"], "warn");
    assert!(line["msg"].as_str().unwrap().contains("trace"), "{line}");
    let record = &fx.history()[0];
    assert_eq!(record.exit_code, 0);
    assert_eq!(record.http_status, Some(200));
}

#[test]
fn a_collector_that_never_answers_costs_at_most_the_export_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts connections (the kernel's backlog) and never reads or answers.
    let server = Server::start(vec![Reply::status(200)]);
    let fx = fixture(&format!("http://127.0.0.1:{port}"), "  timeout_ms: 700\n");
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let started = Instant::now();
    let out = otel_command(&fx).output().unwrap();
    let took = started.elapsed();

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_millis(700 + 1500),
        "took {took:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert_eq!(fx.history()[0].exit_code, 0);
    drop(listener);
}

#[test]
fn otel_without_an_endpoint_does_nothing() {
    let server = Server::start(vec![Reply::status(200)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&server.url(PATH), json!({})));

    let out = otel_command(&fx).output().unwrap();

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn apply_renders_otel_into_the_entries_when_the_config_asks_and_the_line_exports() {
    let collector = FakeCollector::start(200);
    let server = Server::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let env_file = root.join("secrets.env");
    std::fs::write(&env_file, format!("SHOP_CRON={SENTINEL}\n")).unwrap();
    std::fs::set_permissions(
        &env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let config = root.join("cronix.yaml");
    let write_config = |render: bool| {
        std::fs::write(
            &config,
            format!(
                "version: 1\ncrontab_path: crontab\ncrontab_format: user\nspec_dir: jobs\n\
                 lock_dir: locks\nstate_dir: state\nenv_file: secrets.env\n\
                 secret_refs: [env:SHOP_CRON]\notel:\n  endpoint: http://127.0.0.1:{}\n  \
                 render_in_entries: {render}\n",
                collector.port
            ),
        )
        .unwrap();
    };
    let manifest = root.join("m.json");
    std::fs::write(
        &manifest,
        format!(
            r#"{{"version":1,"app":"shop","jobs":[{{"name":"sweep","schedule":"@hourly","request":{{"url":"{}","body":"{{}}"}}}}]}}"#,
            server.url("/cron/sweep")
        ),
    )
    .unwrap();
    let apply = || {
        let out = Command::new(support::cronix_bin())
            .env_remove("CRONIX_CONFIG")
            .arg("--config")
            .arg(&config)
            .arg("apply")
            .arg("--manifest")
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let crontab = std::fs::read_to_string(root.join("crontab")).unwrap();
        crontab
            .lines()
            .find(|l| l.ends_with("shop.sweep"))
            .unwrap()
            .to_string()
    };

    write_config(false);
    let plain = apply();
    assert!(!plain.contains("--otel"), "{plain}");
    write_config(true);
    let line = apply();
    assert_eq!(line, plain.replace(" shop.sweep", " --otel shop.sweep"));

    // The line's command as cron runs it: a bare environment.
    let words: Vec<&str> = line.split(' ').skip(5).collect();
    let fire = Command::new(words[0])
        .args(&words[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", root.join("no-home"))
        .output()
        .unwrap();
    assert_eq!(fire.status.code(), Some(0), "{fire:?}");
    assert!(
        fire.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&fire.stderr)
    );
    assert_eq!(server.received().len(), 1);
    let seen = collector.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "the fire exported its trace");
    assert_eq!(seen[0].0, "/v1/traces");
}
