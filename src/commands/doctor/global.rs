//! Doctor checks of `concurrency_scope: global`: the host id this host uses, and the Redis of
//! `locks.redis` (connect, log in with the resolved `password_ref`, `PING`).
//!
//! Reads only; never prints the password (the check reports whether the login worked).

use super::{Check, Host};
use crate::shell::config::OnUnavailable;
use crate::shell::{global_lock, host};

pub fn global_checks(host: &Host) -> Vec<Check> {
    let config = host.config();
    let mut out = vec![Check::ok(
        "host_id",
        format!(
            "{} ({})",
            host::host_id(&config),
            if config.host_id.is_some() {
                "from the config"
            } else {
                "the host name; set host_id to give each host of a fleet its own"
            }
        ),
    )];
    let Some(redis) = &config.locks.redis else {
        out.push(Check::ok(
            "redis",
            "locks.redis is not configured (apply refuses concurrency_scope global jobs)",
        ));
        return out;
    };
    out.push(
        match global_lock::check(redis, config.env_file.as_deref()) {
            Ok(detail) => Check::ok("redis", detail),
            Err(why) if redis.on_unavailable == OnUnavailable::Host => Check::warn(
                "redis",
                format!(
                    "{why}; global-scope fires fall back to this host's lock (on_unavailable: host)"
                ),
            ),
            Err(why) => Check::fail(
                "redis",
                format!("{why}; global-scope fires send nothing and exit 3 (on_unavailable: fail)"),
            ),
        },
    );
    out
}
