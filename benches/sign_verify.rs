//! Sign and verify throughput on 256 B and 1 MiB bodies, beside `openssl dgst -sha256 -hmac` on the
//! same bytes (the canonical payload), in one run: `cargo bench --bench sign_verify`.
//!
//! openssl is timed per process (what a shell receiver pays) and on 64 MiB (its steady hashing
//! rate). Each openssl digest is also checked against cronix's signature of the same payload.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cronix::core::secret::Secret;
use cronix::core::signature::{canonical_payload, sign, verify};

const KEY: &str = "whsec_bench_0123456789abcdef0123456789abcdef";
const TS: i64 = 1_730_000_000;
const METHOD: &str = "POST";
const PATH: &str = "/api/v1/scheduled/settle-invoices";
const MIN_TIME: Duration = Duration::from_millis(1500);

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Run `op` until `MIN_TIME` has passed; return seconds per call.
fn per_call(mut op: impl FnMut()) -> f64 {
    op();
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < MIN_TIME {
        op();
        calls += 1;
    }
    start.elapsed().as_secs_f64() / calls as f64
}

fn row(what: &str, size: usize, seconds: f64) {
    let mib_s = size as f64 / seconds / (1024.0 * 1024.0);
    println!(
        "{what:<44} {:>10.2} µs/op {:>12.0} ops/s {:>9.1} MiB/s",
        seconds * 1e6,
        1.0 / seconds,
        mib_s
    );
}

fn openssl_hmac(file: &Path) -> Option<String> {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", KEY, "-r"])
        .arg(file)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().next().map(str::to_string)
}

fn bench_size(label: &str, len: usize, dir: &Path) {
    let secret = Secret::new(KEY.as_bytes().to_vec());
    let data = body(len);
    let header = sign(&secret, TS, METHOD, PATH, &data);
    let others = [Secret::new(b"old-secret".to_vec()), secret.clone()];
    let payload_len = canonical_payload(TS, METHOD, PATH, &data).len();

    row(
        &format!("cronix sign        {label}"),
        payload_len,
        per_call(|| {
            black_box(sign(&secret, TS, METHOD, black_box(PATH), black_box(&data)));
        }),
    );
    row(
        &format!("cronix verify      {label}"),
        payload_len,
        per_call(|| {
            let ok = verify(
                std::slice::from_ref(&secret),
                Some(header.expose()),
                METHOD,
                PATH,
                black_box(&data),
                TS,
                300,
            );
            assert_eq!(black_box(ok), Ok(0));
        }),
    );
    row(
        &format!("cronix verify 2nd of 2 secrets {label}"),
        payload_len,
        per_call(|| {
            let ok = verify(
                &others,
                Some(header.expose()),
                METHOD,
                PATH,
                black_box(&data),
                TS,
                300,
            );
            assert_eq!(black_box(ok), Ok(1));
        }),
    );

    let file = dir.join(format!("payload-{len}"));
    std::fs::write(&file, canonical_payload(TS, METHOD, PATH, &data)).unwrap();
    match openssl_hmac(&file) {
        Some(hex) => {
            let ours = header
                .expose()
                .split_once(",v1=")
                .map(|(_, v)| v.to_string());
            assert_eq!(Some(hex), ours, "openssl and cronix disagree on the HMAC");
            row(
                &format!("openssl dgst -hmac (one process) {label}"),
                payload_len,
                per_call(|| {
                    black_box(openssl_hmac(&file));
                }),
            );
        }
        None => println!("openssl not found: skipped"),
    }
}

fn bench_openssl_steady(dir: &Path) {
    let chunk = body(1 << 20);
    let big = dir.join("payload-64MiB");
    std::fs::write(&big, chunk.repeat(64)).unwrap();
    if openssl_hmac(&big).is_none() {
        return;
    }
    row(
        "openssl dgst -hmac (one process) 64 MiB",
        64 << 20,
        per_call(|| {
            black_box(openssl_hmac(&big));
        }),
    );
    let secret = Secret::new(KEY.as_bytes().to_vec());
    let data = chunk.repeat(64);
    row(
        "cronix sign        64 MiB",
        64 << 20,
        per_call(|| {
            black_box(sign(&secret, TS, METHOD, PATH, black_box(&data)));
        }),
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    println!(
        "{:<44} {:>16} {:>18} {:>15}",
        "", "latency", "throughput", "payload rate"
    );
    bench_size("256 B", 256, dir.path());
    bench_size("1 MiB", 1 << 20, dir.path());
    bench_openssl_steady(dir.path());
}
