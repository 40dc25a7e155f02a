//! The pure core: values in, values out.
//!
//! Nothing here touches files, processes, the network, the environment or the clock; callers pass the
//! current time, file contents and environment values in.

pub mod adopt;
pub mod alert;
pub mod audit;
pub mod backend_kind;
pub mod backoff;
pub mod change_view;
pub mod check_entry;
pub mod config_scaffold;
pub mod crontab;
pub mod crontab_entry;
pub mod entry_status;
pub mod escape;
pub mod exit_status;
pub mod fire_time;
pub mod global_lock;
pub mod hash;
pub mod history;
pub mod k8s_objects;
pub mod manifest;
pub mod manifest_lint;
pub mod manifest_schema;
pub mod metrics;
pub mod missed;
pub mod otel;
pub mod plan;
pub mod recorded;
pub mod render;
pub mod request_rules;
pub mod schedule;
pub mod scope;
pub mod secret;
pub mod signature;
pub mod spec;
pub mod spec_check;
pub mod strict_json;
pub mod systemd_calendar;
pub mod systemd_unit;
pub mod target_checks;
pub mod trace;
pub mod tz_gate;
pub mod vercel_json;
