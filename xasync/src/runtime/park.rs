//! Parking an idle worker until work arrives, a timer is due or a file
//! descriptor it watches becomes ready.
//!
//! Each worker owns a [`Reactor`] (an epoll instance, see [`crate::io`])
//! and parks *in* it: `park` is `epoll_wait` with the earliest timer
//! deadline as timeout, so one system call sleeps until any of the three
//! kinds of wake-up, and the readiness it returns wakes the waiting tasks
//! right there, on the worker. Anyone who gives the worker work calls
//! `unpark`, which writes the reactor's eventfd only if the worker is
//! actually asleep (or about to be). An `unpark` that comes before the
//! `park` is remembered, so a wake-up is never lost.

use crate::io::reactor::Reactor;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// The worker runs: an `unpark` only leaves a note.
const RUNNING: u8 = 0;
/// The worker sleeps (or is about to) in `epoll_wait`: `unpark` must
/// write the eventfd.
const PARKED: u8 = 1;
/// An `unpark` came; the next (or current) park returns at once.
const NOTIFIED: u8 = 2;

/// One worker's sleep and wake-up, over its reactor.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicU8,
    reactor: Reactor,
}

impl Parker {
    /// A parker with a new reactor.
    ///
    /// # Errors
    ///
    /// If the epoll instance or its eventfd cannot be created.
    pub(crate) fn new() -> io::Result<Parker> {
        Ok(Parker {
            state: AtomicU8::new(RUNNING),
            reactor: Reactor::new()?,
        })
    }

    /// The worker's reactor, where its sockets and callbacks are registered.
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// Sleeps until [`unpark`](Self::unpark) is called (or was, since the
    /// last park), until a registered file descriptor is ready, or until
    /// `deadline`; wakes the tasks waiting for the readiness it saw.
    /// Called only by the owning worker.
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        let announced =
            self.state
                .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire);
        let timeout = match announced {
            // Notified already: only collect the readiness that is there.
            Err(_) => Some(Duration::ZERO),
            Ok(_) => deadline.map(|d| d.saturating_duration_since(Instant::now())),
        };
        self.reactor.poll(timeout);
        self.state.store(RUNNING, Ordering::Release);
    }

    /// Collects the readiness that is there without sleeping (a busy
    /// worker calls this now and then so that I/O is never starved); no
    /// system call while nothing is registered.
    pub(crate) fn poll_now(&self) {
        if !self.reactor.is_empty() {
            self.reactor.poll(Some(Duration::ZERO));
        }
    }

    /// Wakes the worker, now or at its next park.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
            self.reactor.wake();
        }
    }
}
