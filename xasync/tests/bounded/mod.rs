//! A bound on test code that could hang (a shutdown, a cancellation): it
//! runs on a thread, and the test fails if it has not returned in time,
//! instead of hanging the whole test run.

use std::time::Duration;

/// Runs `f` on a thread and returns its value; panics, naming `what`, if
/// it has not returned within `limit` (or panicked).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(f());
    });
    done_rx
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}
