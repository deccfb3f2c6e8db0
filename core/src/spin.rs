//! A small spin lock for the short critical sections of wait queues and
//! timers, usable without an OS (kernels) and checked by loom.
//!
//! Critical sections under it must be a handful of instructions and never
//! call user code (no waker is woken while it is held).

use crate::loom::{AtomicBool, Ordering, UnsafeCell, spin_loop};
use core::ops::{Deref, DerefMut};

/// A mutual-exclusion lock that spins.
#[derive(Debug, Default)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out exclusive access to one thread at a time.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as above; `T: Send` is enough since only one thread accesses it.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock around `value`.
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// A lock around `value`.
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, spinning while another thread holds the lock.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                spin_loop();
            }
        }
        SpinGuard {
            lock: self,
            #[cfg(loom)]
            access: Some(self.value.get_mut()),
        }
    }
}

/// Exclusive access to a [`SpinLock`]'s value; unlocks on drop.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Loom's record of the access, released before the lock.
    #[cfg(loom)]
    access: Option<loom::cell::MutPtr<T>>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[cfg(not(loom))]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        self.lock.value.with(|v| unsafe { &*v })
    }

    #[cfg(loom)]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { self.access.as_ref().expect("held").deref() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[cfg(not(loom))]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        self.lock.value.with_mut(|v| unsafe { &mut *v })
    }

    #[cfg(loom)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { self.access.as_ref().expect("held").deref() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(loom)]
        drop(self.access.take());
        self.lock.locked.store(false, Ordering::Release);
    }
}
