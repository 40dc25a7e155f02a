//! What a peer on the Redis side can do to a global-scope fire, and what it no longer can: a rogue
//! listener on the Redis port (a huge array, a 1 GB bulk length, one byte at a time) ends within the
//! deadline with bounded memory and follows `on_unavailable`; the password goes only over TLS, a
//! unix socket or to loopback; a Redis without a password is refused unless the config opts out;
//! planted claims and leases make `check` report the instants as missed; a forged replace request
//! stops nobody; a unix socket whose listener's backlog is full holds a fire no longer than the
//! deadline. Real `redis-server` (TCP, TLS with a CA made here by `openssl`, a unix socket).

use crate::redis_support;
use crate::support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cronix::core::history::{RunRecord, RunStatus};
use redis_support::RedisServer;
use serde_json::{Value, json};
use support::{APP, Fixture, Reply, SECRET_ENV, SENTINEL, Server, wait_exit};

const PATH: &str = "/api/v1/scheduled/settle";
/// 2026-03-01T02:00:00Z, a minute boundary.
const T0: i64 = 1_772_330_400;
const PASSWORD: &str = "redis-pw-93ad1c55e0";
const PW_ENV: &str = "TEST_REDIS_PW";

struct Host {
    fx: Fixture,
}

impl Host {
    fn new(locks: &str) -> Host {
        let fx = Fixture::new();
        fx.write_config(&format!("version: 1\nhost_id: web-1\n{locks}"));
        Host { fx }
    }

    fn job(&self, url: &str, schedule: &str, policy: Value) -> PathBuf {
        let mut policy = policy;
        policy["concurrency_scope"] = json!("global");
        let mut spec = self.fx.spec(url, policy);
        spec["job"]["schedules"] = json!([schedule]);
        self.fx.write_spec(&spec)
    }

    fn command_of(&self, program: &str, pre: &[&str], now: i64) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(pre)
            .arg("--config")
            .arg(self.fx.config())
            .arg("trigger")
            .arg("--spec-dir")
            .arg(self.fx.spec_dir())
            .arg(format!("{APP}.settle"))
            .env(SECRET_ENV, SENTINEL)
            .env(PW_ENV, PASSWORD)
            .env("CRONIX_TEST_NOW", now.to_string())
            .env("HOME", self.fx.dir.path())
            .env_remove("CRONIX_CONFIG");
        cmd
    }

    fn command(&self, now: i64) -> Command {
        self.command_of(support::cronix_bin().to_str().unwrap(), &[], now)
    }

    fn fire(&self, now: i64) -> (Option<i32>, String) {
        let out = self.command(now).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn spawn(&self, now: i64) -> Child {
        self.command(now)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn history(&self) -> Vec<RunRecord> {
        self.fx.history()
    }

    /// `cronix -o json check --grace 1m` at `now`.
    fn check(&self, now: i64) -> (Option<i32>, Value) {
        let out = Command::new(support::cronix_bin())
            .arg("--config")
            .arg(self.fx.config())
            .args(["-o", "json", "check", "--grace", "1m", "--spec-dir"])
            .arg(self.fx.spec_dir())
            .env("CRONIX_TEST_NOW", now.to_string())
            .env_remove("CRONIX_CONFIG")
            .output()
            .unwrap();
        let doc = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), doc)
    }
}

fn redis_locks(addr: &str, extra: &str) -> String {
    format!("locks:\n  redis:\n    addr: {addr}\n    key_prefix: \"t:\"\n{extra}")
}

fn unauthenticated(redis: &RedisServer) -> String {
    redis_locks(&redis.addr(), "    allow_unauthenticated: true\n")
}

fn with_password(addr: &str, extra: &str) -> String {
    redis_locks(
        addr,
        &format!("    password_ref: env:{PW_ENV}\n    timeout_ms: 500\n{extra}"),
    )
}

/// What a rogue listener on the Redis port answers.
#[derive(Clone, Copy, Debug)]
enum Rogue {
    /// `*100000000` then integers as fast as the socket takes them.
    HugeArray,
    /// `$1000000000` then bytes as fast as the socket takes them.
    HugeBulk,
    /// One byte every 300 ms, never a full line.
    Trickle,
    /// Reads what comes and answers nothing.
    Silent,
}

/// A listener that answers every connection as `mode` says, for up to 20 s, and keeps what it
/// received.
struct Listener {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    fn start(ip: &str, mode: Rogue) -> Listener {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (r, c) = (Arc::clone(&received), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let r = Arc::clone(&r);
                std::thread::spawn(move || serve(stream, mode, &r));
            }
        });
        Listener {
            addr,
            received,
            connections,
        }
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, mode: Rogue, received: &Mutex<Vec<u8>>) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    if let Ok(n) = stream.read(&mut buf) {
        received.lock().unwrap().extend_from_slice(&buf[..n]);
    }
    let until = Instant::now() + Duration::from_secs(20);
    let (head, chunk, pause): (&[u8], Vec<u8>, u64) = match mode {
        Rogue::HugeArray => (b"*100000000\r\n", b":1\r\n".repeat(4096), 0),
        Rogue::HugeBulk => (b"$1000000000\r\n", vec![b'a'; 65536], 0),
        Rogue::Trickle => (b"", b"+".to_vec(), 300),
        Rogue::Silent => {
            while Instant::now() < until {
                match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => received.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            }
            return;
        }
    };
    if stream.write_all(head).is_err() {
        return;
    }
    while Instant::now() < until {
        if stream.write_all(&chunk).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// The peak RSS (KiB) of a fire run under `/usr/bin/time`, its exit code, stderr and wall time.
fn fire_measured(host: &Host, now: i64) -> (Option<i32>, String, u64, Duration) {
    let started = Instant::now();
    let out: Output = host
        .command_of(
            "/usr/bin/time",
            &["-f", "MAXRSS=%M", support::cronix_bin().to_str().unwrap()],
            now,
        )
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("MAXRSS="))
        .next_back()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    (out.status.code(), stderr, rss, elapsed)
}

#[test]
fn a_rogue_listener_on_the_redis_port_cannot_grow_or_hold_the_shim() {
    for mode in [Rogue::HugeArray, Rogue::HugeBulk, Rogue::Trickle] {
        let rogue = Listener::start("127.0.0.1", mode);
        let server = Server::start(vec![Reply::status(200)]);
        for (on_unavailable, want_code) in [("fail", 3), ("host", 0)] {
            let host = Host::new(&redis_locks(
                &rogue.addr.to_string(),
                &format!(
                    "    allow_unauthenticated: true\n    timeout_ms: 500\n    on_unavailable: \
                     {on_unavailable}\n"
                ),
            ));
            host.job(
                &server.url(PATH),
                "* * * * *",
                json!({"concurrency": "Forbid"}),
            );
            let (code, stderr, rss_kib, elapsed) = fire_measured(&host, T0);
            eprintln!(
                "{mode:?} on_unavailable {on_unavailable}: {elapsed:?}, peak RSS {rss_kib} KiB"
            );
            assert_eq!(code, Some(want_code), "{mode:?}: {stderr}");
            assert!(
                elapsed < Duration::from_secs(3),
                "{mode:?}: one 500 ms deadline per exchange, took {elapsed:?}"
            );
            assert!(rss_kib < 48 * 1024, "{mode:?}: peak RSS {rss_kib} KiB");
            let history = host.history();
            assert_eq!(history.len(), 1, "{mode:?}: the run is recorded");
            if want_code == 3 {
                assert_eq!(
                    (
                        history[0].status,
                        history[0].error.as_deref(),
                        history[0].attempts
                    ),
                    (RunStatus::Internal, Some("redis_unavailable"), 0),
                    "{mode:?}"
                );
            } else {
                assert_eq!(
                    (history[0].status, history[0].fallback.as_deref()),
                    (RunStatus::Ok, Some("host_lock")),
                    "{mode:?}"
                );
            }
        }
        assert_eq!(
            server.received().len(),
            1,
            "{mode:?}: only the host-lock fire sent"
        );
    }
}

/// A unix listener with backlog 0 at `path` that never accepts, its backlog filled by connecting
/// sockets held open (a further blocking connect waits for as long as they stay): the listener and
/// the fillers, kept alive together.
fn full_unix_listener(path: &Path) -> (rustix::fd::OwnedFd, Vec<rustix::fd::OwnedFd>) {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let addr = SocketAddrUnix::new(path).unwrap();
    let socket = || {
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .unwrap()
    };
    let listener = socket();
    rustix::net::bind(&listener, &addr).unwrap();
    rustix::net::listen(&listener, 0).unwrap();
    let mut fillers = Vec::new();
    let mut refused = false;
    for _ in 0..4 {
        let filler = socket();
        match rustix::net::connect(&filler, &addr) {
            Ok(()) => fillers.push(filler),
            Err(rustix::io::Errno::AGAIN) => refused = true,
            Err(e) => panic!("filling the backlog of {}: {e}", path.display()),
        }
    }
    assert!(refused, "the backlog of {} is full", path.display());
    (listener, fillers)
}

#[test]
fn a_unix_socket_whose_backlog_is_full_cannot_hold_the_shim() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("r.sock");
    let _held = full_unix_listener(&socket);
    let server = Server::start(vec![Reply::status(200)]);
    for (on_unavailable, want_code) in [("fail", 3), ("host", 0)] {
        let host = Host::new(&redis_locks(
            &format!("unix://{}", socket.display()),
            &format!(
                "    allow_unauthenticated: true\n    timeout_ms: 500\n    on_unavailable: \
                 {on_unavailable}\n"
            ),
        ));
        host.job(
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Forbid"}),
        );
        let started = Instant::now();
        let mut child = host.spawn(T0);
        let status = support::wait_exit(&mut child, Duration::from_secs(10));
        let elapsed = started.elapsed();
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("on_unavailable {on_unavailable}: the fire still hung after {elapsed:?}");
        }
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        eprintln!("full backlog, on_unavailable {on_unavailable}: {elapsed:?}");
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(want_code),
            "{on_unavailable}: {stderr}"
        );
        assert!(
            elapsed < Duration::from_secs(3),
            "on_unavailable {on_unavailable}: one 500 ms deadline, took {elapsed:?}"
        );
        assert!(
            stderr.contains("cannot connect") && stderr.contains("deadline passed"),
            "{stderr}"
        );
        let history = host.history();
        assert_eq!(history.len(), 1, "{on_unavailable}: the run is recorded");
        if want_code == 3 {
            assert_eq!(
                (
                    history[0].status,
                    history[0].error.as_deref(),
                    history[0].attempts
                ),
                (RunStatus::Internal, Some("redis_unavailable"), 0),
            );
        } else {
            assert_eq!(
                (history[0].status, history[0].fallback.as_deref()),
                (RunStatus::Ok, Some("host_lock")),
            );
        }
    }
    assert_eq!(server.received().len(), 1, "only the host-lock fire sent");
}

/// This host's address on its default route, when it has one that is not loopback.
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.123:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn the_password_goes_in_clear_text_only_to_loopback() {
    let server = Server::start(vec![Reply::status(200)]);
    if let Some(ip) = non_loopback_ip() {
        let listener = Listener::start(&ip.to_string(), Rogue::Silent);
        let host = Host::new(&with_password(&listener.addr.to_string(), ""));
        host.job(
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Forbid"}),
        );
        let (code, stderr) = host.fire(T0);
        assert_eq!(code, Some(3), "{stderr}");
        assert!(
            stderr.contains("clear text") && stderr.contains("rediss://"),
            "{stderr}"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(listener.connections(), 0, "refused before connecting");
        assert_eq!(host.history()[0].error.as_deref(), Some("config"));
    } else {
        eprintln!("SKIP: no non-loopback address here; the core rule's unit test covers it");
    }

    // Loopback (any 127.x): the rule lets the password go, and it does.
    let listener = Listener::start("127.0.0.3", Rogue::Silent);
    let host = Host::new(&with_password(&listener.addr.to_string(), ""));
    host.job(
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(support::contains(&listener.received(), PASSWORD));
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // With TLS required, a listener that does not speak it sees a ClientHello, never the password.
    let listener = Listener::start("127.0.0.3", Rogue::Silent);
    let host = Host::new(&with_password(
        &listener.addr.to_string(),
        "    tls: true\n",
    ));
    host.job(
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(3), "{stderr}");
    let got = listener.received();
    assert!(!got.is_empty() && got[0] == 0x16, "a TLS handshake record");
    assert!(!support::contains(&got, PASSWORD));
    assert!(server.received().is_empty());
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn an_unauthenticated_redis_is_refused_for_global_scope_unless_the_config_opts_out() {
    if !redis_support::available("unauthenticated") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let host = Host::new(&redis_locks(&redis.addr(), ""));
    host.job(
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("password_ref") && stderr.contains("allow_unauthenticated: true"),
        "{stderr}"
    );
    assert_eq!(
        redis.cli(&["DBSIZE"]).trim(),
        "0",
        "nothing written to Redis"
    );
    assert!(server.received().is_empty());
    assert_eq!(host.history()[0].error.as_deref(), Some("config"));

    host.fx.write_config(&format!(
        "version: 1\nhost_id: web-1\n{}",
        unauthenticated(&redis)
    ));
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.received().len(), 1);
}

/// A CA and a server certificate for 127.0.0.1 made with `openssl`, in `dir`.
fn make_certs(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let s = |p: &PathBuf| p.display().to_string();
    std::fs::write(p("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=cronix test CA",
        "-keyout",
        &s(&p("ca.key")),
        "-out",
        &s(&p("ca.pem")),
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s(&p("srv.key")),
        "-out",
        &s(&p("srv.csr")),
    ]) && run(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &s(&p("srv.csr")),
        "-CA",
        &s(&p("ca.pem")),
        "-CAkey",
        &s(&p("ca.key")),
        "-CAcreateserial",
        "-extfile",
        &s(&p("ext")),
        "-out",
        &s(&p("srv.pem")),
    ]);
    if !ok {
        eprintln!("SKIP: openssl could not make a test CA");
        return None;
    }
    Some((p("ca.pem"), p("srv.pem"), p("srv.key")))
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn tls_with_the_servers_certificate_verified_and_a_unix_socket_carry_the_password() {
    if !redis_support::available("tls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = make_certs(dir.path(), "a") else {
        return;
    };
    let Some((other_ca, _, _)) = make_certs(dir.path(), "b") else {
        return;
    };
    let redis = RedisServer::start_tls(&cert, &key, &ca, Some(PASSWORD));
    let server = Server::start(vec![Reply::status(200)]);
    let addr = format!("rediss://127.0.0.1:{}", redis.port);
    let tls = |ca: &Path| with_password(&addr, &format!("    ca_file: {}\n", ca.display()));

    let host = Host::new(&tls(&ca));
    host.job(
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.received().len(), 1);
    assert_eq!(
        redis
            .cli(&["EXISTS", &format!("t:fire:billing.settle:{T0}")])
            .trim(),
        "1"
    );

    // A certificate from another CA is refused: nothing sent.
    host.fx
        .write_config(&format!("version: 1\nhost_id: web-1\n{}", tls(&other_ca)));
    let (code, stderr) = host.fire(T0 + 60);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert_eq!(server.received().len(), 1);

    // Without ca_file the system bundle decides, whatever the environment says.
    host.fx.write_config(&format!(
        "version: 1\nhost_id: web-1\n{}",
        with_password(&addr, "")
    ));
    let out = host
        .command(T0 + 90)
        .env("SSL_CERT_FILE", &ca)
        .env("SSL_CERT_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert_eq!(server.received().len(), 1);

    // The CA file passes the trust checks like every file root reads.
    host.fx
        .write_config(&format!("version: 1\nhost_id: web-1\n{}", tls(&ca)));
    std::fs::set_permissions(&ca, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (code, stderr) = host.fire(T0 + 120);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("ca_file") && stderr.contains("chmod"),
        "{stderr}"
    );
    assert_eq!(server.received().len(), 1);

    // A unix socket.
    let socket = dir.path().join("redis.sock");
    let unix = RedisServer::start_unix(&socket, Some(PASSWORD));
    let host = Host::new(&with_password(&format!("unix://{}", socket.display()), ""));
    host.job(
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );
    let (code, stderr) = host.fire(T0);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.received().len(), 2);
    assert_eq!(
        unix.cli(&["EXISTS", &format!("t:fire:billing.settle:{T0}")])
            .trim(),
        "1"
    );
}

fn set_mtime(path: &Path, unix: i64) {
    let ok = Command::new("touch")
        .arg("-d")
        .arg(format!("@{unix}"))
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn claim_json(run_id: &str, fire_time: i64) -> String {
    json!({"host_id": "web-9", "run_id": run_id, "fire_time": fire_time,
           "claimed_at": "2026-01-01T00:00:00Z"})
    .to_string()
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn pre_claimed_instants_and_a_planted_lease_are_reported_by_check_as_silenced() {
    if !redis_support::available("silenced") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let host = Host::new(&unauthenticated(&redis));
    let spec = host.job(
        &server.url(PATH),
        "0 * * * *",
        json!({"concurrency": "Forbid", "timeout_seconds": 5,
               "retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}}),
    );
    // The shim tells a planted claim by when Redis says it was set, on the real clock: `future` must
    // be more than a minute ahead of now, so in the last two minutes of an hour the hours move on.
    let ahead = jiff::Timestamp::now().as_second() + 120;
    let hour = ahead - ahead.rem_euclid(3600);
    let (past, current, future) = (hour - 3600, hour, hour + 3600);
    set_mtime(&spec, past - 60);

    // `past`: claimed for real by another host (after the instant came): a plain duplicate.
    let key = |t: i64| format!("t:fire:billing.settle:{t}");
    redis.cli(&["SET", &key(past), &claim_json("r-real", past), "EX", "3600"]);
    // `future`: claimed an hour before it comes, as a squatter would.
    redis.cli(&[
        "SET",
        &key(future),
        &claim_json("r-squat", future),
        "EX",
        "3600",
    ]);
    let (code, stderr) = host.fire(past);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = host.fire(future);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("planted"), "{stderr}");

    // `current`: the claim is ours, but a lease without expiry sits on the job.
    let planted = json!({"token": "x", "host_id": "evil\u{1b}[2J", "run_id": "r-evil",
                         "since": "2026-01-01T00:00:00Z"})
    .to_string();
    redis.cli(&["SET", "t:lock:billing.settle", &planted]);
    let (code, stderr) = host.fire(current);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escaped: {stderr}");
    assert!(server.received().is_empty());
    let statuses: Vec<(RunStatus, Option<String>)> = host
        .history()
        .into_iter()
        .map(|r| (r.status, r.error))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (RunStatus::Duplicate, None),
            (RunStatus::Duplicate, Some("silenced".into())),
            (RunStatus::Contended, Some("silenced".into())),
        ]
    );

    let (code, report) = host.check(future + 600);
    assert_eq!(code, Some(1), "{report}");
    let job = &report["jobs"][0];
    let at = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    assert_eq!(job["missed"], json!([at(current), at(future)]), "{report}");
    assert_eq!(
        job["silenced"],
        json!([at(current), at(future)]),
        "{report}"
    );

    // doctor says the same.
    let out = Command::new(support::cronix_bin())
        .arg("--config")
        .arg(host.fx.config())
        .args(["-o", "json", "doctor", "--spec-dir"])
        .arg(host.fx.spec_dir())
        .arg("--state-dir")
        .arg(host.fx.path("state"))
        .arg("--lock-dir")
        .arg(host.fx.path("locks"))
        .env_remove("CRONIX_CONFIG")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "job billing.settle silenced")
        .cloned()
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["detail"].as_str().unwrap().starts_with("2 fire(s)"),
        "{check}"
    );
}

/// The run id of the lease holder, read from Redis.
fn holder_run_id(redis: &RedisServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = redis.cli(&["GET", "t:lock:billing.settle"]);
        if let Ok(v) = serde_json::from_str::<Value>(value.trim()) {
            return v["run_id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no lease appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn a_forged_replace_request_stops_neither_a_forbid_fire_nor_a_replace_fire() {
    if !redis_support::available("forged_replace") {
        return;
    }
    let redis = RedisServer::start();
    for policy in [
        json!({"concurrency": "Forbid", "timeout_seconds": 10}),
        json!({"concurrency": "Replace", "timeout_seconds": 10}),
    ] {
        redis.cli(&["FLUSHALL"]);
        let server = Server::start(vec![Reply::status(200).after(Duration::from_secs(2))]);
        let host = Host::new(&unauthenticated(&redis));
        host.job(&server.url(PATH), "* * * * *", policy.clone());
        let mut fire = host.spawn(T0);
        let run_id = holder_run_id(&redis);
        // Names the holder; claims an instant nobody claimed (Replace) or comes to a Forbid job.
        let forged = json!({"target_run_id": run_id, "by_run_id": "r-ghost",
                            "by_host_id": "evil", "fire_time": T0 + 60})
        .to_string();
        redis.cli(&["SET", "t:replace:billing.settle", &forged, "PX", "20000"]);
        let status = wait_exit(&mut fire, Duration::from_secs(15)).expect("the fire ended");
        let mut stderr = String::new();
        fire.stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{policy}: {stderr}");
        assert_eq!(host.history()[0].status, RunStatus::Ok, "{policy}");
        assert_eq!(server.received().len(), 1);
    }
}
