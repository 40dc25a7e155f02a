//! A fire's worst case (attempts × timeout + the capped waits) is bounded: apply and plan refuse a job
//! above 3600 s, and warn when an `Allow` job's worst case outlasts the time between its fires.

use crate::reconcile_support;

use reconcile_support::{Env, stderr_of};
use serde_json::json;

fn job_manifest(env: &Env, schedule: &str, policy: serde_json::Value) -> String {
    env.manifest(
        "m.json",
        &json!({"version": 1, "app": "shop", "jobs": [{
            "name": "sweep", "schedule": schedule,
            "request": {"url": "https://shop.example.com/cron/sweep"},
            "policy": policy
        }]}),
    )
}

#[test]
fn a_job_whose_fire_can_outlast_the_cap_is_refused_with_nothing_written() {
    let env = Env::new();
    let m = job_manifest(
        &env,
        "@daily",
        json!({"timeout_seconds": 600, "retries": {"max_attempts": 10, "max_seconds": 300}}),
    );
    for sub in ["plan", "apply"] {
        let assert = env.cmd(sub, &["--manifest", &m]).assert().code(1);
        let stderr = stderr_of(&assert);
        assert!(
            stderr.contains("job sweep: one fire can last up to 8700 s")
                && stderr.contains("3600 s"),
            "{stderr}"
        );
    }
    assert!(env.read_crontab().is_empty());
}

#[test]
fn an_allow_job_whose_fire_outlasts_its_interval_is_warned_about() {
    let env = Env::new();
    let m = job_manifest(&env, "*/2 * * * *", json!({"concurrency": "Allow"}));
    for sub in ["plan", "apply"] {
        let assert = env.cmd(sub, &["--manifest", &m]).assert().success();
        let stderr = stderr_of(&assert);
        assert!(
            stderr.contains("job sweep: one fire can last up to 300 s")
                && stderr.contains("longer than the 120 s between two of its fires"),
            "{sub}: {stderr}"
        );
    }
    // Forbid never piles up, and a job whose worst case fits its interval is not warned about.
    for (schedule, concurrency) in [("*/2 * * * *", "Forbid"), ("*/5 * * * *", "Allow")] {
        let m = job_manifest(&env, schedule, json!({"concurrency": concurrency}));
        let assert = env.cmd("plan", &["--manifest", &m]).assert().success();
        assert!(
            !stderr_of(&assert).contains("one fire can last"),
            "{schedule} {concurrency}"
        );
    }
}
