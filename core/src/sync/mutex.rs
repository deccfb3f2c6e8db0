//! An asynchronous, FIFO-fair mutual-exclusion lock.

use super::raw_semaphore::{Acquire, RawSemaphore};
use crate::loom::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

/// A mutual-exclusion lock whose [`lock_async`](Self::lock_async) waits
/// without blocking: a task, coroutine or thread that cannot take the lock
/// is parked and woken when the lock is handed to it.
///
/// Under contention the lock goes to waiters in arrival order (FIFO
/// handoff): an unlock with waiters present passes ownership straight to
/// the first one, and [`try_lock`](Self::try_lock) fails while anyone
/// waits, so nobody starves. There is no poisoning: a panic while the lock
/// is held simply unlocks it.
///
/// The guard may be held across `.await` points and moved to another
/// thread (it is `Send` when `T: Send`), see [`MutexGuard`].
///
/// ```
/// use futures::executor::block_on;
/// use xasync_core::sync::Mutex;
///
/// let m = Mutex::new(vec![1]);
/// block_on(async {
///     m.lock_async().await.push(2);
///     assert!(m.try_lock().is_some());
/// });
/// assert_eq!(m.into_inner(), [1, 2]);
/// ```
pub struct Mutex<T: ?Sized> {
    /// One permit: whoever holds it may access `value`.
    sem: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the semaphore lets one guard at a time access `value`, and a guard
// may live on any thread, so sharing the mutex means sending `T` between
// threads: `T: Send` is required, `T: Sync` is not (never two accessors).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex {
            sem: RawSemaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        let Mutex { sem, value } = self;
        drop(sem);
        // SAFETY: we own the cell, so nobody else accesses it; the value is
        // read out once and the cell forgotten below, so it is not dropped
        // twice.
        let inner = value.with_mut(|p| unsafe { ptr::read(p) });
        mem::forget(value);
        inner
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting in line while someone else holds it.
    /// Dropping the future while it waits leaves the line (and passes the
    /// lock on if it had just been handed over).
    pub fn lock_async(&self) -> MutexLockFut<'_, T> {
        MutexLockFut {
            mutex: Some(self),
            acquire: Acquire::new(1, 1),
        }
    }

    /// Locks the mutex if it is free and nobody waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        matches!(self.sem.try_acquire(1), Ok(true)).then(|| MutexGuard::new(self))
    }

    /// Accesses the value through a unique reference: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves that no guard exists.
        self.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Access to the value of a locked [`Mutex`]; unlocks (handing the lock to
/// the next waiter, if any) when dropped.
///
/// # Why the guard may be `Send`
///
/// `std`'s guard is `!Send` because some OS mutexes must be unlocked by the
/// thread that locked them. This lock has no owner thread: unlocking is a
/// release of the semaphore's permit, done under a spin lock from any
/// thread. Moving the guard therefore only moves the right to `&mut T` to
/// another thread, which is sound exactly when `T: Send`; sharing `&guard`
/// hands out `&T` on several threads, which needs `T: Sync`. The
/// `PhantomData<&mut T>` field gives the guard exactly those bounds (it is
/// `Send` iff `T: Send` and `Sync` iff `T: Sync`, and the `&Mutex<T>` adds
/// `T: Send`).
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
    _access: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Must be called only by the holder of the mutex's permit.
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _access: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's only permit, so there is no
        // `&mut T` elsewhere; the reference lives no longer than the guard.
        self.mutex.value.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the mutex's only permit and `&mut self`
        // makes this the only reference; it lives no longer than the guard.
        self.mutex.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1, 1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The future returned by [`Mutex::lock_async`].
#[must_use = "futures do nothing unless polled"]
pub struct MutexLockFut<'a, T: ?Sized> {
    /// `None` once finished.
    mutex: Option<&'a Mutex<T>>,
    acquire: Acquire,
}

impl<'a, T: ?Sized> Future for MutexLockFut<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mutex = this.mutex.expect("MutexLockFut polled after completion");
        match this.acquire.poll(&mutex.sem, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                this.mutex = None;
                Poll::Ready(MutexGuard::new(mutex))
            }
            Poll::Ready(Err(_)) => unreachable!("a mutex is never closed"),
        }
    }
}

impl<T: ?Sized> Drop for MutexLockFut<'_, T> {
    fn drop(&mut self) {
        if let Some(mutex) = self.mutex {
            self.acquire.cancel(&mutex.sem);
        }
    }
}

impl<T: ?Sized> fmt::Debug for MutexLockFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexLockFut").finish_non_exhaustive()
    }
}
