//! The effects shell: files, processes, HTTP, locks and the clock around the pure core.

pub mod adopt;
pub mod after_fire;
pub mod alert;
pub mod apply_lock;
pub mod atomic;
pub mod audit;
pub mod backend;
pub mod clock;
pub mod config;
pub mod crontab_backend;
pub mod crontab_target;
pub mod env_file;
#[cfg(test)]
pub mod fake_backend;
pub mod fire;
pub mod global_fire;
pub mod global_lock;
pub mod harden;
pub mod history;
pub mod host;
pub mod http;
pub mod job_state;
pub mod k8s_backend;
pub mod k8s_client;
pub mod local_specs;
pub mod lock;
pub mod logging;
pub mod metrics;
#[cfg(test)]
mod orchestration_tests;
pub mod otel;
pub mod passwd;
pub mod progress;
pub mod reconcile;
pub mod resp;
pub mod secrets;
pub mod source;
pub mod spec_store;
pub mod systemd_backend;
pub mod test_pause;
pub mod tls_roots;
pub mod trusted_path;
pub mod tz;
pub mod vercel_backend;
