//! A condition variable for the asynchronous [`Mutex`].

use super::mutex::{Mutex, MutexGuard, MutexLockFut};
use super::waiters::{Key, Waiters, poll_wait, wake_all};
use crate::spin::SpinLock;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};

/// A condition variable: lets a task holding a [`Mutex`] wait, with the
/// mutex released, until another task notifies it.
///
/// [`wait_async`](Self::wait_async) joins the condition variable's line and
/// unlocks the mutex *at the call*, so a notification made by anyone who
/// takes the mutex afterwards cannot be missed; the future then waits for a
/// notification and relocks the mutex. As with every condition variable,
/// wait in a loop that re-checks the condition: a notification means "look
/// again", not "it is true".
///
/// A waiter chosen by [`notify_one`](Self::notify_one) that is dropped
/// before relocking passes the notification on to the next waiter.
///
/// ```
/// use futures::executor::block_on;
/// use std::sync::Arc;
/// use xasync_core::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// std::thread::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *block_on(ready.lock_async()) = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// block_on(async {
///     let mut guard = ready.lock_async().await;
///     while !*guard {
///         guard = cv.wait_async(guard).await;
///     }
/// });
/// ```
pub struct Condvar {
    /// Each waiter's data: whether it was chosen by a `notify_one`.
    waiters: SpinLock<Waiters<bool>>,
}

impl Condvar {
    /// A condition variable with no waiter.
    pub fn new() -> Self {
        Condvar {
            waiters: SpinLock::new(Waiters::new()),
        }
    }

    /// Unlocks `guard`'s mutex and returns a future that waits for a
    /// notification, then relocks the mutex and resolves to the new guard.
    ///
    /// The future is registered before the mutex is released, so it sees
    /// every notification made after this call, even before it is first
    /// polled.
    pub fn wait_async<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> CondvarWaitFut<'_, 'a, T> {
        let key = self.waiters.lock().push(None, false);
        let mutex = guard.mutex;
        drop(guard);
        CondvarWaitFut {
            condvar: self,
            mutex,
            key: Some(key),
            relock: None,
        }
    }

    /// Wakes the longest-waiting [`wait_async`](Self::wait_async) future.
    /// Does nothing if none waits.
    pub fn notify_one(&self) {
        let mut waiters = self.waiters.lock();
        let mut waker = None;
        if let Some(chosen) = waiters.first_mut() {
            *chosen = true;
            waker = waiters.notify_first();
        }
        drop(waiters);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every [`wait_async`](Self::wait_async) future waiting now.
    pub fn notify_all(&self) {
        self.waiters.lock().notify_all();
        wake_all(&self.waiters, |w| w);
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// The future returned by [`Condvar::wait_async`].
#[must_use = "futures do nothing unless polled"]
pub struct CondvarWaitFut<'c, 'a, T: ?Sized> {
    condvar: &'c Condvar,
    mutex: &'a Mutex<T>,
    /// The place in the condition variable's line, until notified.
    key: Option<Key>,
    /// Relocking the mutex, once notified.
    relock: Option<MutexLockFut<'a, T>>,
}

impl<'a, T: ?Sized> Future for CondvarWaitFut<'_, 'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.relock.is_none() {
            let notified = poll_wait(
                &this.condvar.waiters,
                |w| w,
                &mut this.key,
                &mut (),
                cx.waker(),
                |waiters, key, ()| {
                    let k = key.take().expect("CondvarWaitFut polled after completion");
                    if waiters.is_notified(&k) {
                        return Some(waiters.remove(k));
                    }
                    *key = Some(k);
                    None
                },
                |_, ()| unreachable!("a condvar waiter joins the line in wait_async"),
            );
            // The removed waiter, dropped unlocked.
            drop(ready!(notified));
            this.relock = Some(this.mutex.lock_async());
        }
        let relock = this
            .relock
            .as_mut()
            .expect("CondvarWaitFut polled after completion");
        let guard = core::task::ready!(Pin::new(relock).poll(cx));
        this.relock = None;
        Poll::Ready(guard)
    }
}

impl<T: ?Sized> Drop for CondvarWaitFut<'_, '_, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut waiters = self.condvar.waiters.lock();
        let removed = waiters.remove(key);
        let mut passed: Option<Waker> = None;
        if removed.notified && removed.data {
            // A notify_one chose us and we will not return: pass it on.
            if let Some(next) = waiters.first_mut() {
                *next = true;
                passed = waiters.notify_first();
            }
        }
        drop(waiters);
        drop(removed);
        if let Some(waker) = passed {
            waker.wake();
        }
    }
}

impl<T: ?Sized> fmt::Debug for CondvarWaitFut<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWaitFut").finish_non_exhaustive()
    }
}
