//! Wait for a counted set of jobs, Go style.

use super::waiters::{Key, Waiters, poll_wait, wake_all};
use crate::spin::SpinLock;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A counter of outstanding jobs that tasks can wait on, like Go's
/// `sync.WaitGroup`: [`add`](Self::add) before starting jobs,
/// [`done`](Self::done) as each finishes, and
/// [`wait_async`](Self::wait_async) resolves when the count is zero.
///
/// A waiter that was pending when the count reached zero completes even if
/// the count has gone up again before it is polled.
///
/// ```
/// use futures::executor::block_on;
/// use std::sync::Arc;
/// use xasync_core::sync::WaitGroup;
///
/// let wg = Arc::new(WaitGroup::new());
/// for _ in 0..3 {
///     wg.add(1);
///     let wg = wg.clone();
///     std::thread::spawn(move || wg.done());
/// }
/// block_on(wg.wait_async());
/// assert_eq!(wg.count(), 0);
/// ```
pub struct WaitGroup {
    state: SpinLock<State>,
}

#[derive(Debug)]
struct State {
    count: usize,
    waiters: Waiters<()>,
}

impl WaitGroup {
    /// A wait group with a count of zero.
    pub fn new() -> Self {
        WaitGroup {
            state: SpinLock::new(State {
                count: 0,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Adds `n` to the count.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    pub fn add(&self, n: usize) {
        let mut state = self.state.lock();
        let Some(count) = state.count.checked_add(n) else {
            drop(state);
            panic!("WaitGroup::add: count overflow");
        };
        state.count = count;
    }

    /// Subtracts one from the count, waking the waiters when it reaches
    /// zero.
    ///
    /// # Panics
    ///
    /// If the count is already zero (`done` called more often than `add`
    /// counted).
    pub fn done(&self) {
        let mut state = self.state.lock();
        if state.count == 0 {
            drop(state);
            panic!("WaitGroup::done called more times than WaitGroup::add counted");
        }
        state.count -= 1;
        if state.count == 0 {
            state.waiters.notify_all();
            drop(state);
            wake_all(&self.state, |s| &mut s.waiters);
        }
    }

    /// The current count.
    pub fn count(&self) -> usize {
        self.state.lock().count
    }

    /// Waits until the count is zero (resolves at once if it is).
    pub fn wait_async(&self) -> WaitGroupWaitFut<'_> {
        WaitGroupWaitFut {
            group: self,
            key: None,
        }
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`WaitGroup::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitGroupWaitFut<'a> {
    group: &'a WaitGroup,
    key: Option<Key>,
}

impl Future for WaitGroupWaitFut<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        poll_wait(
            &this.group.state,
            |s| &mut s.waiters,
            &mut this.key,
            &mut (),
            cx.waker(),
            |state, key, ()| match key.take() {
                Some(k) if state.count == 0 || state.waiters.is_notified(&k) => {
                    Some(state.waiters.remove(k).waker)
                }
                Some(k) => {
                    *key = Some(k);
                    None
                }
                None if state.count == 0 => Some(None),
                None => None,
            },
            |_, ()| (),
        )
        // The removed waiter's waker is dropped unlocked.
        .map(drop)
    }
}

impl Drop for WaitGroupWaitFut<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let removed = self.group.state.lock().waiters.remove(key);
            drop(removed);
        }
    }
}

impl fmt::Debug for WaitGroupWaitFut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupWaitFut").finish_non_exhaustive()
    }
}
