//! The shim's clock: the current instant, which the fire-time gate, the intended fire time, the
//! recorded start of a fire and `cronix check` read.
//!
//! Debug builds (the test suite's) read `CRONIX_TEST_NOW=<unix seconds>` when it is set, so tests can
//! put the shim (or a check) at any minute of the year; release builds never look at it. Must not be
//! used by the reconciler, whose times are for people.

use jiff::Timestamp;

/// The variable a debug build reads as the current time (unix seconds).
pub const TEST_NOW_VAR: &str = "CRONIX_TEST_NOW";

/// Now, or in a debug build the instant `CRONIX_TEST_NOW` names.
pub fn now() -> Timestamp {
    #[cfg(debug_assertions)]
    if let Some(t) = test_now() {
        return t;
    }
    Timestamp::now()
}

#[cfg(debug_assertions)]
fn test_now() -> Option<Timestamp> {
    let value = crate::env::debug_only(TEST_NOW_VAR)?;
    let seconds: i64 = value.to_str()?.trim().parse().ok()?;
    Timestamp::from_second(seconds).ok()
}
