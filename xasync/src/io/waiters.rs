//! The tasks waiting for one direction (read or write) of a socket.
//!
//! Edge-triggered readiness is not a state one can query, so waiting works
//! with a *generation*: every readiness event for the direction bumps it.
//! A waiter reads the generation (its ticket) *before* trying the system
//! call; if the call would block, it registers its waker only if the
//! generation is still its ticket — otherwise an event came in between and
//! it retries at once. Bump and check happen under the same lock, so an
//! event is never lost between a failed attempt and the registration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// Waiters of one direction of one socket.
#[derive(Default)]
pub(crate) struct Waiters {
    /// Readiness events seen so far (changed only under `list`'s lock).
    generation: AtomicU64,
    list: Mutex<List>,
}

/// Usually one waiter (the task serving the socket); any number work.
#[derive(Default)]
struct List {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Waiters {
    /// The ticket to take before an attempt.
    pub(crate) fn ticket(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Ready if an event came since `ticket`; otherwise `waker` will be
    /// woken by the next one.
    pub(crate) fn poll_ready(&self, ticket: u64, waker: &Waker) -> Poll<()> {
        let mut list = self.lock();
        if self.generation.load(Ordering::Relaxed) != ticket {
            return Poll::Ready(());
        }
        match &list.first {
            None => list.first = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                if !list.rest.iter().any(|w| w.will_wake(waker)) {
                    list.rest.push(waker.clone());
                }
            }
        }
        Poll::Pending
    }

    /// A readiness event: bumps the generation and wakes every waiter.
    pub(crate) fn wake(&self) {
        let (first, rest) = {
            let mut list = self.lock();
            self.generation.fetch_add(1, Ordering::Release);
            let rest = if list.rest.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut list.rest)
            };
            (list.first.take(), rest)
        };
        if let Some(waker) = first {
            waker.wake();
        }
        rest.into_iter().for_each(Waker::wake);
    }

    fn lock(&self) -> MutexGuard<'_, List> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}
