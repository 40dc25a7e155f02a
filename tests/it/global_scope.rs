//! `concurrency_scope: global` against a real `redis-server`: several simulated hosts (each its own
//! config, `host_id`, lock and state dirs, the same job) fire the same instants; each instant is
//! delivered once, `Forbid` and `Replace` hold across hosts, a dead holder loses its lease, and an
//! unavailable Redis follows `on_unavailable`.

use crate::redis_support;
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cronix::core::history::{RunRecord, RunStatus};
use redis_support::RedisServer;
use serde_json::{Value, json};
use support::{APP, Fixture, Reply, SECRET_ENV, SENTINEL, Server, wait_exit};

const PATH: &str = "/api/v1/scheduled/settle";
/// 2026-03-01T02:00:00Z, a minute boundary.
const T0: i64 = 1_772_330_400;

/// One simulated host: its own dirs and config, naming the shared Redis.
struct Host {
    fx: Fixture,
    id: String,
}

impl Host {
    fn new(id: &str, locks: &str) -> Host {
        let fx = Fixture::new();
        fx.write_config(&format!("version: 1\nhost_id: {id}\n{locks}"));
        Host {
            fx,
            id: id.to_string(),
        }
    }

    /// Install `billing.<job>` with `policy` over the fixture's defaults and global scope.
    fn job(&self, job: &str, url: &str, schedule: &str, policy: Value) {
        let mut policy = policy;
        policy["concurrency_scope"] = json!("global");
        let mut spec = self.fx.spec(url, policy);
        spec["job"]["name"] = json!(job);
        spec["job"]["schedules"] = json!([schedule]);
        let path = self.fx.spec_dir().join(format!("{APP}.{job}.json"));
        std::fs::write(path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    }

    fn command(&self, job: &str, now: i64) -> Command {
        let mut cmd = self.command_of(env!("CARGO_BIN_EXE_cronix"), job);
        cmd.env("CRONIX_TEST_NOW", now.to_string());
        cmd
    }

    /// The trigger command of `bin` (a release build ignores `CRONIX_TEST_NOW`).
    fn command_of(&self, bin: &str, job: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(self.fx.config())
            .arg("trigger")
            .arg("--spec-dir")
            .arg(self.fx.spec_dir())
            .arg(format!("{APP}.{job}"))
            .env(SECRET_ENV, SENTINEL)
            .env("HOME", self.fx.dir.path())
            .env_remove("CRONIX_CONFIG");
        cmd
    }

    fn spawn(&self, job: &str, now: i64) -> Child {
        self.command(job, now)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Run a fire to its end: exit code and stderr.
    fn fire(&self, job: &str, now: i64) -> (Option<i32>, String) {
        let out = self.command(job, now).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn history(&self, job: &str) -> Vec<RunRecord> {
        let path = self.fx.path(&format!("state/history/{APP}.{job}.jsonl"));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn global_status(&self) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_cronix"))
            .arg("--config")
            .arg(self.fx.config())
            .args(["-o", "json", "global-status", "--spec-dir"])
            .arg(self.fx.spec_dir())
            .env_remove("CRONIX_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn locks(redis: &RedisServer, on_unavailable: &str) -> String {
    format!(
        "locks:\n  redis:\n    addr: {}\n    key_prefix: \"t:\"\n    on_unavailable: {on_unavailable}\n    \
         allow_unauthenticated: true\n",
        redis.addr()
    )
}

fn hosts(n: usize, locks: &str) -> Vec<Host> {
    (1..=n)
        .map(|i| Host::new(&format!("web-{i}"), locks))
        .collect()
}

/// A fraction in [0, 1) from a randomly seeded hasher.
fn random(n: u64) -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(n);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Fire `job` on every host for one instant, each after its own random skew of up to 2 s (real
/// time, and the same skew on its clock, `clock_offset` seconds past the instant).
fn fire_instant_with_skew(hosts: &[Host], job: &str, instant: i64, clock_offset: i64) -> Vec<i32> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let skew = random(instant as u64 * 7 + i as u64) * 2.0;
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_secs_f64(skew));
                    let now = instant + clock_offset + skew as i64;
                    host.fire(job, now).0.unwrap_or(-1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn three_hosts_deliver_each_of_twenty_instants_exactly_once_whatever_the_policy() {
    if !redis_support::available("three_hosts_deliver_each_instant_once") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let hosts = hosts(3, &locks(&redis, "fail"));
    // (job, policy, schedule, clock offset past the instant): the every-5-minutes job starts 58 s
    // late plus the skew, so its starts cross into the next minute and still name the instant.
    let jobs = [
        ("allow", "Allow", "*/5 * * * *", 58, 300),
        ("forbid", "Forbid", "* * * * *", 0, 60),
        ("replace", "Replace", "* * * * *", 0, 60),
    ];
    for host in &hosts {
        for (job, policy, schedule, _, _) in jobs {
            host.job(
                job,
                &server.url(PATH),
                schedule,
                json!({ "concurrency": policy }),
            );
        }
    }
    std::thread::scope(|scope| {
        for (job, _, _, offset, step) in jobs {
            let hosts = &hosts;
            scope.spawn(move || {
                for n in 0..20 {
                    let codes = fire_instant_with_skew(hosts, job, T0 + n * step, offset);
                    assert_eq!(codes, [0, 0, 0], "{job} instant {n}");
                }
            });
        }
    });

    let received = server.received();
    assert_eq!(
        received.len(),
        60,
        "20 deliveries for each of the three jobs"
    );
    assert!(received.iter().all(|r| r.verified == Ok(0)));
    for (job, _, _, _, step) in jobs {
        let delivered: BTreeMap<i64, String> = received
            .iter()
            .filter(|r| r.header("x-cron-schedule-name") == Some(job))
            .map(|r| {
                (
                    r.header("x-cron-fire-time").unwrap().parse().unwrap(),
                    r.header("x-cron-run-id").unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<i64> = (0..20).map(|n| T0 + n * step).collect();
        assert_eq!(
            delivered.keys().copied().collect::<Vec<_>>(),
            expected,
            "{job}"
        );
        let mut ok_runs = BTreeSet::new();
        for host in &hosts {
            let runs = host.history(job);
            assert_eq!(runs.len(), 20, "{job} on {}", host.id);
            assert!(
                runs.iter()
                    .all(|r| r.host_id.as_deref() == Some(host.id.as_str()))
            );
            for run in &runs {
                assert!(
                    matches!(run.status, RunStatus::Ok | RunStatus::Duplicate),
                    "{job} on {}: {run:?}",
                    host.id
                );
                if run.status == RunStatus::Ok {
                    ok_runs.insert(run.run_id.clone());
                } else {
                    assert_eq!((run.attempts, run.exit_code), (0, 0));
                }
            }
        }
        let sent: BTreeSet<String> = delivered.values().cloned().collect();
        assert_eq!(
            ok_runs, sent,
            "{job}: each delivery is one host's ok run, and only those"
        );
    }
    let status = hosts[0].global_status();
    let forbid = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["job"] == "forbid")
        .unwrap();
    assert_eq!(
        forbid["global"]["last_claim"]["fire_time"],
        json!(T0 + 19 * 60)
    );
    assert_eq!(forbid["global"]["holder"], Value::Null);
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn forbid_holds_across_hosts_while_another_hosts_fire_runs() {
    if !redis_support::available("forbid_holds_across_hosts") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(3)),
        Reply::status(200),
    ]);
    let hosts = hosts(2, &locks(&redis, "fail"));
    for host in &hosts {
        host.job(
            "settle",
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Forbid"}),
        );
    }
    let mut slow = hosts[0].spawn("settle", T0);
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);

    let status = hosts[1].global_status();
    let holder = &status["jobs"][0]["global"]["holder"];
    assert_eq!(holder["host_id"], "web-1", "{status}");
    let (code, stderr) = hosts[1].fire("settle", T0 + 60);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("web-1"),
        "the log names the holder: {stderr}"
    );
    let contended = &hosts[1].history("settle")[0];
    assert_eq!(
        (contended.status, contended.attempts),
        (RunStatus::Contended, 0)
    );

    assert_eq!(
        wait_exit(&mut slow, Duration::from_secs(10))
            .unwrap()
            .code(),
        Some(0)
    );
    assert_eq!(server.received().len(), 1);
    assert_eq!(
        hosts[1].fire("settle", T0 + 120).0,
        Some(0),
        "released at the end"
    );
    assert_eq!(server.received().len(), 2);
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn replace_on_another_host_stops_the_earlier_fire() {
    if !redis_support::available("replace_across_hosts") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(30)),
        Reply::status(200),
    ]);
    let hosts = hosts(2, &locks(&redis, "fail"));
    for host in &hosts {
        host.job(
            "settle",
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Replace", "timeout_seconds": 60}),
        );
    }
    let mut slow = hosts[0].spawn("settle", T0);
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);
    let started = Instant::now();

    let (code, stderr) = hosts[1].fire("settle", T0 + 60);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let stopped = wait_exit(&mut slow, Duration::from_secs(5)).expect("the earlier fire stopped");
    assert_eq!(stopped.code(), Some(143));
    let earlier = &hosts[0].history("settle")[0];
    assert_eq!(
        (earlier.status, earlier.attempts, earlier.host_id.as_deref()),
        (RunStatus::Replaced, 1, Some("web-1"))
    );
    assert_eq!(hosts[1].history("settle")[0].status, RunStatus::Ok);
    assert_eq!(server.received().len(), 2);
    assert_eq!(redis.cli(&["EXISTS", "t:lock:billing.settle"]).trim(), "0");
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn a_holder_killed_mid_request_loses_its_lease_and_another_host_proceeds() {
    if !redis_support::available("killed_holder_loses_lease") {
        return;
    }
    let redis = RedisServer::start();
    let server = Server::start(vec![
        Reply::status(200).after(Duration::from_secs(60)),
        Reply::status(200),
    ]);
    let hosts = hosts(2, &locks(&redis, "fail"));
    for host in &hosts {
        host.job(
            "settle",
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Forbid", "timeout_seconds": 120}),
        );
    }
    let mut holder = hosts[0].spawn("settle", T0);
    assert_eq!(server.wait_for(1, Duration::from_secs(10)), 1);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed_at = Instant::now();
    assert_eq!(
        hosts[1].fire("settle", T0 + 60).0,
        Some(4),
        "the lease outlives its holder briefly"
    );

    let mut n = 2;
    let code = loop {
        let (code, _) = hosts[1].fire("settle", T0 + n * 60);
        if code != Some(4) || killed_at.elapsed() > Duration::from_secs(20) {
            break code;
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(code, Some(0));
    let waited = killed_at.elapsed();
    assert!(
        waited >= Duration::from_secs(8) && waited < Duration::from_secs(15),
        "the lease expired after its 10 s TTL: {waited:?}"
    );
    assert_eq!(server.received().len(), 2);
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn redis_down_with_fail_sends_nothing_and_with_host_sends_with_a_warning() {
    if !redis_support::available("redis_down") {
        return;
    }
    let mut redis = RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let failing = Host::new("web-1", &locks(&redis, "fail"));
    let degrading = Host::new("web-2", &locks(&redis, "host"));
    for host in [&failing, &degrading] {
        host.job(
            "settle",
            &server.url(PATH),
            "* * * * *",
            json!({"concurrency": "Forbid"}),
        );
    }
    redis.kill();

    let started = Instant::now();
    let (code, stderr) = failing.fire("settle", T0);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a fire never hangs on Redis"
    );
    assert!(
        stderr.contains("nothing sent (on_unavailable: fail)"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
    let run = &failing.history("settle")[0];
    assert_eq!(
        (run.status, run.exit_code, run.error.as_deref()),
        (RunStatus::Internal, 3, Some("redis_unavailable"))
    );

    let (code, stderr) = degrading.fire("settle", T0);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("using this host's lock"), "{stderr}");
    assert_eq!(server.received().len(), 1);
    let run = &degrading.history("settle")[0];
    assert_eq!(
        (run.status, run.fallback.as_deref()),
        (RunStatus::Ok, Some("host_lock"))
    );
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn a_password_from_password_ref_logs_in_to_a_requirepass_server() {
    if !redis_support::available("password_ref") {
        return;
    }
    let password = "redis-pw-6c1d2e9f";
    let redis = RedisServer::start_with(Some(password));
    let server = Server::start(vec![Reply::status(200)]);
    let with_ref = format!(
        "{}    password_ref: env:TEST_REDIS_PW\n",
        locks(&redis, "fail")
    );
    let host = Host::new("web-1", &with_ref);
    host.job(
        "settle",
        &server.url(PATH),
        "* * * * *",
        json!({"concurrency": "Forbid"}),
    );

    let out = host
        .command("settle", T0)
        .env("TEST_REDIS_PW", password)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.received().len(), 1);
    assert_eq!(
        redis
            .cli(&["EXISTS", &format!("t:fire:billing.settle:{T0}")])
            .trim(),
        "1"
    );

    let out = host
        .command("settle", T0 + 60)
        .env("TEST_REDIS_PW", "wrong")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        !stderr.contains(password) && !stderr.contains("wrong"),
        "{stderr}"
    );
    let history =
        std::fs::read_to_string(host.fx.path("state/history/billing.settle.jsonl")).unwrap();
    assert!(!history.contains(password));
    assert_eq!(server.received().len(), 1);
}

/// The load run of `bench/global_scope.sh`: 300 jobs × 3 hosts, all due in the same minute, against
/// one Redis. Every instant is delivered exactly once; prints the time to the last delivery.
#[test]
#[ignore = "load run (900 processes); bench/global_scope.sh runs it"]
fn load_300_jobs_on_3_hosts_in_one_minute() {
    if !redis_support::available("load") {
        return;
    }
    const JOBS: usize = 300;
    let redis = RedisServer::start();
    let server = Server::start(vec![Reply::status(200)]);
    let bin = std::env::var("CRONIX_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cronix").into());
    let hosts = hosts(3, &locks(&redis, "fail"));
    for host in &hosts {
        for n in 0..JOBS {
            host.job(
                &format!("job-{n}"),
                &server.url(PATH),
                "* * * * *",
                json!({"concurrency": "Forbid"}),
            );
        }
    }
    // Real cron starts them all at second 0; the release binary reads the real clock, so start
    // early in a minute for every fire to name the same instant.
    let second = jiff::Timestamp::now().as_second().rem_euclid(60);
    if second > 30 {
        std::thread::sleep(Duration::from_secs((61 - second) as u64));
    }
    let started = Instant::now();
    let mut children = Vec::new();
    for n in 0..JOBS {
        for host in &hosts {
            let mut cmd = host.command_of(&bin, &format!("job-{n}"));
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            children.push(cmd.spawn().unwrap());
        }
    }
    let codes: Vec<Option<i32>> = children
        .iter_mut()
        .map(|c| c.wait().unwrap().code())
        .collect();
    let received = server.received();
    let last = received.iter().map(|r| r.at).max().unwrap_or(started);
    let jobs: BTreeSet<&str> = received
        .iter()
        .filter_map(|r| r.header("x-cron-schedule-name"))
        .collect();
    eprintln!(
        "load: {JOBS} jobs x 3 hosts: {} deliveries, {} distinct jobs, last delivery {:.0} ms after the first spawn, all exited in {:.0} ms",
        received.len(),
        jobs.len(),
        (last - started).as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(codes.iter().all(|c| *c == Some(0)), "{codes:?}");
    assert_eq!(received.len(), JOBS);
    assert_eq!(jobs.len(), JOBS);
}

#[test]
#[cfg_attr(
    not(cronix_test_redis),
    ignore = "needs redis-server and redis-cli (apt-get install redis-server)"
)]
fn the_doctor_check_connects_logs_in_and_pings() {
    if !redis_support::available("doctor_check") {
        return;
    }
    let password = "redis-pw-0b7e44a1";
    let mut redis = RedisServer::start_with(Some(password));
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("secrets.env");
    std::fs::write(&env_file, format!("DOCTOR_REDIS_PW={password}\n")).unwrap();
    let config = cronix::shell::config::parse(&format!(
        "locks:\n  redis:\n    addr: redis://{}/3\n    password_ref: env:DOCTOR_REDIS_PW\n",
        redis.addr()
    ))
    .unwrap();
    let settings = config.locks.redis.unwrap();
    let ok = cronix::shell::global_lock::check(&settings, Some(&env_file)).unwrap();
    assert!(ok.contains("answers PONG"), "{ok}");

    let host = Host::new("web-7", &locks(&redis, "fail"));
    let redis_check = |host: &Host| {
        let out = Command::new(env!("CARGO_BIN_EXE_cronix"))
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
        let checks = doc["checks"].as_array().unwrap().clone();
        let find = |name: &str| checks.iter().find(|c| c["name"] == name).cloned().unwrap();
        (find("host_id"), find("redis"))
    };
    let (host_id, check) = redis_check(&host);
    assert!(
        host_id["detail"].as_str().unwrap().starts_with("web-7"),
        "{host_id}"
    );
    assert_eq!(
        check["status"], "fail",
        "requirepass without password_ref: {check}"
    );
    let with_ref = format!(
        "{}    password_ref: env:DOCTOR_REDIS_PW\nenv_file: {}\n",
        locks(&redis, "fail"),
        env_file.display()
    );
    let host = Host::new("web-7", &with_ref);
    let (_, check) = redis_check(&host);
    assert_eq!(check["status"], "ok", "{check}");
    redis.kill();
    let (_, check) = redis_check(&host);
    assert_eq!(check["status"], "fail", "{check}");
    let err = cronix::shell::global_lock::check(&settings, Some(&env_file)).unwrap_err();
    assert!(
        err.contains("cannot connect") && !err.contains(password),
        "{err}"
    );
}
