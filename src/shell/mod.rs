//! The effects shell: files, processes, HTTP, locks and the clock around the pure core.

pub mod config;
pub mod env_file;
pub mod fire;
pub mod history;
pub mod http;
pub mod lock;
pub mod logging;
pub mod protected_file;
pub mod secrets;
pub mod source;
pub mod spec_read;
pub mod tz;
