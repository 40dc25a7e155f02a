//! The shim re-checks a spec with apply's rules before it signs (DESIGN §11), and resolves secrets by
//! the protocol's empty-secrets rule (DESIGN §6). Real binary, temp dirs, and a local server that
//! verifies every signature and records what arrived.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Fixture, Reply, SECRET_ENV, SENTINEL, Server};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fire with the given spec; return the output and what the server received.
fn fire(fx: &Fixture, server: &Server, spec: &Value) -> (std::process::Output, usize) {
    fx.write_spec(spec);
    let out = fx
        .trigger()
        .env("REPORTS_KEY", "reports-secret")
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    (out, server.received().len())
}

fn assert_refused(fx: &Fixture, server: &Server, spec: &Value, why: &str) {
    let before = server.received().len();
    let (out, after) = fire(fx, server, spec);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(after, before, "nothing may be sent");
    let err = stderr(&out);
    assert!(
        err.contains("would be refused by apply") && err.contains(why),
        "{err}"
    );
    assert!(!err.contains(SENTINEL));
    let last = fx.history().pop().unwrap();
    assert_eq!(
        (last.status.as_str(), last.error.as_deref()),
        ("internal", Some("spec"))
    );
}

#[test]
fn a_hand_edited_url_is_refused_before_anything_is_sent() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let good = fx.spec(&server.url("/cron/settle"), json!({}));
    let (out, sent) = fire(&fx, &server, &good);
    assert_eq!((out.status.code(), sent), (Some(0), 1), "{}", stderr(&out));

    let mut userinfo = good.clone();
    userinfo["job"]["request"]["url"] = json!(format!(
        "http://admin:pw@127.0.0.1:{}/cron/settle",
        server.port
    ));
    assert_refused(&fx, &server, &userinfo, "user name or password");

    let mut metadata = good.clone();
    metadata["job"]["request"]["url"] = json!("http://169.254.169.254/latest/meta-data");
    assert_refused(&fx, &server, &metadata, "link-local");

    let mut plain = good.clone();
    plain["job"]["request"]["url"] = json!("http://intranet.example/cron/settle");
    assert_refused(&fx, &server, &plain, "allow_http_hosts");
}

#[test]
fn a_forbidden_or_control_character_header_is_refused() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["job"]["request"]["headers"]["Authorization"] = json!("Bearer stolen");
    assert_refused(&fx, &server, &spec, "carries credentials");
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["job"]["request"]["headers"]["X-Cron-Signature"] = json!("t=1,v1=00");
    assert_refused(&fx, &server, &spec, "set by cronix itself");
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["job"]["request"]["headers"]["X-Note"] = json!("a\u{1b}[2Jb");
    assert_refused(&fx, &server, &spec, "control character 0x1B");
}

#[test]
fn a_ref_of_another_app_is_refused_and_the_apps_own_ref_fires() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    fx.write_config(&format!(
        "version: 1\nmanifest_sources:\n  - app: billing\n    url: /srv/billing.json\n    secret_refs: [env:{SECRET_ENV}]\n  - app: reports\n    url: /srv/reports.json\n    secret_refs: [env:REPORTS_KEY]\n"
    ));
    let mut foreign = fx.spec(&server.url("/cron/settle"), json!({}));
    foreign["secret_refs"] = json!(["env:REPORTS_KEY"]);
    foreign["job"]["auth"]["secret_refs"] = json!([]);
    assert_refused(
        &fx,
        &server,
        &foreign,
        "env:REPORTS_KEY is not allowed for app billing",
    );

    let own = fx.spec(&server.url("/cron/settle"), json!({}));
    let (out, sent) = fire(&fx, &server, &own);
    assert_eq!((out.status.code(), sent), (Some(0), 1), "{}", stderr(&out));
    assert_eq!(server.received()[0].verified, Ok(0));

    fx.write_config(
        "version: 1\nmanifest_sources:\n  - app: reports\n    url: /srv/reports.json\n    secret_refs: [env:REPORTS_KEY]\n",
    );
    assert_refused(&fx, &server, &own, "");
}

#[test]
fn rotation_with_the_first_ref_unset_signs_with_the_second() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let missing_file = fx.path("no-such-key");
    let refs = json!([
        "env:CRONIX_ROTATED_OUT",
        format!("file:{}", missing_file.display()),
        format!("env:{SECRET_ENV}")
    ]);
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["secret_refs"] = refs.clone();
    spec["job"]["auth"]["secret_refs"] = refs;
    fx.write_spec(&spec);
    let out = fx
        .trigger()
        .env_remove("CRONIX_ROTATED_OUT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].verified,
        Ok(0),
        "the server knows only the second secret, and it verified"
    );
    let err = stderr(&out);
    assert!(err.contains("env:CRONIX_ROTATED_OUT is not set"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn an_existing_secret_file_that_fails_the_checks_stays_a_hard_error() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let key = fx.path("old.key");
    std::fs::write(&key, "old-secret").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refs = json!([
        format!("file:{}", key.display()),
        format!("env:{SECRET_ENV}")
    ]);
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["secret_refs"] = refs.clone();
    spec["job"]["auth"]["secret_refs"] = refs;
    fx.write_spec(&spec);
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("writable by group or others"));
    assert_eq!(server.received().len(), 0);
}

#[test]
fn only_unresolvable_refs_are_exit_3_with_nothing_sent() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let refs = json!(["env:CRONIX_UNSET_A", "env:CRONIX_UNSET_B"]);
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["secret_refs"] = refs.clone();
    spec["job"]["auth"]["secret_refs"] = refs;
    fx.write_spec(&spec);
    let out = fx.trigger().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(server.received().len(), 0);
}

#[test]
fn world_readable_secret_and_env_files_are_warned_about() {
    let server = Server::start(vec![Reply::status(204)]);
    let fx = Fixture::new();
    let env_file = fx.path("cronix.env");
    std::fs::write(&env_file, format!("{SECRET_ENV}={SENTINEL}\n")).unwrap();
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    fx.write_config(&format!("version: 1\nenv_file: {}\n", env_file.display()));
    let key = fx.path("shared.key");
    std::fs::write(&key, SENTINEL).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refs = json!([format!("file:{}", key.display())]);
    let mut spec = fx.spec(&server.url("/cron/settle"), json!({}));
    spec["secret_refs"] = refs.clone();
    spec["job"]["auth"]["secret_refs"] = refs;
    fx.write_spec(&spec);
    let out = fx.trigger().env_remove(SECRET_ENV).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "env file {} is readable by every user",
            env_file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "secret file {} is readable by every user",
            key.display()
        )),
        "{err}"
    );
    assert!(!err.contains(SENTINEL));
}
