//! Process-wide protections set once, first thing in `main`, before any config, secret or peer is
//! read: the process is made non-dumpable (`PR_SET_DUMPABLE` 0), so no core file is written from a
//! process that holds secrets, other users' processes cannot ptrace it, and its `/proc/PID` files
//! belong to root.
//!
//! Applies to every command (the shim, apply, plan, validate, check, sign, verify, …): all of them
//! may resolve secrets, and one `prctl` costs microseconds. Must not fail the command: a kernel that
//! refuses the call leaves the process as it was.

/// Make this process non-dumpable. A failure is ignored (nothing can be done about it, and the
/// command must still run).
pub fn not_dumpable() {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_is_not_dumpable_afterwards() {
        super::not_dumpable();
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
