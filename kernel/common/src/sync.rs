//! A spin lock that also masks interrupts on the CPU holding it, so that
//! interrupt handlers can take it without deadlocking against the code
//! they interrupted, and other CPUs spin.

use crate::Cpu;
use core::cell::UnsafeCell;
use core::fmt;
use core::hint::spin_loop;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A mutual-exclusion lock for data shared by CPUs and interrupt handlers:
/// holding it masks interrupts on this CPU (`C`), and other CPUs spin.
///
/// Critical sections must be short and must not switch contexts.
pub struct IrqSpinLock<C: Cpu, T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
    _cpu: PhantomData<fn() -> C>,
}

// SAFETY: the lock hands out exclusive access, one holder at a time.
unsafe impl<C: Cpu, T: Send> Sync for IrqSpinLock<C, T> {}
// SAFETY: moving the lock moves the value.
unsafe impl<C: Cpu, T: Send> Send for IrqSpinLock<C, T> {}

impl<C: Cpu, T> IrqSpinLock<C, T> {
    /// A lock around `value`.
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
            _cpu: PhantomData,
        }
    }

    /// Masks interrupts, then spins until the lock is free.
    #[inline]
    pub fn lock(&self) -> IrqSpinGuard<'_, C, T> {
        let saved = C::disable();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                spin_loop();
            }
        }
        IrqSpinGuard {
            lock: self,
            saved: Some(saved),
        }
    }
}

impl<C: Cpu, T> fmt::Debug for IrqSpinLock<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqSpinLock")
            .field("locked", &self.locked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Exclusive access to an [`IrqSpinLock`]'s value; unlocks, then restores
/// the interrupt state, on drop.
pub struct IrqSpinGuard<'a, C: Cpu, T> {
    lock: &'a IrqSpinLock<C, T>,
    saved: Option<C::Saved>,
}

impl<C: Cpu, T> Deref for IrqSpinGuard<'_, C, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &*self.lock.value.get() }
    }
}

impl<C: Cpu, T> DerefMut for IrqSpinGuard<'_, C, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<C: Cpu, T> Drop for IrqSpinGuard<'_, C, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        if let Some(saved) = self.saved.take() {
            C::restore(saved);
        }
    }
}
