//! The whole path without cron: apply with an operator config, then run the exact command the crontab
//! line holds in an environment as bare as cron's. The shim finds the config apply used (recorded in the
//! spec), loads its env_file, signs, and a local server verifies the request with the project's verifier.

use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use cronix::core::secret::Secret;
use cronix::core::signature;

const SECRET: &str = "whsec_apply_then_fire_0123456789abcdef";

/// Serve until `count` requests; record whether each one's signature verified.
fn verifying_server(count: usize) -> (String, Arc<Mutex<Vec<bool>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&verdicts);
    std::thread::spawn(move || {
        for mut request in server.incoming_requests().take(count) {
            let mut body = Vec::new();
            request.as_reader().read_to_end(&mut body).unwrap();
            let header = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Cron-Signature"))
                .map(|h| h.value.as_str().to_string());
            let ok = signature::verify(
                &[Secret::new(SECRET.as_bytes().to_vec())],
                header.as_deref(),
                request.method().as_str(),
                request.url(),
                &body,
                jiff::Timestamp::now().as_second(),
                300,
            )
            .is_ok();
            log.lock().unwrap().push(ok);
            let _ = request.respond(tiny_http::Response::empty(if ok { 204 } else { 401 }));
        }
    });
    (url, verdicts)
}

#[test]
fn a_fire_in_a_bare_environment_uses_the_config_apply_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (url, verdicts) = verifying_server(1);
    std::fs::write(root.join("secrets.env"), format!("SHOP_CRON={SECRET}\n")).unwrap();
    std::fs::set_permissions(
        root.join("secrets.env"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let config = root.join("cronix.yaml");
    std::fs::write(
        &config,
        "version: 1\ncrontab_path: crontab\ncrontab_format: user\nspec_dir: jobs\nlock_dir: locks\n\
         state_dir: state\nenv_file: secrets.env\nsecret_refs: [env:SHOP_CRON]\n",
    )
    .unwrap();
    let manifest = root.join("m.json");
    std::fs::write(
        &manifest,
        format!(
            r#"{{"version":1,"app":"shop","jobs":[{{"name":"sweep","schedule":"@hourly","request":{{"url":"{url}/cron/sweep?x=1","body":"{{}}"}}}}]}}"#
        ),
    )
    .unwrap();
    let apply = Command::cargo_bin("cronix")
        .unwrap()
        .env_remove("CRONIX_CONFIG")
        .arg("--config")
        .arg(&config)
        .arg("apply")
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );

    // The command of the crontab line, split as cron's shell would (only safe characters are on it).
    let crontab = std::fs::read_to_string(root.join("crontab")).unwrap();
    let line = crontab.lines().find(|l| l.ends_with("shop.sweep")).unwrap();
    let words: Vec<&str> = line.split(' ').skip(5).collect();
    assert!(!line.contains(SECRET));
    let fire = std::process::Command::new(words[0])
        .args(&words[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", root.join("no-home"))
        .output()
        .unwrap();
    assert_eq!(
        fire.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fire.stderr)
    );
    assert_eq!(*verdicts.lock().unwrap(), vec![true]);
    let history = std::fs::read_to_string(root.join("state/history/shop.sweep.jsonl")).unwrap();
    assert!(history.contains(r#""status":"ok""#), "{history}");
    for output in [&apply.stdout, &apply.stderr, &fire.stdout, &fire.stderr] {
        assert!(!String::from_utf8_lossy(output).contains(SECRET));
    }
}
