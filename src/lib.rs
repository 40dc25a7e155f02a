//! cronix: reconcile an application's scheduled HTTP jobs into crontab, and fire them signed.
//!
//! `core` is pure (values in, values out); `shell` does the I/O; `commands` holds one module per
//! subcommand; `error` is the one place that turns failures into messages and exit codes.

/// `println!` for command output: the text goes through `printer::out`, which escapes it.
macro_rules! outln {
    () => {
        $crate::printer::out("\n")
    };
    ($($arg:tt)*) => {
        $crate::printer::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output, escaped like `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::printer::out(&format!($($arg)*))
    };
}

pub mod cli;
pub mod commands;
pub mod core;
pub mod env;
pub mod error;
pub mod printer;
pub mod settings;
pub mod shell;

use std::process::ExitCode;

/// Parse the command line, run the chosen command, and map its outcome to an exit code. The process
/// is made non-dumpable first, before anything (a secret above all) is read.
pub fn run() -> ExitCode {
    shell::harden::not_dumpable();
    let args = env::args();
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(status) => return error::report(Ok(status)),
    };
    let output = cli.global.output;
    let outcome = commands::dispatch(cli);
    error::report_as(outcome, output)
}
