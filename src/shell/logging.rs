//! The shim's JSON log lines on stderr: one object per line with `ts`, `level`, `msg`, `app`, `job`,
//! `run_id` and the event's fields, filtered by the effective log level.
//!
//! Owns the slog drain. Callers must never pass secret material, signatures or the `Authorization`
//! value as a field; this module does not inspect what it is given.

use std::sync::Mutex;

use slog::{Drain, FnValue, Level, Logger, PushFnValue, Record, o};

use crate::settings::LogLevel;

/// The default level: a healthy fire prints nothing (cron mails any output).
pub const DEFAULT_LEVEL: LogLevel = LogLevel::Warn;

/// The effective level: the `--log-level` flag, else the config's `log_level`, else `warn`.
pub fn effective_level(flag: Option<LogLevel>, config: Option<LogLevel>) -> LogLevel {
    flag.or(config).unwrap_or(DEFAULT_LEVEL)
}

/// A logger that writes JSON lines to stderr, each line escaped for the terminal and passed on in one
/// `write` (`printer::EscapedLines`), carrying the fire's identity on every line.
pub fn shim_logger(level: LogLevel, app: &str, job: &str, run_id: &str) -> Logger {
    command_logger(level)
        .new(o!("app" => app.to_string(), "job" => job.to_string(), "run_id" => run_id.to_string()))
}

/// The same JSON lines without a fire's identity (for `check`, whose lines name their job).
pub fn command_logger(level: LogLevel) -> Logger {
    let json = slog_json::Json::new(crate::printer::EscapedLines::new(std::io::stderr()))
        .add_key_value(o!(
            "ts" => FnValue(|_: &Record| now_rfc3339()),
            "level" => FnValue(|r: &Record| level_name(r.level())),
            "msg" => PushFnValue(|r: &Record, ser| ser.emit(r.msg())),
        ))
        .build();
    let drain = Mutex::new(json).fuse();
    let drain = slog::LevelFilter::new(drain, slog_level(level)).fuse();
    Logger::root(drain, o!())
}

/// A logger that drops everything (for code paths that run before the level is known, and tests).
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}

fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{now:.3}")
}

fn slog_level(level: LogLevel) -> Level {
    match level {
        LogLevel::Error => Level::Error,
        LogLevel::Warn => Level::Warning,
        LogLevel::Info => Level::Info,
        LogLevel::Debug => Level::Debug,
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::Error => "error",
        Level::Warning => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_config_and_warn_is_the_default() {
        assert_eq!(
            effective_level(Some(LogLevel::Debug), Some(LogLevel::Error)),
            LogLevel::Debug
        );
        assert_eq!(effective_level(None, Some(LogLevel::Info)), LogLevel::Info);
        assert_eq!(effective_level(None, None), LogLevel::Warn);
    }
}
