//! Retry decisions and backoff math for the shim: which outcomes are retried, how long to wait
//! (`min_seconds·2^(n−1)` capped at `max_seconds`, with jitter), and how a `Retry-After` is honoured.
//!
//! Pure: the caller passes the current time and the random jitter fraction. Must not sleep.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::manifest::{Policy, Retries};

/// The longest one fire may last, in seconds (DESIGN §11: a fire must end before fires pile up
/// without bound). apply refuses a job whose `worst_case_fire` is longer.
pub const MAX_FIRE_SECONDS: u64 = 3600;

/// The longest a fire of `policy` can last: every attempt running into its timeout, and every wait
/// between attempts at its ceiling, `max_seconds` (the backoff is capped there, and so is a
/// `Retry-After`). Jitter only shortens a wait.
pub fn worst_case_fire(policy: &Policy) -> Duration {
    let attempts = u64::from(policy.retries.max_attempts.max(1));
    let sending = attempts.saturating_mul(u64::from(policy.timeout_seconds));
    let waiting = (attempts - 1).saturating_mul(u64::from(policy.retries.max_seconds));
    Duration::from_secs(sending.saturating_add(waiting))
}

/// What one attempt's outcome means for the fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the fire succeeded.
    Success,
    /// 408, 429, 5xx, network errors, timeouts: try again if attempts remain.
    Retry,
    /// Any other status (other 4xx, 3xx): the application refused; no retry.
    Reject,
}

/// Classify an HTTP status code.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Reject,
    }
}

/// The wait before the attempt after attempt `failed_attempt` (1-based): exponential backoff capped at
/// `max_seconds`, scaled into `[½·d, d]` by `jitter` ∈ [0, 1) ("equal jitter", so concurrent fires
/// spread out without ever waiting less than half the backoff).
pub fn backoff_delay(retries: &Retries, failed_attempt: u32, jitter: f64) -> Duration {
    let exponent = failed_attempt.saturating_sub(1).min(31);
    let base = u64::from(retries.min_seconds).saturating_mul(1u64 << exponent);
    let capped = Duration::from_secs(base.min(u64::from(retries.max_seconds)));
    let jitter = jitter.clamp(0.0, 1.0);
    capped.mul_f64(0.5 + 0.5 * jitter)
}

/// The wait a `Retry-After` value asks for (delta-seconds or an HTTP date), capped at `max_seconds`.
/// Unparseable values are ignored (None); dates in the past mean no wait.
pub fn retry_after(value: &str, now: Timestamp, max_seconds: u32) -> Option<Duration> {
    let cap = Duration::from_secs(u64::from(max_seconds));
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let delta = at.duration_since(now);
        Duration::try_from(delta).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}

/// The wait before the next attempt: the backoff, or the server's `Retry-After` when that is longer.
pub fn next_wait(
    retries: &Retries,
    failed_attempt: u32,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Duration {
    let backoff = backoff_delay(retries, failed_attempt, jitter);
    retry_after.map_or(backoff, |asked| asked.max(backoff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_case_fire_counts_every_timeout_and_every_capped_wait() {
        use crate::core::manifest::{Concurrency, ConcurrencyScope};
        let policy = |attempts, timeout, max| Policy {
            concurrency: Concurrency::Allow,
            concurrency_scope: ConcurrencyScope::Host,
            timeout_seconds: timeout,
            retries: Retries {
                max_attempts: attempts,
                min_seconds: 1,
                max_seconds: max,
            },
        };
        assert_eq!(
            worst_case_fire(&policy(3, 60, 60)),
            Duration::from_secs(300)
        );
        assert_eq!(
            worst_case_fire(&policy(1, 600, 60)),
            Duration::from_secs(600)
        );
        assert_eq!(
            worst_case_fire(&policy(10, 600, 86400)),
            Duration::from_secs(10 * 600 + 9 * 86400)
        );
    }

    fn retries(min: u32, max: u32) -> Retries {
        Retries {
            max_attempts: 5,
            min_seconds: min,
            max_seconds: max,
        }
    }

    #[test]
    fn statuses_are_classified_as_the_design_says() {
        for ok in [200, 201, 204, 299] {
            assert_eq!(classify_status(ok), Verdict::Success, "{ok}");
        }
        for retry in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(classify_status(retry), Verdict::Retry, "{retry}");
        }
        for reject in [100, 301, 302, 304, 400, 401, 403, 404, 409, 422] {
            assert_eq!(classify_status(reject), Verdict::Reject, "{reject}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = retries(2, 30);
        let full = |n| backoff_delay(&r, n, 1.0);
        assert_eq!(full(1), Duration::from_secs(2));
        assert_eq!(full(2), Duration::from_secs(4));
        assert_eq!(full(3), Duration::from_secs(8));
        assert_eq!(full(4), Duration::from_secs(16));
        assert_eq!(full(5), Duration::from_secs(30));
        assert_eq!(full(40), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_backoff() {
        let r = retries(4, 60);
        assert_eq!(backoff_delay(&r, 1, 0.0), Duration::from_secs(2));
        let mid = backoff_delay(&r, 1, 0.5);
        assert!(mid > Duration::from_secs(2) && mid < Duration::from_secs(4));
        assert_eq!(backoff_delay(&retries(0, 60), 3, 0.7), Duration::ZERO);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_is_capped() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(retry_after("2", now, 30), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("120", now, 30), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Sun, 01 Mar 2026 12:00:10 GMT", now, 30),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now, 30),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now, 30), None);
    }

    #[test]
    fn a_longer_retry_after_wins_over_the_backoff() {
        let r = retries(1, 30);
        let asked = Some(Duration::from_secs(2));
        assert_eq!(next_wait(&r, 1, 1.0, asked), Duration::from_secs(2));
        assert_eq!(next_wait(&r, 4, 1.0, asked), Duration::from_secs(8));
        assert_eq!(next_wait(&r, 1, 1.0, None), Duration::from_secs(1));
    }
}
