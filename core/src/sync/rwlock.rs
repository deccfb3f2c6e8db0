//! An asynchronous, fair reader-writer lock.

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

/// How many readers may hold the lock at once; a writer takes all of these
/// permits.
const MAX_READERS: usize = usize::MAX >> 3;

/// A reader-writer lock: many readers or one writer at a time, waiting
/// without blocking.
///
/// Requests are served in arrival order: once a writer waits, readers that
/// come after it wait behind it (and [`try_read`](Self::try_read) fails), so
/// writers are never starved by a stream of readers, and readers queued
/// behind a writer get in together as soon as it is done.
///
/// ```
/// use futures::executor::block_on;
/// use xasync_core::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// block_on(async {
///     let r1 = lock.read_async().await;
///     let r2 = lock.read_async().await;
///     assert_eq!(*r1 + *r2, 10);
///     assert!(lock.try_write().is_none());
///     drop((r1, r2));
///     *lock.write_async().await += 1;
/// });
/// assert_eq!(lock.into_inner(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    /// `MAX_READERS` permits: a reader holds one, a writer all.
    sem: RawSemaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the semaphore allows either one writer (`&mut T`, possibly on
// another thread: needs `T: Send`) or several readers (`&T` on several
// threads at once: needs `T: Sync`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock {
            sem: RawSemaphore::new(MAX_READERS),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        let RwLock { sem, value } = self;
        drop(sem);
        // SAFETY: we own the cell, so nobody else accesses it; the value is
        // read out once and the cell forgotten below, so it is not dropped
        // twice.
        let inner = value.with_mut(|p| unsafe { ptr::read(p) });
        mem::forget(value);
        inner
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting behind writers that came first.
    pub fn read_async(&self) -> RwLockReadFut<'_, T> {
        RwLockReadFut {
            lock: Some(self),
            acquire: Acquire::new(1, MAX_READERS),
        }
    }

    /// Locks for writing, waiting until every earlier reader and writer is
    /// done.
    pub fn write_async(&self) -> RwLockWriteFut<'_, T> {
        RwLockWriteFut {
            lock: Some(self),
            acquire: Acquire::new(MAX_READERS, MAX_READERS),
        }
    }

    /// Locks for reading if no writer holds the lock or waits for it.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        matches!(self.sem.try_acquire(1), Ok(true)).then(|| RwLockReadGuard::new(self))
    }

    /// Locks for writing if nobody holds the lock or waits for it.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        matches!(self.sem.try_acquire(MAX_READERS), Ok(true)).then(|| RwLockWriteGuard::new(self))
    }

    /// Accesses the value through a unique reference: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves that no guard exists.
        self.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Shared access to the value of an [`RwLock`]; unlocks when dropped.
///
/// `Send` and `Sync` when `T: Send + Sync` (the bounds of `&RwLock<T>`): it
/// only ever hands out `&T`, and unlocking works from any thread.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _access: PhantomData<&'a T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Must be called only by the holder of one read permit.
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard {
            lock,
            _access: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read permit, so no writer exists while
        // it lives; the reference lives no longer than the guard.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1, MAX_READERS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to the value of an [`RwLock`]; unlocks when dropped.
///
/// `Send` when `T: Send + Sync` and `Sync` when `T: Send + Sync`, for the
/// same reasons as [`MutexGuard`](super::MutexGuard).
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _access: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Must be called only by the holder of all permits.
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockWriteGuard {
            lock,
            _access: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit, so no other guard exists;
        // the reference lives no longer than the guard.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit and `&mut self` makes this
        // the only reference; it lives no longer than the guard.
        self.lock.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(MAX_READERS, MAX_READERS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The future returned by [`RwLock::read_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RwLockReadFut<'a, T: ?Sized> {
    /// `None` once finished.
    lock: Option<&'a RwLock<T>>,
    acquire: Acquire,
}

impl<'a, T: ?Sized> Future for RwLockReadFut<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let lock = this.lock.expect("RwLockReadFut polled after completion");
        match this.acquire.poll(&lock.sem, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                this.lock = None;
                Poll::Ready(RwLockReadGuard::new(lock))
            }
            Poll::Ready(Err(_)) => unreachable!("an RwLock is never closed"),
        }
    }
}

impl<T: ?Sized> Drop for RwLockReadFut<'_, T> {
    fn drop(&mut self) {
        if let Some(lock) = self.lock {
            self.acquire.cancel(&lock.sem);
        }
    }
}

impl<T: ?Sized> fmt::Debug for RwLockReadFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockReadFut").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::write_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RwLockWriteFut<'a, T: ?Sized> {
    /// `None` once finished.
    lock: Option<&'a RwLock<T>>,
    acquire: Acquire,
}

impl<'a, T: ?Sized> Future for RwLockWriteFut<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let lock = this.lock.expect("RwLockWriteFut polled after completion");
        match this.acquire.poll(&lock.sem, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                this.lock = None;
                Poll::Ready(RwLockWriteGuard::new(lock))
            }
            Poll::Ready(Err(_)) => unreachable!("an RwLock is never closed"),
        }
    }
}

impl<T: ?Sized> Drop for RwLockWriteFut<'_, T> {
    fn drop(&mut self) {
        if let Some(lock) = self.lock {
            self.acquire.cancel(&lock.sem);
        }
    }
}

impl<T: ?Sized> fmt::Debug for RwLockWriteFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLockWriteFut").finish_non_exhaustive()
    }
}
