//! The effects shell: files, processes, HTTP, locks and the clock around the pure core.

pub mod config;
pub mod source;
pub mod tz;
