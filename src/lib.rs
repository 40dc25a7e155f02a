//! cronix: reconcile an application's scheduled HTTP jobs into crontab, and fire them signed.
//!
//! `core` is pure (values in, values out); `shell` does the I/O; `commands` holds one module per
//! subcommand; `error` is the one place that turns failures into messages and exit codes.

pub mod cli;
pub mod commands;
pub mod core;
pub mod env;
pub mod error;
pub mod settings;
pub mod shell;

use std::process::ExitCode;

/// Parse the command line, run the chosen command, and map its outcome to an exit code.
pub fn run() -> ExitCode {
    let args = env::args();
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let outcome = commands::dispatch(cli);
    error::report(outcome)
}
