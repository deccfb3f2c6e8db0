//! A global allocator wrapper that masks interrupts while it allocates or
//! frees, so that neither an interrupt handler nor a preemption lands
//! while the CPU holds the inner allocator's lock (a preempted coroutine
//! holding it would deadlock the next allocation on its CPU).

use crate::Cpu;
use core::alloc::{GlobalAlloc, Layout};
use core::marker::PhantomData;

/// `A`, with interrupts masked on CPU `C` during each call.
pub struct IrqSafe<C: Cpu, A> {
    inner: A,
    _cpu: PhantomData<fn() -> C>,
}

impl<C: Cpu, A> IrqSafe<C, A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        IrqSafe {
            inner,
            _cpu: PhantomData,
        }
    }

    /// The wrapped allocator (to set it up at boot).
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every call is forwarded unchanged to `A`, which upholds the
// contract; masking interrupts around it changes nothing it returns.
unsafe impl<C: Cpu, A: GlobalAlloc> GlobalAlloc for IrqSafe<C, A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let saved = C::disable();
        // SAFETY: the caller's contract, forwarded.
        let block = unsafe { self.inner.alloc(layout) };
        C::restore(saved);
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let saved = C::disable();
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.inner.dealloc(block, layout) };
        C::restore(saved);
    }
}
