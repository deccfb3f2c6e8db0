//! Waiting for events: [`Notify`], [`Condvar`], [`WaitGroup`], [`Barrier`].

use super::{forward, wraps};
use crate::time::timeout_async;
use crate::xawait;
use std::time::Duration;
use xasync_core::sync as core_sync;
use xasync_core::sync::{
    BarrierWaitFut, BarrierWaitResult, CondvarWaitFut, MutexGuard, Notified, WaitGroupWaitFut,
};

/// Wakes waiters on demand. A [`notify_one`](core_sync::Notify::notify_one)
/// with nobody waiting is remembered (one permit) for the next waiter.
///
/// ```
/// use std::sync::Arc;
/// let ready = Arc::new(xasync::sync::Notify::new());
/// let r = ready.clone();
/// let waiter = xasync::xasync(move || r.wait());
/// ready.notify_one();
/// waiter.join().unwrap();
/// ```
#[derive(Default)]
pub struct Notify(core_sync::Notify);

impl Notify {
    /// A notifier with no stored permit.
    pub fn new() -> Self {
        Notify(core_sync::Notify::new())
    }

    /// Waits to be notified.
    pub fn wait(&self) {
        xawait(self.0.notified())
    }

    /// As [`wait`](Self::wait), giving up after `timeout`; whether it was
    /// notified.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        xawait(timeout_async(timeout, self.0.notified())).is_ok()
    }

    /// The future of [`wait`](Self::wait).
    pub fn wait_async(&self) -> Notified<'_> {
        self.0.notified()
    }

    forward! {
        /// Wakes one waiter, or stores a permit for the next one.
        fn notify_one(&self);
        /// Wakes every current waiter (stores no permit).
        fn notify_all(&self);
        /// The future of [`wait`](Self::wait) (the core's name).
        fn notified(&self) -> Notified<'_>;
    }
}

/// A condition variable for [`Mutex`](super::Mutex) guards.
///
/// ```
/// use std::sync::Arc;
/// let pair = Arc::new((xasync::sync::Mutex::new(false), xasync::sync::Condvar::new()));
/// let p = pair.clone();
/// xasync::xasync(move || {
///     *p.0.lock() = true;
///     p.1.notify_all();
/// })
/// .detach();
/// let (lock, cvar) = &*pair;
/// let mut ready = lock.lock();
/// while !*ready {
///     ready = cvar.wait(ready);
/// }
/// ```
#[derive(Default)]
pub struct Condvar(core_sync::Condvar);

impl Condvar {
    /// A condition variable.
    pub fn new() -> Self {
        Condvar(core_sync::Condvar::new())
    }

    /// Unlocks, waits for a notification, locks again. Spurious wake-ups
    /// are possible: check the condition in a loop.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        xawait(self.0.wait_async(guard))
    }

    /// As [`wait`](Self::wait), giving up after `timeout`: the guard and
    /// whether it timed out.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        mutex: &'a super::Mutex<T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        match xawait(timeout_async(timeout, self.0.wait_async(guard))) {
            Ok(guard) => (guard, false),
            Err(_) => (mutex.lock(), true),
        }
    }

    /// The future of [`wait`](Self::wait).
    #[inline]
    pub fn wait_async<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> CondvarWaitFut<'_, 'a, T> {
        self.0.wait_async(guard)
    }

    forward! {
        /// Wakes one waiter.
        fn notify_one(&self);
        /// Wakes every waiter.
        fn notify_all(&self);
    }
}

/// Waits for a number of jobs to be done (Go's `sync.WaitGroup`).
///
/// ```
/// use std::sync::Arc;
/// let wg = Arc::new(xasync::sync::WaitGroup::new());
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     xasync::xasync(move || wg.done()).detach();
/// }
/// wg.wait();
/// assert_eq!(wg.count(), 0);
/// ```
#[derive(Default)]
pub struct WaitGroup(core_sync::WaitGroup);

impl WaitGroup {
    /// A group with a count of zero.
    pub fn new() -> Self {
        WaitGroup(core_sync::WaitGroup::new())
    }

    /// Waits until the count is zero.
    pub fn wait(&self) {
        xawait(self.0.wait_async())
    }

    forward! {
        /// The future of [`wait`](Self::wait).
        fn wait_async(&self) -> WaitGroupWaitFut<'_>;
        /// Adds `n` jobs to the count.
        fn add(&self, n: usize);
        /// Marks one job done; the waiters wake when the count reaches zero.
        fn done(&self);
        /// The current count.
        fn count(&self) -> usize;
    }
}

/// Makes `n` parties wait for each other; reusable.
///
/// ```
/// use std::sync::Arc;
/// let barrier = Arc::new(xasync::sync::Barrier::new(3));
/// let hs: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         xasync::xasync(move || b.wait().is_leader())
///     })
///     .collect();
/// assert_eq!(xasync::join_all(hs).iter().filter(|&&leader| leader).count(), 1);
/// ```
pub struct Barrier(core_sync::Barrier);

impl Barrier {
    /// A barrier for `n` parties.
    pub fn new(n: usize) -> Self {
        Barrier(core_sync::Barrier::new(n))
    }

    /// Waits until all parties arrived; exactly one of them is the leader.
    pub fn wait(&self) -> BarrierWaitResult {
        xawait(self.0.wait_async())
    }

    forward! {
        /// The future of [`wait`](Self::wait).
        fn wait_async(&self) -> BarrierWaitFut<'_>;
    }
}

wraps!(Notify, core_sync::Notify);
wraps!(Condvar, core_sync::Condvar);
wraps!(WaitGroup, core_sync::WaitGroup);
wraps!(Barrier, core_sync::Barrier);
