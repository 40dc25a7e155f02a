//! The one place that turns a command's failure into a message on stderr and an exit code.
//!
//! Commands return `Result<ExitStatus, Failure>` (the statuses are named in `core::exit_status`);
//! nothing else in the crate prints errors or turns a status into the process's exit code. Messages must already be redacted: this module never sees secret bytes. They are
//! escaped for the terminal here (`core::escape`): a message may quote outside text.

use std::fmt;
use std::process::ExitCode;

use crate::settings::Output;

/// What a command reports when it ran to completion: the exit status it chose.
pub use crate::core::exit_status::ExitStatus;

/// Why a command failed, which fixes its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad input: invalid manifest, unreadable source, bad flag value (exit 1).
    Invalid,
    /// Usage error not caught by clap (exit 2).
    Usage,
    /// The crontab backend is unusable: unreadable crontab, `crontab(1)` failed, unwritable target (exit 3).
    Backend,
    /// The manifest endpoint refused the signed fetch with 401/403 (exit 4).
    FetchRejected,
    /// The trigger shim's internal error: spec, config, secrets (exit 3).
    ShimInternal,
    /// The target changed between the read and the write (a stale revision): re-run (exit 3).
    Conflict,
}

impl FailureKind {
    /// The kind as structured errors name it.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Invalid => "invalid",
            FailureKind::Usage => "usage",
            FailureKind::Backend => "backend",
            FailureKind::FetchRejected => "fetch_rejected",
            FailureKind::ShimInternal => "internal",
            FailureKind::Conflict => "conflict",
        }
    }

    pub fn exit_status(self) -> ExitStatus {
        match self {
            FailureKind::Invalid => ExitStatus::FAILED,
            FailureKind::Usage => ExitStatus::USAGE,
            FailureKind::Backend => ExitStatus::BACKEND,
            FailureKind::FetchRejected => ExitStatus::FETCH_REJECTED,
            FailureKind::ShimInternal => ExitStatus::FIRE_INTERNAL,
            FailureKind::Conflict => ExitStatus::BACKEND,
        }
    }
}

/// A failure with a message that names the thing, the place and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Invalid, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Usage, message)
    }
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Backend, message)
    }
    /// The target changed under an apply (`what` names it and how): nothing of this op was
    /// written, and a new run plans against the new state.
    pub fn conflict(what: impl std::fmt::Display) -> Self {
        Self::new(
            FailureKind::Conflict,
            format!("{what}: the target changed since it was read; re-run the command"),
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Print a failure's message (one line, prefixed `cronix: error:`) and return the process exit code.
/// A process that must end at once (a signal, a panic) exits through `exit_now`.
pub fn report(outcome: Result<ExitStatus, Failure>) -> ExitCode {
    report_as(outcome, Output::Table)
}

/// `report` in the output format the command was asked for: with `-o json`/`-o yaml` a failure is
/// one JSON object on stderr, `{"error": {"message", "exit_code", "kind"}}` (YAML: the same
/// document), so a script reading structured output gets structured errors too.
pub fn report_as(outcome: Result<ExitStatus, Failure>, output: Output) -> ExitCode {
    match outcome {
        Ok(status) => ExitCode::from(status.0),
        Err(failure) if output.is_structured() => {
            structured_error(
                output,
                &failure.message,
                failure.kind.exit_status(),
                failure.kind.name(),
            );
            ExitCode::from(failure.kind.exit_status().0)
        }
        Err(failure) => {
            let mut stderr = anstream::stderr();
            let style = anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Red.into()));
            use std::io::Write;
            let message = crate::core::escape::terminal(&failure.message);
            let _ = writeln!(stderr, "{style}cronix: error:{style:#} {message}");
            ExitCode::from(failure.kind.exit_status().0)
        }
    }
}

/// End the process at once with `status` (the shim on SIGTERM, a `Replace` request or a panic, after
/// it recorded the run).
pub fn exit_now(status: ExitStatus) -> ! {
    std::process::exit(i32::from(status.0))
}

/// One structured error on stderr (escaped like every line cronix prints).
pub fn structured_error(output: Output, message: &str, status: ExitStatus, kind: &str) {
    let doc = serde_json::json!({
        "error": {"message": message, "exit_code": status.0, "kind": kind}
    });
    let text = crate::printer::structured_text(output, &doc).unwrap_or_default();
    use std::io::Write;
    let _ = std::io::stderr().write_all(crate::core::escape::terminal(&text).as_bytes());
}
