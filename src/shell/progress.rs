//! Progress of a wait the operator may wonder about (the apply lock, a slow manifest fetch): after one
//! second, and every five seconds after that, one `cronix: waiting …` line on stderr saying what is
//! awaited and how long cronix will still wait.
//!
//! Only on a terminal: when stderr is not a tty (cron, CI, a pipe) nothing is printed and no thread
//! is started. Owns the timing and the printing of these lines only; what is awaited and the words
//! come from the caller, which must not put a secret or a URL's query in them.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Before the first line.
const FIRST: Duration = Duration::from_secs(1);
/// Between lines after that.
const EVERY: Duration = Duration::from_secs(5);

/// A wait being watched; dropping it (the wait ended) stops the lines at once.
pub struct Watch {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Watch a wait that ends at the latest after `limit`. `say(waited, left)` gives the line's text
/// (without the `cronix: ` prefix).
pub fn watch(
    limit: Duration,
    say: impl Fn(Duration, Duration) -> String + Send + 'static,
) -> Watch {
    if !std::io::stderr().is_terminal() {
        return Watch {
            stop: None,
            thread: None,
        };
    }
    let started = Instant::now();
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut next = FIRST;
        loop {
            match stopped.recv_timeout(next.saturating_sub(started.elapsed())) {
                Err(RecvTimeoutError::Timeout) => {
                    let waited = started.elapsed();
                    crate::printer::err_line(
                        "cronix: ",
                        &say(waited, limit.saturating_sub(waited)),
                    );
                    next += EVERY;
                }
                _ => return,
            }
        }
    });
    Watch {
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A duration as whole seconds, rounded up (`3 s`): what a waiting operator reads.
pub fn seconds(d: Duration) -> String {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    format!("{whole} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds(Duration::from_millis(1)), "1 s");
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(seconds(Duration::ZERO), "0 s");
    }
}
