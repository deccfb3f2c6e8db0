//! Loom models of the runtime's own lock-free protocols: parking a worker
//! ([`ParkState`]) and the sleeping-worker list ([`Sleepers`]). Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p xasync --release --lib loom`.
//!
//! The models drive the runtime's own code; only the reactor is a stand-in
//! ([`EventFd`]), so a wake-up the protocols lose leaves a worker waiting
//! on loom's condition variable forever, which loom reports as a deadlock.
//!
//! [`Sleepers`]: super::sleepers::Sleepers

mod loom_park;
mod loom_sleepers;

use super::park::ParkState;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Condvar, Mutex};

/// What a worker's reactor does for parking: its eventfd. A write is
/// reported by the next wait (`epoll_wait`), however late that comes, and
/// writes not reported yet are reported once, together: the eventfd is
/// registered edge-triggered, and mio never reads it (but to reset a full
/// counter).
#[derive(Default)]
struct EventFd {
    /// Whether a write waits to be reported, and how many writes there were.
    state: Mutex<(bool, usize)>,
    written: Condvar,
}

impl EventFd {
    /// `mio::Waker::wake`.
    fn write(&self) {
        let mut state = self.state.lock().unwrap();
        state.0 = true;
        state.1 += 1;
        self.written.notify_one();
    }

    /// `epoll_wait` without a timeout (nothing else is registered): returns
    /// once a write is reported.
    fn wait(&self) {
        let mut state = self.state.lock().unwrap();
        while !state.0 {
            state = self.written.wait(state).unwrap();
        }
        state.0 = false;
    }

    /// `epoll_wait` that returns without sleeping (a zero timeout, or one
    /// that expires, or a socket that is ready), reporting the pending
    /// write if there is one.
    fn poll(&self) {
        self.state.lock().unwrap().0 = false;
    }

    /// How many times it was written.
    fn writes(&self) -> usize {
        self.state.lock().unwrap().1
    }
}

/// `runtime::park::Parker` with the stand-in reactor.
struct Parker {
    state: ParkState,
    eventfd: EventFd,
    /// How many parks announced a sleep (`sleep(true)`).
    sleeps: AtomicUsize,
}

impl Parker {
    fn new() -> Parker {
        Parker {
            state: ParkState::new(),
            eventfd: EventFd::default(),
            sleeps: AtomicUsize::new(0),
        }
    }

    /// A park without a deadline: sleeps until unparked.
    fn park(&self) {
        self.state.park(|sleep| {
            if sleep {
                self.sleeps.fetch_add(1, Ordering::Relaxed);
                self.eventfd.wait();
            } else {
                self.eventfd.poll();
            }
        });
    }

    /// A park whose sleep ends at once, whatever it was told: its deadline
    /// passed, or a socket became ready.
    fn park_cut_short(&self) {
        self.state.park(|sleep| {
            if sleep {
                self.sleeps.fetch_add(1, Ordering::Relaxed);
            }
            self.eventfd.poll();
        });
    }

    fn unpark(&self) {
        self.state.unpark(|| self.eventfd.write());
    }
}
