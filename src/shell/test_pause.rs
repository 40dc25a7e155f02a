//! Test-only pause and panic points. In a debug build (the test suite's), with
//! `CRONIX_TEST_PAUSE_AT=<step>` the process stops itself (SIGSTOP) when it reaches that named step, so
//! a crash test can SIGKILL it exactly there; with `CRONIX_TEST_PANIC_AT=<step>` it panics there.
//!
//! Release builds compile both away: no variable can make a release binary stop or panic. Must not
//! change what is written or in which order.

/// Environment variable that names the step to stop at (debug builds only).
pub const PAUSE_VAR: &str = "CRONIX_TEST_PAUSE_AT";

/// Environment variable that names the step at which a debug build panics.
pub const PANIC_VAR: &str = "CRONIX_TEST_PANIC_AT";

/// In a debug build, stop this process if `CRONIX_TEST_PAUSE_AT` names `step`.
pub fn at(step: &str) {
    #[cfg(debug_assertions)]
    if crate::env::debug_only(PAUSE_VAR).is_some_and(|v| v == step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// In a debug build, panic if `CRONIX_TEST_PANIC_AT` names `step`, so tests can check that a panic is
/// recorded, exits 3 and releases the lock.
pub fn panic_at(step: &str) {
    #[cfg(debug_assertions)]
    if crate::env::debug_only(PANIC_VAR).is_some_and(|v| v == step) {
        panic!("test panic at {step}");
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
