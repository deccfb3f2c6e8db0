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
//!
//! With the io_uring backend the worker sleeps in its ring instead
//! (`io_uring_enter` with the same timeout), which watches the epoll
//! instance, so the eventfd wakes it all the same (see `io::uring`).

use crate::io::IoBackend;
use crate::io::reactor::Reactor;
use crate::loom::{AtomicU8, Ordering};
use std::io;
use std::time::{Duration, Instant};

/// The worker runs: an `unpark` only leaves a note.
const RUNNING: u8 = 0;
/// The worker sleeps (or is about to) in `epoll_wait`: `unpark` must
/// write the eventfd.
const PARKED: u8 = 1;
/// An `unpark` came; the next (or current) park returns at once.
const NOTIFIED: u8 = 2;

/// The handshake between a parking worker and its unparkers, apart from
/// how the worker sleeps and how it is woken (the reactor here, loom's
/// primitives in the models of `runtime::tests`).
///
/// Waking costs a system call, so only an `unpark` that finds the worker
/// parked (or about to be) wakes it; one that finds it running leaves a
/// note that makes its next park return at once.
#[derive(Debug)]
pub(crate) struct ParkState(AtomicU8);

impl ParkState {
    /// A running worker's state.
    pub(crate) fn new() -> ParkState {
        ParkState(AtomicU8::new(RUNNING))
    }

    /// Parks the owning worker: calls `sleep(true)` to sleep until the
    /// `wake` of an [`unpark`](Self::unpark) (which may come before the
    /// sleep begins: then the sleep returns at once), or `sleep(false)`
    /// when an `unpark` came since the last park, to only collect what is
    /// ready without sleeping. Called only by the owner.
    #[inline]
    pub(crate) fn park(&self, sleep: impl FnOnce(bool)) {
        let announced =
            self.0
                .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire);
        sleep(announced.is_ok());
        // A swap, not a store: it reads the note of the last `unpark` that
        // came while we slept, so that we see what that unparker published.
        // A store would drop the note unread, and with it a second
        // `unpark`, which found the note of the first (whose wake-up ended
        // this sleep) and so woke no one: its work might go unseen, and
        // with no wake-up pending, the next park would sleep through it.
        self.0.swap(RUNNING, Ordering::AcqRel);
    }

    /// Unparks the owner, now or at its next park: calls `wake` only if it
    /// is parked or about to be (a running owner costs one swap).
    #[inline]
    pub(crate) fn unpark(&self, wake: impl FnOnce()) {
        if self.0.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
            wake();
        }
    }
}

/// One worker's sleep and wake-up, over its reactor.
#[derive(Debug)]
pub(crate) struct Parker {
    state: ParkState,
    reactor: Reactor,
}

impl Parker {
    /// A parker with a new reactor for `backend`.
    ///
    /// # Errors
    ///
    /// If the epoll instance, its eventfd or the ring cannot be created.
    pub(crate) fn new(backend: IoBackend) -> io::Result<Parker> {
        Ok(Parker {
            state: ParkState::new(),
            reactor: Reactor::new(backend)?,
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
        self.state.park(|sleep| {
            let timeout = if sleep {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                // Notified already: only collect the readiness that is there.
                Some(Duration::ZERO)
            };
            // The eventfd written by `wake` stays readable until an
            // `epoll_wait` reports it: a wake before the sleep ends it.
            self.reactor.poll(timeout);
        });
    }

    /// Collects the readiness and completions that are there without
    /// sleeping (a busy worker calls this now and then so that I/O is never
    /// starved), submitting what the ring has queued.
    pub(crate) fn poll_now(&self) {
        self.reactor.poll_now();
    }

    /// Wakes the worker, now or at its next park.
    pub(crate) fn unpark(&self) {
        self.state.unpark(|| self.reactor.wake());
    }
}

/// The runtime of the worker running on this thread and its index, if the
/// thread is a worker: the ring a coroutine submits to is its worker's.
pub(crate) fn current_worker() -> Option<(super::Handle, usize)> {
    super::worker::with_current_shared(|shared| {
        let index = super::worker::current_index(shared)?;
        Some((
            super::Handle {
                shared: shared.clone(),
            },
            index,
        ))
    })
    .flatten()
}
