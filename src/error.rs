//! The one place that turns a command's failure into a message on stderr and an exit code.
//!
//! Commands return `Result<Status, Failure>`; nothing else in the crate prints errors or picks exit codes
//! for failures. Messages must already be redacted: this module never sees secret bytes. They are
//! escaped for the terminal here (`core::escape`): a message may quote outside text.

use std::fmt;
use std::process::ExitCode;

/// What a command reports when it ran to completion: the exit status it chose (0 ok, 1 verify
/// mismatch, 5 drift, the shim's 0..4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    pub const OK: Status = Status(0);
    /// `adopt`: the crontab and the manifest disagree; nothing was written.
    pub const ADOPT_DIVERGED: Status = Status(6);
    /// `adopt`: no hand-written line runs the job.
    pub const ADOPT_NOTHING_FOUND: Status = Status(7);
}

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
}

impl FailureKind {
    pub fn exit_code(self) -> u8 {
        match self {
            FailureKind::Invalid => 1,
            FailureKind::Usage => 2,
            FailureKind::Backend => 3,
            FailureKind::FetchRejected => 4,
            FailureKind::ShimInternal => 3,
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
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Print a failure's message (one line, prefixed `cronix: error:`) and return the process exit code.
pub fn report(outcome: Result<Status, Failure>) -> ExitCode {
    match outcome {
        Ok(Status(code)) => ExitCode::from(code),
        Err(failure) => {
            let mut stderr = anstream::stderr();
            let style = anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Red.into()));
            use std::io::Write;
            let message = crate::core::escape::terminal(&failure.message);
            let _ = writeln!(stderr, "{style}cronix: error:{style:#} {message}");
            ExitCode::from(failure.kind.exit_code())
        }
    }
}
