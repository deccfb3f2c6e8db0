//! A reusable barrier for a fixed number of tasks.

use super::waiters::{Key, Waiters, poll_wait, wake_all};
use crate::spin::SpinLock;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

/// Lets `n` tasks wait until all of them have arrived, then releases them
/// together; it then starts over for the next round (generation).
///
/// A task *arrives* when its [`wait_async`](Self::wait_async) future is
/// first polled. The last arrival of a round is its leader
/// ([`BarrierWaitResult::is_leader`]) and returns at once.
///
/// Cancellation: dropping a future that has arrived but whose round has
/// not completed withdraws the arrival (the round then waits for another
/// task); once the round has completed, dropping changes nothing.
///
/// ```
/// use futures::executor::block_on;
/// use std::sync::Arc;
/// use xasync_core::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = barrier.clone();
///         std::thread::spawn(move || block_on(barrier.wait_async()).is_leader())
///     })
///     .collect();
/// let leaders = threads.into_iter().map(|t| t.join().unwrap());
/// assert_eq!(leaders.filter(|&leader| leader).count(), 1);
/// ```
pub struct Barrier {
    n: usize,
    state: SpinLock<State>,
}

#[derive(Debug)]
struct State {
    /// Arrivals in the current round.
    arrived: usize,
    /// Completed rounds (wrapping).
    generation: usize,
    waiters: Waiters<()>,
}

impl Barrier {
    /// A barrier for `n` tasks. `Barrier::new(0)` behaves like
    /// `Barrier::new(1)`: every wait returns at once, as leader.
    pub fn new(n: usize) -> Self {
        Barrier {
            n: n.max(1),
            state: SpinLock::new(State {
                arrived: 0,
                generation: 0,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Arrives at the barrier (when first polled) and waits for the round
    /// to complete.
    pub fn wait_async(&self) -> BarrierWaitFut<'_> {
        BarrierWaitFut {
            barrier: self,
            round: None,
            key: None,
            done: false,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

/// What [`Barrier::wait_async`] resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this task completed the round (exactly one per round).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// The future returned by [`Barrier::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWaitFut<'a> {
    barrier: &'a Barrier,
    /// The round (generation) it arrived in, once arrived.
    round: Option<usize>,
    /// Its place in line, once arrived.
    key: Option<Key>,
    done: bool,
}

impl Future for BarrierWaitFut<'_> {
    type Output = BarrierWaitResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = &mut *self;
        assert!(!this.done, "BarrierWaitFut polled after completion");
        let barrier = this.barrier;
        let (leader, _old_waker) = ready!(poll_wait(
            &barrier.state,
            |s| &mut s.waiters,
            &mut this.key,
            &mut this.round,
            cx.waker(),
            |state, key, round| match *round {
                Some(r) if r != state.generation => {
                    let k = key.take().expect("an arrival has a key");
                    *round = None;
                    Some((false, state.waiters.remove(k).waker))
                }
                Some(_) => None,
                None if state.arrived + 1 == barrier.n => {
                    state.arrived = 0;
                    state.generation = state.generation.wrapping_add(1);
                    state.waiters.notify_all();
                    Some((true, None))
                }
                None => None,
            },
            // Arrive only together with joining the line.
            |state, round| {
                state.arrived += 1;
                *round = Some(state.generation);
            },
        ));
        if leader {
            wake_all(&barrier.state, |s| &mut s.waiters);
        }
        this.done = true;
        Poll::Ready(BarrierWaitResult { leader })
    }
}

impl Drop for BarrierWaitFut<'_> {
    fn drop(&mut self) {
        let (Some(round), Some(key)) = (self.round, self.key.take()) else {
            return;
        };
        let mut state = self.barrier.state.lock();
        let removed = state.waiters.remove(key);
        if state.generation == round {
            // The round is not complete: withdraw the arrival.
            state.arrived -= 1;
        }
        drop(state);
        drop(removed);
    }
}

impl fmt::Debug for BarrierWaitFut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitFut")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
