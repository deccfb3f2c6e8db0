//! A fair counting semaphore.

use super::raw_semaphore::{Acquire, RawSemaphore};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A counting semaphore: a pool of permits that tasks acquire (waiting when
/// there are not enough) and give back by dropping a [`SemaphorePermit`].
///
/// Acquirers are served in arrival order: a large request at the head of the
/// line collects released permits until it is satisfied, and later requests
/// (even small ones) wait behind it, so nobody starves. [`try_acquire`]
/// does not jump the line either.
///
/// [`close`](Self::close) makes every pending and future acquire fail.
///
/// ```
/// use futures::executor::block_on;
/// use xasync_core::sync::Semaphore;
///
/// let sem = Semaphore::new(3);
/// let two = block_on(sem.acquire_async(2)).unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// assert!(sem.try_acquire(2).is_err());
/// drop(two);
/// assert_eq!(sem.available_permits(), 3);
/// ```
///
/// [`try_acquire`]: Self::try_acquire
#[derive(Debug)]
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "Semaphore::new: {permits} permits exceeds Semaphore::MAX_PERMITS"
        );
        Semaphore {
            raw: RawSemaphore::new(permits),
        }
    }

    /// Acquires `n` permits, waiting for them in line. Acquiring zero
    /// permits succeeds at once (unless closed). Dropping the future gives
    /// back the permits it had already collected.
    ///
    /// Resolves to an error if the semaphore is, or gets, closed. A request
    /// for more permits than the semaphore will ever have waits (and holds
    /// up everyone behind it) until enough are added or it is closed.
    ///
    /// # Panics
    ///
    /// If `n` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS): such a request
    /// could never be served.
    pub fn acquire_async(&self, n: usize) -> AcquireFut<'_> {
        assert!(
            n <= Self::MAX_PERMITS,
            "Semaphore::acquire_async: {n} permits exceeds Semaphore::MAX_PERMITS"
        );
        AcquireFut {
            sem: Some(self),
            acquire: Acquire::new(n, Self::MAX_PERMITS),
        }
    }

    /// Acquires `n` permits if they are available now and nobody is waiting
    /// for permits.
    pub fn try_acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.raw.try_acquire(n) {
            Err(_) => Err(TryAcquireError::Closed),
            Ok(false) => Err(TryAcquireError::NoPermits),
            Ok(true) => Ok(SemaphorePermit {
                sem: self,
                permits: n,
            }),
        }
    }

    /// Adds `n` permits, serving waiters first.
    ///
    /// # Panics
    ///
    /// If the number of available permits would exceed
    /// [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn add_permits(&self, n: usize) {
        self.raw.release(n, Self::MAX_PERMITS);
    }

    /// The number of permits available now.
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }

    /// Closes the semaphore: pending acquires resolve to [`AcquireError`],
    /// later ones fail at once. Permits already held stay valid and are
    /// still given back when dropped.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

/// Permits acquired from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping the permit gives it back at once"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Consumes the permit without giving the permits back: the semaphore
    /// has that many fewer from now on.
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.add_permits(self.permits);
        }
    }
}

/// The future returned by [`Semaphore::acquire_async`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct AcquireFut<'a> {
    /// `None` once finished.
    sem: Option<&'a Semaphore>,
    acquire: Acquire,
}

impl<'a> Future for AcquireFut<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sem = this.sem.expect("AcquireFut polled after completion");
        let result = core::task::ready!(this.acquire.poll(&sem.raw, cx));
        this.sem = None;
        Poll::Ready(match result {
            Ok(()) => Ok(SemaphorePermit {
                sem,
                permits: this.acquire.permits(),
            }),
            Err(_) => Err(AcquireError(())),
        })
    }
}

impl Drop for AcquireFut<'_> {
    fn drop(&mut self) {
        if let Some(sem) = self.sem {
            self.acquire.cancel(&sem.raw);
        }
    }
}

/// [`Semaphore::acquire_async`] failed: the semaphore is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireError(());

/// Why [`Semaphore::try_acquire`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Not enough permits are available now (or others wait for them).
    NoPermits,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl core::error::Error for AcquireError {}
impl core::error::Error for TryAcquireError {}
