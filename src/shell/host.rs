//! This host's id in alert events and metric labels: the config's `host_id`, else the kernel's host
//! name. Reads one small file; decides nothing else.

use std::path::Path;

use crate::shell::config::Config;

/// The config's `host_id`, else `/proc/sys/kernel/hostname`, else `localhost`.
pub fn host_id(config: &Config) -> String {
    if let Some(id) = &config.host_id {
        return id.clone();
    }
    std::fs::read_to_string(Path::new("/proc/sys/kernel/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
