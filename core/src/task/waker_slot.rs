//! A slot holding one `Waker`, registered by one party and woken by
//! another, possibly concurrently, without losing a wake-up.
//!
//! The classic three-state protocol: `register` takes the `REGISTERING`
//! bit to store a waker; `wake` takes the `WAKING` bit to take it out. A
//! wake that finds the slot being registered leaves `WAKING` set, and the
//! registering side, seeing it when it finishes, wakes the new waker itself.

use crate::loom::{AtomicUsize, Ordering, UnsafeCell};
use core::task::Waker;

/// Nobody touches the slot.
const IDLE: usize = 0;
/// `register` is storing a waker.
const REGISTERING: usize = 1;
/// `wake` is taking the waker out (or asked `register` to wake it).
const WAKING: usize = 2;

/// One registered waker; see the [module docs](self).
pub(crate) struct WakerSlot {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the waker is only accessed by the holder of REGISTERING or WAKING,
// which the state machine grants to one thread at a time; Waker is Send.
unsafe impl Send for WakerSlot {}
// SAFETY: as above.
unsafe impl Sync for WakerSlot {}

impl WakerSlot {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        WakerSlot {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (replacing the previous one) so that the next
    /// [`wake`](Self::wake) wakes it. If a wake races with us, `waker` is
    /// woken right away instead.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(IDLE, REGISTERING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: REGISTERING gives us exclusive access to the slot.
                let old = self.waker.with_mut(|slot| unsafe {
                    match &*slot {
                        Some(w) if w.will_wake(waker) => None,
                        _ => (*slot).replace(waker.clone()),
                    }
                });
                // Release the slot; a concurrent `wake` may have set WAKING.
                if let Err(state) = self.state.compare_exchange(
                    REGISTERING,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    debug_assert_eq!(state, REGISTERING | WAKING);
                    // SAFETY: still ours: `wake` backed off when it saw
                    // REGISTERING.
                    let taken = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                    self.state.swap(IDLE, Ordering::AcqRel);
                    drop(old);
                    if let Some(w) = taken {
                        w.wake();
                    }
                    return;
                }
                drop(old);
            }
            // A wake is in progress: it may not see our waker, so wake it.
            Err(WAKING) => waker.wake_by_ref(),
            // Concurrent registrations are a caller bug; stay sound anyway.
            Err(_) => waker.wake_by_ref(),
        }
    }

    /// Wakes and removes the registered waker, if any.
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }

    /// Removes the registered waker, if any, without waking it.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            IDLE => {
                // SAFETY: WAKING gives us exclusive access to the slot.
                let waker = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                self.state.fetch_and(!WAKING, Ordering::Release);
                waker
            }
            // The registering side will see WAKING and wake its waker; a
            // second concurrent wake has nothing to add.
            _ => None,
        }
    }
}

impl core::fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WakerSlot").finish_non_exhaustive()
    }
}
