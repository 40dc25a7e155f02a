//! Fetching a manifest from an app's endpoint: the GET is signed with the operator's secret over the
//! URL's real path and query, verified here by a local server with the project's verifier.

use std::sync::{Arc, Mutex};
use std::thread;

use assert_cmd::Command;
use cronix::core::secret::Secret;
use cronix::core::signature;

const SECRET: &str = "whsec_fetch_test_secret_0123456789";
const MANIFEST: &str = r#"{"version":1,"app":"shop","jobs":[{"name":"sweep","schedule":"@hourly","request":{"url":"https://shop.example.com/cron/sweep"}}]}"#;

enum Reply {
    VerifiedManifest,
    Redirect,
    Huge,
}

/// What the server saw: the request target and the signature header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A one-request-at-a-time server on 127.0.0.1 that records what it saw.
struct Server {
    url: String,
    seen: Seen,
}

fn serve(reply: Reply, requests: usize) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for request in server.incoming_requests().take(requests) {
            let header = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Cron-Signature"))
                .map(|h| h.value.as_str().to_string());
            log.lock()
                .unwrap()
                .push((request.url().to_string(), header.clone()));
            let response = match reply {
                Reply::VerifiedManifest => {
                    let now = jiff::Timestamp::now().as_second();
                    let ok = signature::verify(
                        &[Secret::new(SECRET.as_bytes().to_vec())],
                        header.as_deref(),
                        request.method().as_str(),
                        request.url(),
                        b"",
                        now,
                        300,
                    );
                    match ok {
                        Ok(_) => tiny_http::Response::from_string(MANIFEST).with_status_code(200),
                        Err(_) => tiny_http::Response::from_string("no").with_status_code(401),
                    }
                }
                Reply::Redirect => tiny_http::Response::from_string("")
                    .with_status_code(302)
                    .with_header(
                        "Location: http://127.0.0.1:1/elsewhere"
                            .parse::<tiny_http::Header>()
                            .unwrap(),
                    ),
                Reply::Huge => tiny_http::Response::from_data(vec![b' '; 11 * 1024 * 1024])
                    .with_status_code(200),
            };
            let _ = request.respond(response);
        }
    });
    Server { url, seen }
}

/// `cronix` with an empty operator config of its own (kept alive by the returned dir).
fn cronix() -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cronix.yaml");
    std::fs::write(&config, "").unwrap();
    let mut cmd = Command::cargo_bin("cronix").unwrap();
    cmd.env("CRONIX_CONFIG", &config);
    (dir, cmd)
}

fn validate(url: &str, secret: &str) -> std::process::Output {
    let (_dir, mut cmd) = cronix();
    cmd.env("FETCH_SECRET", secret)
        .args([
            "validate",
            "--canonical",
            "--secret-ref",
            "env:FETCH_SECRET",
            url,
        ])
        .output()
        .unwrap()
}

#[test]
fn a_signed_fetch_over_path_and_query_is_accepted() {
    let server = serve(Reply::VerifiedManifest, 1);
    let out = validate(
        &format!("{}/.well-known/cron-manifest?env=prod", server.url),
        SECRET,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with(r#"{"version":1,"app":"shop""#)
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].0, "/.well-known/cron-manifest?env=prod");
    assert!(
        seen[0]
            .1
            .as_deref()
            .is_some_and(|h| h.starts_with("t=") && h.contains(",v1="))
    );
}

#[test]
fn a_wrong_secret_is_rejected_with_exit_4_and_no_secret_in_output() {
    let server = serve(Reply::VerifiedManifest, 1);
    let out = validate(
        &format!("{}/.well-known/cron-manifest", server.url),
        "not-the-right-secret",
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = [out.stdout, out.stderr].concat();
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("not-the-right-secret"));
}

#[test]
fn redirects_are_not_followed() {
    let server = serve(Reply::Redirect, 1);
    let out = validate(&format!("{}/.well-known/cron-manifest", server.url), SECRET);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("redirect"));
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[test]
fn bodies_over_10_mib_are_refused_not_truncated() {
    let server = serve(Reply::Huge, 1);
    let out = validate(&format!("{}/.well-known/cron-manifest", server.url), SECRET);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10 MiB"));
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_any_request() {
    let out = validate("http://cron.example.com/.well-known/cron-manifest", SECRET);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn a_fetch_without_any_operator_secret_is_refused() {
    let (_dir, mut cmd) = cronix();
    let out = cmd
        .args(["validate", "http://127.0.0.1:9/.well-known/cron-manifest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-ref"));
}

/// A raw server that sends the head of a 1000-byte answer at once, then one byte of it every 0.5 s.
fn trickling_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                );
                for _ in 0..1000 {
                    if stream
                        .write_all(b" ")
                        .and_then(|()| stream.flush())
                        .is_err()
                    {
                        return;
                    }
                    thread::sleep(std::time::Duration::from_millis(500));
                }
            });
        }
    });
    url
}

#[test]
fn a_body_that_trickles_in_is_cut_off_by_the_whole_fetch_limit() {
    let url = trickling_server();
    let started = std::time::Instant::now();
    let out = validate(&format!("{url}/.well-known/cron-manifest"), SECRET);
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(31),
        "the fetch ran for {took:?}"
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("longer than 30 s"), "{stderr}");
}
