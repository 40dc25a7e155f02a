//! The effects shell: files, processes, HTTP, locks and the clock around the pure core.

pub mod after_fire;
pub mod alert;
pub mod atomic;
pub mod audit;
pub mod clock;
pub mod config;
pub mod crontab_target;
pub mod env_file;
pub mod fire;
pub mod history;
pub mod host;
pub mod http;
pub mod job_state;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod passwd;
pub mod protected_file;
pub mod reconcile;
pub mod secrets;
pub mod source;
pub mod spec_store;
pub mod test_pause;
pub mod tz;
