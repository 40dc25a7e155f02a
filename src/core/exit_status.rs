//! Every exit status cronix uses, named once: the reconciler's and the tools' (0–7) and the trigger
//! shim's, which cron and systemd read (0–4, 143). Commands and the shim pick a name from here; only
//! `crate::error` turns one into the process's exit code. Pure data.

/// A process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub u8);

impl ExitStatus {
    pub const OK: ExitStatus = ExitStatus(0);
    /// The answer is no, or the input is wrong: an invalid manifest or config, a signature that does
    /// not verify, a `doctor` check that failed, a missed fire, a job that does not exist.
    pub const FAILED: ExitStatus = ExitStatus(1);
    /// The command line is wrong: an unknown flag, a malformed flag value, a missing argument.
    pub const USAGE: ExitStatus = ExitStatus(2);
    /// The backend is unusable: an unreadable or unwritable target, `crontab(1)` or `systemctl`
    /// failed.
    pub const BACKEND: ExitStatus = ExitStatus(3);
    /// The app refused the signed manifest fetch (HTTP 401/403).
    pub const FETCH_REJECTED: ExitStatus = ExitStatus(4);
    /// `drift --exit-on-drift`: the installed state differs from the manifest.
    pub const DRIFTED: ExitStatus = ExitStatus(5);
    /// `adopt`: the crontab and the manifest disagree; nothing was written.
    pub const ADOPT_DIVERGED: ExitStatus = ExitStatus(6);
    /// `adopt`: no hand-written line runs the job.
    pub const ADOPT_NOTHING_FOUND: ExitStatus = ExitStatus(7);

    /// The trigger: the app accepted the fire (or it was a duplicate of one already made).
    pub const FIRE_OK: ExitStatus = ExitStatus(0);
    /// The trigger: the app rejected the request (a 4xx other than 408/429).
    pub const FIRE_REJECTED: ExitStatus = ExitStatus(1);
    /// The trigger: every attempt failed.
    pub const FIRE_EXHAUSTED: ExitStatus = ExitStatus(2);
    /// The trigger's internal error (spec, config, secrets, bad arguments): cron's "internal".
    pub const FIRE_INTERNAL: ExitStatus = ExitStatus(3);
    /// The trigger: another fire of the job holds its overlap lock (`Forbid`).
    pub const FIRE_CONTENDED: ExitStatus = ExitStatus(4);
    /// The trigger stopped by SIGTERM or a `Replace` fire (the shell's 128 + 15).
    pub const FIRE_TERMINATED: ExitStatus = ExitStatus(143);
}
