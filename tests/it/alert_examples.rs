//! The alert examples README points at work: `examples/alerts/receiver.py` verifies a real fire's
//! signed alert with the trigger scheme (and refuses one signed with another secret), and
//! `examples/alerts/cronix-mail-alert` turns an event into a mail with a readable subject.

use crate::support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Fixture, Reply, SECRET_ENV, SENTINEL, Server};

struct Receiver {
    child: Child,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example receiver on a free loopback port, or `None` (with a SKIP line) without python3.
fn start_receiver(secret: &str) -> Option<Receiver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .arg("examples/alerts/receiver.py")
        .arg(port.to_string())
        .env("ALERT_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("SKIP: python3 is not installed; examples/alerts/receiver.py not exercised");
        return None;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Receiver { child, port })
}

fn failing_fire(fx: &Fixture, receiver_port: u16) -> String {
    let app = Server::start(vec![Reply::status(500)]);
    fx.write_config(&format!(
        "version: 1\nalerts:\n  - webhook: http://127.0.0.1:{receiver_port}/hooks/cronix?src=web\n    secret_ref: env:{SECRET_ENV}\n"
    ));
    fx.write_spec(&fx.spec(
        &app.url("/run"),
        json!({"retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}}),
    ));
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[cfg_attr(
    not(cronix_test_python3),
    ignore = "needs python3 for examples/alerts/receiver.py"
)]
fn the_example_receiver_verifies_a_real_alert() {
    let Some(mut receiver) = start_receiver(SENTINEL) else {
        return;
    };
    let fx = Fixture::new();
    let stderr = failing_fire(&fx, receiver.port);
    assert!(!stderr.contains("alert not delivered"), "{stderr}");
    let mut line = String::new();
    BufReader::new(receiver.child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["event"], "failing");
    assert_eq!(event["run_id"], fx.history()[0].run_id.as_str());
}

#[test]
#[cfg_attr(
    not(cronix_test_python3),
    ignore = "needs python3 for examples/alerts/receiver.py"
)]
fn the_example_receiver_refuses_another_secret() {
    let Some(receiver) = start_receiver("a-different-secret") else {
        return;
    };
    let fx = Fixture::new();
    let stderr = failing_fire(&fx, receiver.port);
    assert!(stderr.contains("alert not delivered"), "{stderr}");
    assert!(stderr.contains("http_401"), "{stderr}");
}

#[test]
fn the_mail_alert_example_mails_the_event_with_a_subject() {
    let dir = tempfile::tempdir().unwrap();
    let fake_mail = dir.path().join("mail");
    let sent = dir.path().join("sent");
    std::fs::write(
        &fake_mail,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > {0}\ncat >> {0}\n",
            sent.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake_mail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let event = json!({"event": "failing", "app": "billing", "job": "settle", "run_id": "r",
        "status": "exhausted", "exit_code": 2, "http_status": 503, "attempts": 3,
        "intended_fire_time": "2026-01-01T00:00:00Z", "consecutive_failures": 2,
        "host_id": "web-1", "time": "2026-01-01T00:00:05Z"});
    let mut child = Command::new("sh")
        .arg("examples/alerts/cronix-mail-alert")
        .arg("ops@example.com")
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mail = std::fs::read_to_string(&sent).unwrap();
    let mut lines = mail.lines();
    assert_eq!(
        lines.next(),
        Some("-s cronix: billing.settle failing on web-1 ops@example.com")
    );
    let body: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(body, event);
}
