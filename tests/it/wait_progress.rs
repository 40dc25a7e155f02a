//! Progress on waits: on a terminal (a pseudo-terminal from util-linux `script`), an apply waiting
//! for the apply lock says after a second who holds it and how long it will still wait, and a slow
//! manifest fetch says which URL (without its query) and the time left; without a terminal nothing
//! extra is printed.

use crate::reconcile_support;

use std::fs::OpenOptions;
use std::io::Write;
use std::process::{Command, Output};
use std::time::Duration;

use reconcile_support::{Env, manifest};

/// Run `cronix ARGS` under `script -qec`, whose pty is the child's stdin, stdout and stderr; the
/// transcript comes back on script's stdout.
fn on_a_terminal(env: &Env, args: &[String], extra_env: &[(&str, &str)]) -> Output {
    let bin = reconcile_support::cronix_bin().display().to_string();
    let line = std::iter::once(bin)
        .chain(
            args.iter()
                .map(|a| format!("'{}'", a.replace('\'', r"'\''"))),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh");
    env.environment_std(&mut cmd);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect(
        "util-linux `script` (Debian package bsdutils) runs the command on a pseudo-terminal",
    )
}

fn apply_args(env: &Env, manifest: &str) -> Vec<String> {
    let mut args = vec!["apply".to_string(), "--manifest".into(), manifest.into()];
    args.extend(env.target_flags());
    args
}

#[test]
fn an_apply_waiting_for_the_lock_says_who_holds_it_on_a_terminal_only() {
    let env = Env::new();
    std::fs::write(
        env.root().join("cronix.yaml"),
        "apply_lock_wait_seconds: 3\n",
    )
    .unwrap();
    let manifest = env.manifest("m.json", &manifest("shop", &[("sweep", &["@hourly"])]));
    // A first apply records its holder line in the lock file.
    env.apply(&manifest).success();
    let lock_path = env.crontab().parent().unwrap().join(".cronix.lock");
    let recorded = std::fs::read_to_string(&lock_path).unwrap();
    assert!(
        recorded.starts_with("pid ") && recorded.contains(" host ") && recorded.contains(" since "),
        "{recorded:?}"
    );

    let mut held = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.lock().unwrap();
    held.set_len(0).unwrap();
    held.write_all(b"pid 4242 host build-7 since 2026-03-01T10:00:00Z\n")
        .unwrap();

    let out = on_a_terminal(&env, &apply_args(&env, &manifest), &[]);
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("cronix: waiting for the apply lock ")
            && seen.contains("held by pid 4242 host build-7 since 2026-03-01T10:00:00Z")
            && seen.contains("giving up in 2 s"),
        "{seen}"
    );
    assert!(
        seen.contains("for more than 3 s"),
        "then it gives up: {seen}"
    );

    let piped = env.apply(&manifest).code(3);
    let stderr = reconcile_support::stderr_of(&piped);
    assert!(
        !stderr.contains("waiting"),
        "no progress without a terminal: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    drop(held);
}

#[test]
fn a_slow_manifest_fetch_says_so_on_a_terminal_only() {
    let manifest_doc = r#"{"version":1,"app":"shop","jobs":[{"name":"sweep","schedule":"@hourly","request":{"url":"https://shop.example.com/cron/sweep"}}]}"#;
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests().take(2) {
            std::thread::sleep(Duration::from_millis(1600));
            let _ = request.respond(tiny_http::Response::from_string(manifest_doc));
        }
    });
    let env = Env::new();
    let url = format!("{base}/cron-manifest?token=hush");
    let args: Vec<String> = ["validate", "--secret-ref", "env:FETCH_SECRET", &url]
        .map(String::from)
        .to_vec();
    let out = on_a_terminal(&env, &args, &[("FETCH_SECRET", "s3cr3t-value-xyz")]);
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains(&format!(
            "cronix: fetching the manifest {base}/cron-manifest; giving up in 29 s"
        )),
        "{seen}"
    );
    assert!(!seen.contains("s3cr3t-value-xyz"), "{seen}");
    assert!(
        !seen
            .lines()
            .any(|l| l.contains("fetching") && l.contains("token=hush")),
        "{seen}"
    );

    let mut cmd = env.cmd_plain(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let piped = cmd
        .env("FETCH_SECRET", "s3cr3t-value-xyz")
        .output()
        .unwrap();
    assert!(piped.status.success(), "{piped:?}");
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("fetching"),
        "no progress without a terminal"
    );
}
