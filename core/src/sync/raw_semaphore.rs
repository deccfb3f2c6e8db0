//! The fair counting semaphore behind [`Semaphore`](super::Semaphore),
//! [`Mutex`](super::Mutex) and [`RwLock`](super::RwLock).
//!
//! Acquirers are served strictly in arrival order. Released permits go to
//! the first waiter in line, even partially: a waiter that needs more than is
//! available collects permits as they are released, and nobody behind it can
//! take any in the meantime. That is what keeps a writer of the
//! [`RwLock`](super::RwLock) (which needs every permit) from being starved by
//! a stream of readers, and what makes the [`Mutex`](super::Mutex) hand the
//! lock over in FIFO order.
//!
//! Invariant: if anyone waits in line, `available == 0` (every release feeds
//! the line first, and a waiter joins the line only after taking everything
//! available).
//!
//! Cancellation: a dropped [`Acquire`] gives back whatever it had collected,
//! or all of it if it had been served but not yet polled, through the same
//! release path, so the permits go to the next waiter.

use super::waiters::{Key, Waiters, WakeList, poll_wait, wake_all};
use crate::spin::SpinLock;
use core::task::{Context, Poll};

/// A fair counting semaphore; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct RawSemaphore {
    state: SpinLock<State>,
}

#[derive(Debug)]
struct State {
    available: usize,
    closed: bool,
    /// Each waiter's data: how many permits it still needs.
    waiters: Waiters<usize>,
}

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl RawSemaphore {
    /// A semaphore with `permits` permits.
    pub(crate) fn new(permits: usize) -> Self {
        RawSemaphore {
            state: SpinLock::new(State {
                available: permits,
                closed: false,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Permits available right now.
    pub(crate) fn available(&self) -> usize {
        self.state.lock().available
    }

    /// Takes `n` permits if they are available and nobody waits for any.
    /// `Ok(false)` means not now.
    pub(crate) fn try_acquire(&self, n: usize) -> Result<bool, Closed> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Closed);
        }
        if state.available >= n && (n == 0 || state.waiters.is_empty()) {
            state.available -= n;
            return Ok(true);
        }
        Ok(false)
    }

    /// Gives `n` permits back, serving waiters in line first. Panics if the
    /// count would overflow `max` (the caller's documented maximum).
    pub(crate) fn release(&self, mut n: usize, max: usize) {
        let mut wakers = WakeList::new();
        loop {
            let mut state = self.state.lock();
            while n > 0 && !wakers.is_full() {
                let Some(needed) = state.waiters.first_mut() else {
                    break;
                };
                let given = n.min(*needed);
                *needed -= given;
                n -= given;
                if *needed == 0 {
                    wakers.push(state.waiters.notify_first());
                }
            }
            if n == 0 || state.waiters.is_empty() {
                let total = state.available.checked_add(n).filter(|&t| t <= max);
                let Some(total) = total else {
                    drop(state);
                    panic!("semaphore permit count overflow: more than {max} permits");
                };
                state.available = total;
                return;
            }
            // More waiters to serve than one batch of wakers: wake these
            // first, with the lock released.
            drop(state);
            wakers.wake_all();
        }
    }

    /// Closes the semaphore: pending and future acquires fail.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.waiters.notify_all();
        drop(state);
        wake_all(&self.state, |s| &mut s.waiters);
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

/// A pending acquisition of `n` permits from a [`RawSemaphore`]: the common
/// part of the acquire, lock, read and write futures.
#[derive(Debug)]
pub(crate) struct Acquire {
    n: usize,
    /// The place in line, once waiting.
    key: Option<Key>,
    /// The largest permit count of this semaphore, for give-backs.
    max: usize,
}

impl Acquire {
    /// An acquisition of `n` permits that has not started; `max` is the
    /// semaphore's largest permit count.
    pub(crate) const fn new(n: usize, max: usize) -> Self {
        Acquire { n, key: None, max }
    }

    /// How many permits this acquires.
    pub(crate) fn permits(&self) -> usize {
        self.n
    }

    /// Tries to finish: `Ready(Ok(()))` once all `n` permits are ours.
    /// Must not be polled again after `Ready`.
    pub(crate) fn poll(
        &mut self,
        sem: &RawSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Closed>> {
        let n = self.n;
        poll_wait(
            &sem.state,
            |s| &mut s.waiters,
            &mut self.key,
            &mut (),
            cx.waker(),
            |state, key, ()| {
                if let Some(k) = key.take() {
                    // Notified: either served (needs nothing more) or woken
                    // by `close`.
                    if state.waiters.is_notified(&k) || state.closed {
                        let removed = state.waiters.remove(k);
                        let result = if removed.data == 0 {
                            Ok(())
                        } else {
                            // Whatever it had collected stays with the
                            // closed semaphore, counted as available.
                            state.available += n - removed.data;
                            Err(Closed)
                        };
                        return Some((result, Some(removed)));
                    }
                    *key = Some(k);
                    None
                } else if state.closed {
                    Some((Err(Closed), None))
                } else if state.available >= n && (n == 0 || state.waiters.is_empty()) {
                    // Zero permits never wait; anything else waits its turn.
                    state.available -= n;
                    Some((Ok(()), None))
                } else {
                    None
                }
            },
            |state, ()| {
                // Joining the line: take what there is now (only possible
                // when the line was empty, see the invariant).
                let taken = state.available.min(n);
                state.available -= taken;
                n - taken
            },
        )
        // The removed waiter is dropped unlocked.
        .map(|(result, _removed)| result)
    }

    /// Leaves the line if waiting, giving back what was collected. Call from
    /// the owning future's `drop`.
    pub(crate) fn cancel(&mut self, sem: &RawSemaphore) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut state = sem.state.lock();
        let removed = state.waiters.remove(key);
        let collected = self.n - removed.data;
        if state.closed {
            state.available += collected;
            drop(state);
        } else {
            drop(state);
            if collected > 0 {
                sem.release(collected, self.max);
            }
        }
        drop(removed);
    }
}
