//! Mutual exclusion: [`Mutex`], [`RwLock`], [`Semaphore`].

use super::{forward, wraps};
use crate::xawait;
use std::fmt;
use std::ops::Deref;
use xasync_core::sync as core_sync;
use xasync_core::sync::{
    AcquireError, AcquireFut, MutexGuard, MutexLockFut, RwLockReadFut, RwLockReadGuard,
    RwLockWriteFut, RwLockWriteGuard, SemaphorePermit, TryAcquireError,
};

/// A mutex whose `lock` suspends a coroutine (blocks a thread) instead of
/// spinning or blocking the worker; fair (first come, first served).
///
/// Holding the guard across a suspension is fine: the coroutine keeps its
/// thread, and the guard may also cross `.await`s in `Send` futures.
///
/// ```
/// use std::sync::Arc;
/// let counter = Arc::new(xasync::sync::Mutex::new(0));
/// let hs: Vec<_> = (0..8)
///     .map(|_| {
///         let c = counter.clone();
///         xasync::xasync(move || {
///             for _ in 0..100 {
///                 *c.lock() += 1;
///                 xasync::yield_now();
///             }
///         })
///     })
///     .collect();
/// xasync::join_all(hs);
/// assert_eq!(*counter.lock(), 800);
/// ```
pub struct Mutex<T: ?Sized>(core_sync::Mutex<T>);

impl<T> Mutex<T> {
    /// A mutex around `value`.
    pub fn new(value: T) -> Self {
        Mutex(core_sync::Mutex::new(value))
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting for the current holder.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        xawait(self.0.lock_async())
    }

    forward! {
        /// The future of [`lock`](Self::lock).
        fn lock_async(&self) -> MutexLockFut<'_, T>;
        /// Locks if nobody holds the lock, without waiting.
        fn try_lock(&self) -> Option<MutexGuard<'_, T>>;
    }

    /// The value, through a unique borrow (no locking needed).
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl<T: ?Sized> Deref for Mutex<T> {
    type Target = core_sync::Mutex<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

/// A reader-writer lock; writers do not starve.
///
/// ```
/// let lock = xasync::sync::RwLock::new(vec![1]);
/// assert_eq!(lock.read().len(), 1);
/// lock.write().push(2);
/// assert_eq!(*lock.read(), [1, 2]);
/// ```
pub struct RwLock<T: ?Sized>(core_sync::RwLock<T>);

impl<T> RwLock<T> {
    /// A lock around `value`.
    pub fn new(value: T) -> Self {
        RwLock(core_sync::RwLock::new(value))
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting for a writer.
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        xawait(self.0.read_async())
    }

    /// Locks for writing, waiting for readers and writers.
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        xawait(self.0.write_async())
    }

    forward! {
        /// The future of [`read`](Self::read).
        fn read_async(&self) -> RwLockReadFut<'_, T>;
        /// The future of [`write`](Self::write).
        fn write_async(&self) -> RwLockWriteFut<'_, T>;
        /// Locks for reading if no writer holds or awaits the lock.
        fn try_read(&self) -> Option<RwLockReadGuard<'_, T>>;
        /// Locks for writing if nobody holds the lock.
        fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>>;
    }

    /// The value, through a unique borrow (no locking needed).
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl<T: ?Sized> Deref for RwLock<T> {
    type Target = core_sync::RwLock<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

/// A counting semaphore.
///
/// ```
/// let sem = xasync::sync::Semaphore::new(2);
/// let a = sem.acquire(1).unwrap();
/// let b = sem.acquire(1).unwrap();
/// assert!(sem.try_acquire(1).is_err());
/// drop((a, b));
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore(core_sync::Semaphore);

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Self {
        Semaphore(core_sync::Semaphore::new(permits))
    }

    /// Takes `n` permits, waiting until they are available; fails if the
    /// semaphore is closed.
    #[inline]
    pub fn acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        xawait(self.0.acquire_async(n))
    }

    forward! {
        /// The future of [`acquire`](Self::acquire).
        fn acquire_async(&self, n: usize) -> AcquireFut<'_>;
        /// Takes `n` permits if they are available now.
        fn try_acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError>;
        /// Adds `n` permits.
        fn add_permits(&self, n: usize);
        /// The number of permits available now.
        fn available_permits(&self) -> usize;
        /// Closes the semaphore: waiting and later acquisitions fail.
        fn close(&self);
        /// Whether the semaphore is closed.
        fn is_closed(&self) -> bool;
    }
}

wraps!(Semaphore, core_sync::Semaphore);
