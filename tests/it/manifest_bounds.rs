//! Bounds on what a manifest, a manifest file and a `--body-file` can cost, through the real binary:
//! every hostile manifest just under the 10 MiB cap (millions of jobs, secret refs, schedules, keys or
//! headers, deep nesting, a wide tree, JSON in the body, one long string) is refused by `validate`
//! and `apply` (from a file and from a local HTTP server) with one short error, a non-zero exit,
//! nothing written, and at most 64 MB peak RSS (the child's `ru_maxrss`, from `wait4` in GNU time). Manifest files
//! follow the trust rule of every root input (no symlink, no FIFO, no group-writable or foreign file)
//! and a file's values never reach a terminal at length or unescaped; `--body-file` is capped at
//! 1 MiB. Children run under a 2 GiB address-space limit, so a regression fails here instead of
//! taking the machine's memory, and under a 20 s sanity bound (timings are in the bench).

use crate::reconcile_support;
use crate::trust_support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reconcile_support::{Env, SECRET_REF};
use trust_support::Stranger;

const CAP: usize = 10 * 1024 * 1024 - 64;
const PEAK_LIMIT_KB: i64 = 64 * 1024;
const HEAD: &str = r#"{"version":1,"app":"a","jobs":["#;
const JOB_OPEN: &str = r#"{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x"}"#;

/// `prefix item,item,… suffix`, as many items as fit under the cap.
fn fill(prefix: &str, item: &str, suffix: &str) -> Vec<u8> {
    let n = (CAP - prefix.len() - suffix.len()) / (item.len() + 1);
    let mut out = Vec::with_capacity(CAP);
    out.extend_from_slice(prefix.as_bytes());
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.extend_from_slice(suffix.as_bytes());
    out
}

/// `prefix "k0":value,"k1":value,… suffix`, as many keys as fit under the cap.
fn keys(prefix: &str, value: &str, suffix: &str) -> Vec<u8> {
    let mut out = prefix.as_bytes().to_vec();
    for i in 0.. {
        let part = format!("\"k{i}\":{value}");
        if out.len() + part.len() + 1 + suffix.len() > CAP {
            break;
        }
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(suffix.as_bytes());
    out
}

/// Every hostile shape, named (the same set as bench/lib/hostile_manifests.py).
fn hostile_shapes() -> Vec<(&'static str, Vec<u8>)> {
    let nest = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let row = format!("[{}]", vec!["0"; 80].join(","));
    let tree = format!(r#"{{"x":[{}]}}"#, vec![row.as_str(); 256].join(","));
    let body = format!(
        r#"{HEAD}{},"body":"{}"}}}}]}}"#,
        &JOB_OPEN[..JOB_OPEN.len() - 1],
        "b".repeat(CAP - 200)
    );
    let shapes = vec![
        ("jobs-of-zeros", fill(r#"{"jobs":["#, "0", "]}")),
        ("jobs-of-empty-objects", fill(HEAD, "{}", "]}")),
        (
            "secret-refs",
            fill(
                &format!(r#"{HEAD}{JOB_OPEN},"auth":{{"secret_refs":["#),
                r#""a""#,
                "]}}]}",
            ),
        ),
        (
            "schedules",
            fill(
                &format!(
                    r#"{HEAD}{{"name":"j","request":{{"url":"https://a.example/x"}},"schedules":["#
                ),
                r#""@daily""#,
                "]}]}",
            ),
        ),
        (
            "headers",
            keys(
                &format!(r#"{HEAD}{},"headers":{{"#, &JOB_OPEN[..JOB_OPEN.len() - 1]),
                r#""v""#,
                "}}}]}",
            ),
        ),
        (
            "many-keys",
            keys(&format!("{HEAD}{JOB_OPEN}}}],"), "0", "}"),
        ),
        ("repeated-key", fill("{", r#""app":"a""#, "}")),
        (
            "deep-nesting",
            fill(&format!(r#"{HEAD}{JOB_OPEN},"x":["#), &nest, "]}]}"),
        ),
        ("wide-tree", fill(HEAD, &tree, "]}")),
        (
            "json-in-body",
            keys(
                &format!(r#"{HEAD}{},"body":{{"#, &JOB_OPEN[..JOB_OPEN.len() - 1]),
                "[{},[]]",
                "}}}]}",
            ),
        ),
        ("long-string", body.into_bytes()),
    ];
    for (name, bytes) in &shapes {
        assert!(bytes.len() <= 10 * 1024 * 1024, "{name} is over the cap");
        assert!(
            bytes.len() > 10 * 1024 * 1024 - 100_000,
            "{name} is not near the cap"
        );
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
    }
    shapes
}

/// How a child ended: exit code, output, and its own peak RSS in KB.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_kb: i64,
}

/// Run `cmd` to its end under a 2 GiB address-space limit, killing it after `limit`. The peak RSS is
/// the child's `ru_maxrss`, taken with `wait4` by GNU time (`/usr/bin/time -f %M`), a small process
/// that forks it: `wait4` from this test process would count the pages a fork of it shares with
/// its parent (Linux keeps the larger RSS across `exec`), so the test's own memory would show up.
fn run_measured(cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Run {
    let peak_file = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(peak_file.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .process_group(0);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    unsafe {
        timed.pre_exec(|| {
            let cap = rustix::process::Rlimit {
                current: Some(2 << 30),
                maximum: Some(2 << 30),
            };
            rustix::process::setrlimit(rustix::process::Resource::As, cap)?;
            Ok(())
        });
    }
    let stdout = tempfile::tempfile().unwrap();
    let stderr = tempfile::tempfile().unwrap();
    timed
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = timed.spawn().expect("/usr/bin/time (GNU time) runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.wait();
            panic!("the child ran longer than {limit:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |mut file: std::fs::File| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        file.seek(std::io::SeekFrom::Start(0)).unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    };
    let peak = std::fs::read_to_string(peak_file.path()).unwrap();
    let peak_kb = peak
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from GNU time: {peak:?}"));
    Run {
        code: status.code(),
        stdout: read(stdout),
        stderr: read(stderr),
        peak_kb,
    }
}

const SANITY: Duration = Duration::from_secs(20);

fn cronix(env: &Env, sub: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(reconcile_support::cronix_bin());
    let defaults = env.target_flags();
    cmd.arg(sub).args(args);
    if sub == "apply" {
        cmd.args(defaults);
    } else {
        cmd.args(["--secret-ref", SECRET_REF]);
    }
    cmd.env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("TZ", "UTC")
        .env("CRONIX_TEST_SECRET", "s");
    cmd
}

/// The refusal of one hostile input: exit 1, one problem in a short message with no control
/// characters, at most 64 MB peak, nothing written.
fn assert_refused_cheaply(env: &Env, what: &str, run: &Run) {
    let text = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.code,
        Some(1),
        "{what}: exit {:?}: {text:.600}",
        run.code
    );
    assert!(
        text.contains("(1 problem)"),
        "{what}: not one problem: {text:.600}"
    );
    assert!(
        text.len() < 600,
        "{what}: {} bytes of output: {text:.600}",
        text.len()
    );
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: control characters in {text:?}"
    );
    assert!(
        run.peak_kb <= PEAK_LIMIT_KB,
        "{what}: peak RSS {} KB, over {PEAK_LIMIT_KB} KB",
        run.peak_kb
    );
    assert!(!env.crontab().exists(), "{what}: a crontab was written");
    assert!(
        env.spec_files().is_empty(),
        "{what}: spec files were written"
    );
}

/// A local HTTP server that answers every GET with `body`.
fn serve(body: Vec<u8>) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/manifest", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_data(body.clone()));
        }
    });
    url
}

#[test]
fn every_hostile_shape_under_the_cap_is_refused_with_one_error_within_64_mb() {
    let env = Env::new();
    for (name, bytes) in hostile_shapes() {
        let path = env.root().join(format!("{name}.json"));
        std::fs::write(&path, &bytes).unwrap();
        let path = path.to_str().unwrap();
        let run = run_measured(cronix(&env, "validate", &[path]), None, SANITY);
        assert_refused_cheaply(&env, &format!("validate {name}"), &run);
        let run = run_measured(cronix(&env, "apply", &["--manifest", path]), None, SANITY);
        assert_refused_cheaply(&env, &format!("apply {name}"), &run);
        assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
        let url = serve(bytes);
        let run = run_measured(
            cronix(&env, "apply", &["--manifest", &url, "--app", "a"]),
            None,
            SANITY,
        );
        assert_refused_cheaply(&env, &format!("apply {name} over HTTP"), &run);
        std::fs::remove_file(path).unwrap();
    }
}

/// A valid manifest near the cap (nine 1 MiB bodies) is applied within the same 64 MB.
#[test]
fn a_valid_manifest_near_the_cap_is_applied_within_64_mb() {
    let env = Env::new();
    let jobs: Vec<serde_json::Value> = (0..9)
        .map(|i| {
            serde_json::json!({"name": format!("j{i}"), "schedule": "@daily",
                "request": {"url": "https://a.example/x", "body": "b".repeat(1024 * 1024 - 16)}})
        })
        .collect();
    let doc = serde_json::json!({"version": 1, "app": "a", "jobs": jobs});
    let path = env.root().join("big.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 9 * 1024 * 1024);
    let run = run_measured(
        cronix(&env, "apply", &["--manifest", path.to_str().unwrap()]),
        None,
        SANITY,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.peak_kb <= PEAK_LIMIT_KB, "peak RSS {} KB", run.peak_kb);
    assert_eq!(env.spec_files().len(), 9);
}

/// Manifests within every limit of the size pass but full of mistakes: tens of thousands of bad
/// schedules and refs, or of unknown keys (each would get a "did you mean" hint).
fn mistake_manifests() -> Vec<(&'static str, String)> {
    let jobs: Vec<serde_json::Value> = (0..256)
        .map(|i| {
            serde_json::json!({"name": format!("j{i}"),
                "schedules": (0..64).map(|s| format!("bad {s}")).collect::<Vec<_>>(),
                "request": {"url": "ftp://x"}, "auth": {"secret_refs": vec!["bad ref"; 8]}})
        })
        .collect();
    let bad_values = serde_json::json!({"version": 1, "app": "a", "jobs": jobs}).to_string();
    let keys = |prefix: &str, n: usize| -> String {
        (0..n)
            .map(|i| format!("\"{prefix}{i:058}\":0"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let typo_jobs: Vec<String> = (0..256)
        .map(|i| {
            format!(
                r#"{{"name":"j{i}","schedule":"@daily","request":{{"url":"https://a.example/x",{}}},"policy":{{"retries":{{{}}},{}}},"auth":{{{}}},{}}}"#,
                keys("r", 44),
                keys("t", 44),
                keys("p", 44),
                keys("a", 44),
                keys("j", 10)
            )
        })
        .collect();
    let typo_keys = format!("{HEAD}{}]}}", typo_jobs.join(","));
    vec![("bad values", bad_values), ("typo keys", typo_keys)]
}

#[test]
fn a_manifest_with_thousands_of_mistakes_lists_100_and_counts_the_rest() {
    let env = Env::new();
    for (what, doc) in mistake_manifests() {
        let path = env.root().join("m.json");
        std::fs::write(&path, doc).unwrap();
        let run = run_measured(
            cronix(&env, "validate", &["-o", "json", path.to_str().unwrap()]),
            None,
            SANITY,
        );
        assert_eq!(run.code, Some(1), "{what}: {}", run.stderr);
        let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(value["errors"].as_array().unwrap().len(), 100, "{what}");
        assert!(
            value["omitted"].as_u64().unwrap() > 10_000,
            "{what}: {}",
            value["omitted"]
        );
        assert!(
            run.peak_kb <= PEAK_LIMIT_KB,
            "{what}: peak RSS {} KB",
            run.peak_kb
        );
    }
}

/// A root-only JSON file with values in it (a secret, say).
fn root_only_json(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let secret = dir.join("secret.json");
    std::fs::write(
        &secret,
        r#"{"version":"TOPSECRET-version-value","app":"TOPSECRET-app-value","jobs":[]}"#,
    )
    .unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    secret
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_symlinked_manifest_is_refused_and_the_file_behind_it_never_echoed() {
    let env = Env::new();
    let secret = root_only_json(env.root());
    let app_dir = env.root().join("app");
    std::fs::create_dir(&app_dir).unwrap();
    let link = app_dir.join("manifest.json");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let stranger = Stranger::create("a_symlinked_manifest_is_refused");
    if let Some(stranger) = &stranger {
        // As an app's user would have planted it: the link and its directory are theirs.
        stranger.own(&link);
        stranger.own(&app_dir);
    }
    let link = link.to_str().unwrap();
    for (sub, args) in [
        ("validate", vec![link]),
        ("apply", vec!["--manifest", link]),
    ] {
        let run = run_measured(cronix(&env, sub, &args), None, SANITY);
        let text = format!("{}{}", run.stdout, run.stderr);
        assert_ne!(run.code, Some(0), "{sub}: {text}");
        assert!(text.contains("symbolic link"), "{sub}: {text}");
        assert!(!text.contains("TOPSECRET"), "{sub} echoed the file: {text}");
        assert!(!env.crontab().exists());
    }
}

#[test]
#[cfg_attr(
    not(cronix_test_root),
    ignore = "needs root: it creates a second user (the attacker) and gives files away"
)]
fn a_manifest_owned_by_another_user_is_refused() {
    let Some(stranger) = Stranger::create("a_manifest_owned_by_another_user_is_refused") else {
        return;
    };
    let env = Env::new();
    let path = env.root().join("m.json");
    std::fs::write(
        &path,
        r#"{"version":1,"app":"a","jobs":[{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x"}}]}"#,
    )
    .unwrap();
    stranger.own(&path);
    let run = run_measured(
        cronix(&env, "apply", &["--manifest", path.to_str().unwrap()]),
        None,
        SANITY,
    );
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr
            .contains(&format!("owned by uid {}", stranger.uid)),
        "{}",
        run.stderr
    );
    assert!(!env.crontab().exists());
}

#[test]
fn a_fifo_manifest_is_refused_at_once_instead_of_hanging() {
    let env = Env::new();
    let fifo = env.root().join("manifest.json");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let fifo = fifo.to_str().unwrap();
    for (sub, args) in [
        ("validate", vec![fifo]),
        ("apply", vec!["--manifest", fifo]),
    ] {
        let run = run_measured(cronix(&env, sub, &args), None, SANITY);
        assert_ne!(run.code, Some(0), "{sub}");
        assert!(run.stderr.contains("a FIFO"), "{sub}: {}", run.stderr);
    }
}

#[test]
fn a_group_writable_manifest_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let path = env.root().join("m.json");
    std::fs::write(
        &path,
        r#"{"version":1,"app":"a","jobs":[{"name":"j","schedule":"@daily","request":{"url":"https://a.example/x"}}]}"#,
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
    let shown = path.to_str().unwrap();
    let run = run_measured(cronix(&env, "apply", &["--manifest", shown]), None, SANITY);
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains(&format!("chmod go-w {shown}")),
        "{}",
        run.stderr
    );
    assert!(!env.crontab().exists());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = run_measured(cronix(&env, "apply", &["--manifest", shown]), None, SANITY);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn keys_and_values_of_a_manifest_reach_the_terminal_short_and_escaped() {
    let env = Env::new();
    let key = format!("\u{1b}]0;owned\u{7}\u{1b}[2J{}", "K".repeat(5000));
    let value = format!("\u{1b}[31m{}", "V".repeat(5000));
    let doc = serde_json::json!({"version": value, "app": "a", "jobs": [
        {"name": "j", "schedule": "@daily", "request": {"url": "https://a.example/x"}, key: 1}]});
    let path = env.root().join("m.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    for (sub, args) in [
        ("validate", vec![path.to_str().unwrap()]),
        ("apply", vec!["--manifest", path.to_str().unwrap()]),
    ] {
        let run = run_measured(cronix(&env, sub, &args), None, SANITY);
        assert_eq!(run.code, Some(1), "{sub}: {}", run.stderr);
        assert!(
            !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{sub}: control characters in {:?}",
            run.stderr
        );
        for line in run.stderr.lines() {
            assert!(line.len() < 400, "{sub}: a {}-byte line", line.len());
        }
        assert!(!run.stderr.contains(&"K".repeat(200)), "{sub}");
        assert!(!run.stderr.contains(&"V".repeat(200)), "{sub}");
    }
}

fn sign_cmd(env: &Env, sub: &str, body_file: &str) -> Command {
    let mut cmd = Command::new(reconcile_support::cronix_bin());
    cmd.arg(sub).args([
        "--secret-ref",
        SECRET_REF,
        "--method",
        "POST",
        "--path",
        "/x",
        "--body-file",
        body_file,
    ]);
    if sub == "verify" {
        cmd.args(["--signature", "t=1,v1=00"]);
    }
    cmd.env("CRONIX_CONFIG", env.root().join("cronix.yaml"))
        .env("HOME", env.root())
        .env("CRONIX_TEST_SECRET", "s");
    cmd
}

#[test]
fn body_files_are_capped_at_one_mebibyte() {
    let env = Env::new();
    for sub in ["sign", "verify"] {
        let run = run_measured(sign_cmd(&env, sub, "/dev/zero"), None, SANITY);
        assert!(
            matches!(run.code, Some(c) if c != 0),
            "{sub}: exit {:?}",
            run.code
        );
        assert!(
            run.stderr.contains("--body-file /dev/zero")
                && run.stderr.contains("larger than 1048576 bytes"),
            "{sub}: {}",
            run.stderr
        );
        assert!(
            run.peak_kb <= PEAK_LIMIT_KB,
            "{sub}: peak {} KB",
            run.peak_kb
        );
        let over = vec![b'x'; 1024 * 1024 + 1];
        let run = run_measured(sign_cmd(&env, sub, "-"), Some(&over), SANITY);
        assert_ne!(run.code, Some(0), "{sub}");
        assert!(
            run.stderr.contains("standard input"),
            "{sub}: {}",
            run.stderr
        );
    }
    let exact = env.root().join("body");
    std::fs::write(&exact, vec![b'x'; 1024 * 1024]).unwrap();
    let run = run_measured(
        sign_cmd(&env, "sign", exact.to_str().unwrap()),
        None,
        SANITY,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("t="), "{}", run.stdout);
}
