//! The effects shell: files, processes, HTTP, locks and the clock around the pure core.

pub mod atomic;
pub mod audit;
pub mod config;
pub mod crontab_target;
pub mod passwd;
pub mod reconcile;
pub mod source;
pub mod spec_store;
pub mod test_pause;
pub mod tz;
