//! This host's identity: the config's `host_id`, else the kernel's host name.
//!
//! One `uname` call, no file or network I/O. Must not be used for anything but naming the host in
//! logs, history, claims, leases, alert events and metric labels.

use crate::core::global_lock;
use crate::shell::config::Config;

/// Used when the host name is empty or not a valid `host_id` (set `host_id` in the config then).
pub const UNKNOWN_HOST: &str = "unknown-host";

/// `host_id` from the config (checked when it was loaded), else the host name.
pub fn host_id(config: &Config) -> String {
    if let Some(id) = &config.host_id {
        return id.clone();
    }
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if global_lock::check_host_id(&name).is_ok() {
        name
    } else {
        UNKNOWN_HOST.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_id_wins_and_the_default_is_a_valid_id() {
        let config = Config {
            host_id: Some("web-1".into()),
            ..Config::default()
        };
        assert_eq!(host_id(&config), "web-1");
        let default = host_id(&Config::default());
        assert!(global_lock::check_host_id(&default).is_ok(), "{default}");
    }
}
