//! Wake one or all waiting tasks, without data.

use super::waiters::{Key, Waiters, WakeList, poll_wait, wake_all};
use crate::spin::SpinLock;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};

/// Notifies waiting tasks: the building block for "wait until something
/// changes".
///
/// * [`notify_one`](Self::notify_one) wakes the longest-waiting
///   [`Notified`] future; if none waits, it stores one permit, so the next
///   `notified().await` returns at once (permits do not add up: at most one
///   is stored).
/// * [`notify_all`](Self::notify_all) wakes every future that exists at the
///   time of the call (created by [`notified`](Self::notified), even if not
///   yet polled) and stores no permit.
///
/// A `Notified` future that received a `notify_one` and is dropped before
/// returning passes the notification on to the next waiter (or stores it as
/// the permit), so a notification is never lost to cancellation.
///
/// ```
/// use futures::executor::block_on;
/// use xasync_core::sync::Notify;
///
/// let notify = Notify::new();
/// notify.notify_one(); // no waiter yet: stored
/// block_on(notify.notified()); // returns at once
/// ```
pub struct Notify {
    state: SpinLock<State>,
}

#[derive(Debug)]
struct State {
    /// A `notify_one` that found nobody waiting.
    permit: bool,
    /// How many `notify_all` calls so far (wrapping).
    generation: usize,
    /// Each waiter's data: whether it was chosen by a `notify_one`.
    waiters: Waiters<bool>,
}

impl State {
    /// Hands one notification to the first waiter, or stores it.
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.first_mut() {
            Some(chosen) => {
                *chosen = true;
                self.waiters.notify_first()
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Notify {
    /// A `Notify` with no waiter and no stored permit.
    pub fn new() -> Self {
        Notify {
            state: SpinLock::new(State {
                permit: false,
                generation: 0,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Wakes the longest-waiting [`Notified`] future, or stores a permit
    /// for the next one if none waits.
    pub fn notify_one(&self) {
        let waker = self.state.lock().notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every [`Notified`] future created before this call. Stores no
    /// permit.
    pub fn notify_all(&self) {
        let mut state = self.state.lock();
        state.generation = state.generation.wrapping_add(1);
        state.waiters.notify_all();
        drop(state);
        wake_all(&self.state, |s| &mut s.waiters);
    }

    /// A future that completes on the next notification: a `notify_one`
    /// (or a stored permit) consumed when it is polled, or any `notify_all`
    /// made after this call.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.state.lock().generation,
            key: None,
            done: false,
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

/// The future returned by [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// The `notify_all` generation when created.
    generation: usize,
    key: Option<Key>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let generation = this.generation;
        let finished = poll_wait(
            &this.notify.state,
            |s| &mut s.waiters,
            &mut this.key,
            &mut (),
            cx.waker(),
            |state, key, ()| {
                let broadcast = state.generation != generation;
                match key.take() {
                    Some(k) if broadcast || state.waiters.is_notified(&k) => {
                        Some(state.waiters.remove(k).waker)
                    }
                    Some(k) => {
                        *key = Some(k);
                        None
                    }
                    None if broadcast => Some(None),
                    None if state.permit => {
                        state.permit = false;
                        Some(None)
                    }
                    None => None,
                }
            },
            |_, ()| false,
        );
        // The removed waiter's waker, dropped unlocked.
        drop(ready!(finished));
        this.done = true;
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut wakers = WakeList::new();
        let mut state = self.notify.state.lock();
        let removed = state.waiters.remove(key);
        if removed.notified && removed.data {
            // A notify_one chose us and we will not return: pass it on.
            wakers.push(state.notify_one());
        }
        drop(state);
        drop(removed);
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
