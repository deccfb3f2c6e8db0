//! A small spin lock for the short critical sections of wait queues and
//! timers, usable without an OS (kernels) and checked by loom.
//!
//! Critical sections under it must be a handful of instructions and never
//! call user code (no waker is woken while it is held).
//!
//! # Waiting for the lock
//!
//! A waiter spins with exponential backoff for a few microseconds at most,
//! which covers any critical section whose holder keeps running. Past that,
//! the holder has most likely been preempted (more threads than cores: the
//! workers, the blocking pool, the caller's own threads), and spinning on
//! would only burn the time slice it needs to finish: with `std` the waiter
//! then yields its thread to the OS scheduler on every further attempt.
//! Without an OS there is no scheduler to yield to, so a kernel build keeps
//! spinning; [`give_way`] is the one place to change that.

use crate::loom::{AtomicBool, Ordering, UnsafeCell, spin_loop};
use core::ops::{Deref, DerefMut};

/// Rounds of spinning before a waiter gives its processor away: round `r`
/// spins `2^r` hints, so the rounds add up to 127 hints: about 2 µs on the
/// benchmark machine (15 ns a hint), 5 µs where a hint takes 140 cycles.
const SPIN_ROUNDS: u32 = 7;

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

    /// Locks, waiting while another thread holds the lock (see the
    /// [module docs](self) for how).
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if !try_take(&self.locked) {
            take_contended(&self.locked);
        }
        SpinGuard {
            lock: self,
            #[cfg(loom)]
            access: Some(self.value.get_mut()),
        }
    }
}

/// One attempt to take the lock whose flag is `locked`.
#[inline(always)]
fn try_take(locked: &AtomicBool) -> bool {
    locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// The slow path of [`SpinLock::lock`]: takes the lock whose flag is
/// `locked` once its holder releases it. Out of line (and not generic) so
/// that the uncontended path stays one compare-and-swap. It waits reading
/// only, so that the cache line stays shared until the holder writes it.
#[cold]
#[inline(never)]
fn take_contended(locked: &AtomicBool) {
    let mut backoff = Backoff::default();
    loop {
        while locked.load(Ordering::Relaxed) {
            backoff.snooze();
        }
        if try_take(locked) {
            return;
        }
    }
}

/// How long a waiter has waited for the lock: its spinning round.
#[derive(Default)]
struct Backoff {
    round: u32,
}

impl Backoff {
    /// Waits a little before the next look at the lock: twice as long as
    /// the last time, until the spinning rounds are spent; then gives the
    /// processor away each time. Under loom, where a spin hint is a yield
    /// anyway, every look yields at once, which keeps the models small.
    fn snooze(&mut self) {
        if self.round < SPIN_ROUNDS && !cfg!(loom) {
            for _ in 0..1_u32 << self.round {
                spin_loop();
            }
            self.round += 1;
        } else {
            give_way();
        }
    }
}

/// Lets another thread run, the holder of the lock preferably: yields to
/// the OS scheduler with `std`, to loom's under loom.
#[cfg(any(loom, feature = "std"))]
fn give_way() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// Without an OS there is nobody to yield to: spin the longest round
/// again. (A kernel that preempts holders of this lock would hook its own
/// relax in here.)
#[cfg(not(any(loom, feature = "std")))]
fn give_way() {
    for _ in 0..1_u32 << (SPIN_ROUNDS - 1) {
        spin_loop();
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
        unsafe { loom::cell::MutPtr::deref(self.access.as_ref().expect("held")) }
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
        unsafe { loom::cell::MutPtr::deref(self.access.as_ref().expect("held")) }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(loom)]
        drop(self.access.take());
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::SpinLock;
    use std::sync::Barrier;
    use std::vec::Vec;

    /// Many more threads than cores (the machine's 2 in CI), so that
    /// holders are preempted while waiters back off and yield: every
    /// increment still happens under the lock, none is lost or doubled.
    #[test]
    fn stays_exclusive_with_more_threads_than_cores() {
        const THREADS: usize = 8;
        const ROUNDS: u64 = if cfg!(miri) { 200 } else { 50_000 };
        // Two fields updated in two steps: a second holder in between would
        // see them differ.
        let lock = SpinLock::new((0_u64, 0_u64));
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        for _ in 0..ROUNDS {
                            let mut pair = lock.lock();
                            pair.0 += 1;
                            assert_eq!(pair.0, pair.1 + 1, "two holders at once");
                            pair.1 += 1;
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().expect("no holder saw another");
            }
        });
        let pair = *lock.lock();
        assert_eq!(pair, (THREADS as u64 * ROUNDS, THREADS as u64 * ROUNDS));
    }
}
