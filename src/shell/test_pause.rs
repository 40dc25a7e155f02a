//! Test-only pause points: with `CRONIX_TEST_PAUSE_AT=<step>` in the environment, the process stops
//! itself (SIGSTOP) when it reaches that named step, so a crash test can SIGKILL it exactly there.
//!
//! Harmless outside tests: it only stops this process, and only when that variable names a step.
//! Must not change what is written or in which order.

/// Environment variable that names the step to stop at.
pub const PAUSE_VAR: &str = "CRONIX_TEST_PAUSE_AT";

/// Stop this process if `CRONIX_TEST_PAUSE_AT` names `step`.
pub fn at(step: &str) {
    if std::env::var_os(PAUSE_VAR).is_some_and(|v| v == step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
    }
}

/// Environment variable that names the step at which a debug build panics.
pub const PANIC_VAR: &str = "CRONIX_TEST_PANIC_AT";

/// In a debug build (the test suite's), panic if `CRONIX_TEST_PANIC_AT` names `step`, so tests can
/// check that a panic is recorded, exits 3 and releases the lock. Release builds compile it away.
pub fn panic_at(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(PANIC_VAR).is_some_and(|v| v == step) {
        panic!("test panic at {step}");
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
