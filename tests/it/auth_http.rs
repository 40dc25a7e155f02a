//! A real HTTP round trip: `cronix sign` makes the header, a client sends the request over loopback
//! to a `tiny_http` server, and the server checks it twice — with the library's `verify` and by
//! running `cronix verify` on what it received, as a shell receiver would.

use crate::auth_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;

use auth_support::{Sandbox, run};
use cronix::core::secret::Secret;
use cronix::core::signature::{VerifyCode, verify};

const SECRET: &str = "whsec_http_test_5d1e0c";
const PATH: &str = "/api/v1/scheduled/settle-invoices?region=eu&dry=0";

/// What the server saw and decided for one request.
#[derive(Debug)]
struct Received {
    library: Result<usize, VerifyCode>,
    binary: serde_json::Value,
}

/// Serve `count` requests; each is verified with the library and with the binary.
fn serve(sandbox_config: std::path::PathBuf, count: usize) -> (u16, mpsc::Receiver<Received>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for _ in 0..count {
            let mut request = server.recv().unwrap();
            let mut body = Vec::new();
            request.as_reader().read_to_end(&mut body).unwrap();
            let header = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Cron-Signature"))
                .map(|h| h.value.as_str().to_string());
            let method = request.method().as_str().to_string();
            let path = request.url().to_string();
            let now = unix_now();
            let secrets = [Secret::new(SECRET.as_bytes().to_vec())];
            let library = verify(&secrets, header.as_deref(), &method, &path, &body, now, 300)
                .map_err(|e| e.code);
            let binary =
                verify_with_binary(&sandbox_config, header.as_deref(), &method, &path, &body);
            let status = if library.is_ok() { 204 } else { 401 };
            request.respond(tiny_http::Response::empty(status)).unwrap();
            tx.send(Received { library, binary }).unwrap();
        }
    });
    (port, rx)
}

fn verify_with_binary(
    config: &std::path::Path,
    header: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> serde_json::Value {
    let mut cmd = assert_cmd::Command::cargo_bin("cronix").unwrap();
    cmd.env_clear()
        .env("HTTP_TEST_SECRET", SECRET)
        .arg("--config")
        .arg(config)
        .args([
            "--secret-ref",
            "env:HTTP_TEST_SECRET",
            "-o",
            "json",
            "verify",
        ])
        .args(["--method", method, "--path", path, "--body-file", "-"])
        .write_stdin(body.to_vec());
    if let Some(h) = header {
        cmd.args(["--signature", h]);
    }
    let (_, stdout, _) = run(&mut cmd);
    serde_json::from_str(&stdout).unwrap()
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn sign_with_binary(sandbox: &Sandbox, timestamp: i64, body: &[u8]) -> String {
    let (code, stdout, stderr) = run(sandbox
        .cronix()
        .env("HTTP_TEST_SECRET", SECRET)
        .args([
            "--secret-ref",
            "env:HTTP_TEST_SECRET",
            "sign",
            "--method",
            "POST",
        ])
        .args(["--path", PATH, "--body-file", "-", "--timestamp"])
        .arg(timestamp.to_string())
        .write_stdin(body.to_vec()));
    assert_eq!(code, 0, "{stderr}");
    stdout.trim_end().to_string()
}

/// Send a raw HTTP/1.1 POST and return the response status.
fn post(port: u16, signature: Option<&str>, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(s) = signature {
        head.push_str(&format!("X-Cron-Signature: {s}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_signed_request_is_accepted_and_tampered_stale_or_unsigned_ones_are_refused() {
    let sandbox = Sandbox::new();
    let (port, received) = serve(sandbox.config.clone(), 4);
    let body = br#"{"invoices":[1,2,3],"note":"\u0000 binary \xff"}"#;

    let good = sign_with_binary(&sandbox, unix_now(), body);
    assert_eq!(post(port, Some(&good), body), 204);
    let seen = received.recv().unwrap();
    assert_eq!(seen.library, Ok(0));
    assert_eq!(
        seen.binary,
        serde_json::json!({"ok": true, "secret_index": 0})
    );

    assert_eq!(post(port, Some(&good), b"{\"invoices\":[1,2,4]}"), 401);
    let seen = received.recv().unwrap();
    assert_eq!(seen.library, Err(VerifyCode::SignatureMismatch));
    assert_eq!(seen.binary["code"], "SignatureMismatch");

    let stale = sign_with_binary(&sandbox, unix_now() - 3600, body);
    assert_eq!(post(port, Some(&stale), body), 401);
    let seen = received.recv().unwrap();
    assert_eq!(seen.library, Err(VerifyCode::StaleTimestamp));
    assert_eq!(seen.binary["code"], "StaleTimestamp");

    assert_eq!(post(port, None, body), 401);
    let seen = received.recv().unwrap();
    assert_eq!(seen.library, Err(VerifyCode::MissingSignature));
    assert_eq!(seen.binary["code"], "MissingSignature");
}
