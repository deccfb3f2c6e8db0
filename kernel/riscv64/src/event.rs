//! An event that interrupt handlers signal and tasks wait for: the kernel
//! side of a wake-up from interrupt context.
//!
//! The waiting task's waker sits behind an [`IrqSpinLock`], so the handler
//! never finds it held by the code it interrupted on its own hart (holding
//! it disables interrupts), and another hart only spins for the few
//! instructions of a registration. The handler wakes the waker after
//! releasing the lock; waking an xasync-core task takes no lock and
//! allocates nothing (see `xasync_core::executor`).

use crate::sync::IrqSpinLock;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};

/// A counter of signals, with one waiting task.
#[derive(Debug)]
pub struct IrqEvent {
    signals: AtomicU64,
    waker: IrqSpinLock<Option<Waker>>,
}

impl IrqEvent {
    /// An event never signalled.
    pub const fn new() -> Self {
        IrqEvent {
            signals: AtomicU64::new(0),
            waker: IrqSpinLock::new(None),
        }
    }

    /// Counts a signal and wakes the waiting task. Callable from interrupt
    /// handlers and any hart.
    pub fn signal(&self) {
        self.signals.fetch_add(1, Ordering::Release);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Signals so far.
    pub fn signals(&self) -> u64 {
        self.signals.load(Ordering::Acquire)
    }

    /// Waits until the event has been signalled at least `count` times in
    /// all. One task at a time may wait.
    pub fn wait_for(&self, count: u64) -> WaitFor<'_> {
        WaitFor { event: self, count }
    }
}

impl Default for IrqEvent {
    fn default() -> Self {
        Self::new()
    }
}

/// The future of [`IrqEvent::wait_for`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WaitFor<'a> {
    event: &'a IrqEvent,
    count: u64,
}

impl Future for WaitFor<'_> {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let signals = self.event.signals();
        if signals >= self.count {
            return Poll::Ready(signals);
        }
        *self.event.waker.lock() = Some(cx.waker().clone());
        // A signal between the check and the registration found no waker:
        // look again now that it is registered.
        let signals = self.event.signals();
        if signals >= self.count {
            return Poll::Ready(signals);
        }
        Poll::Pending
    }
}
