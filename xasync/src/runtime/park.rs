//! Parking an idle worker until work arrives or a timer is due.
//!
//! A worker sleeps in `park` with the earliest timer deadline as timeout;
//! anyone who gives it work calls `unpark`. An `unpark` that comes before
//! the `park` is remembered, so a wake-up is never lost. (The I/O layer
//! replaces the condition variable with `epoll_wait` behind this same
//! interface.)

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// One worker's sleep and wake-up.
#[derive(Debug, Default)]
pub(crate) struct Parker {
    /// Whether an unpark is pending.
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Parker {
    /// Sleeps until [`unpark`](Self::unpark) is called (or was, since the
    /// last park) or until `deadline`.
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        let mut notified = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        while !*notified {
            match deadline {
                None => {
                    notified = self
                        .condvar
                        .wait(notified)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    let timeout = deadline - now;
                    notified = self
                        .condvar
                        .wait_timeout(notified, timeout.max(Duration::from_micros(50)))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        *notified = false;
    }

    /// Wakes the worker, now or at its next park.
    pub(crate) fn unpark(&self) {
        let mut notified = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        if !*notified {
            *notified = true;
            drop(notified);
            self.condvar.notify_one();
        }
    }
}
