//! Waiting, bounded, for what another thread or coroutine does: the test
//! fails instead of hanging if it never happens.

use std::time::{Duration, Instant};

/// Waits until `done` holds, looking every millisecond; panics, naming
/// `what`, if it does not within 30 s.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
