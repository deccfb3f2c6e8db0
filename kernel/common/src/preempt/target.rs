//! A preemptible coroutine as an interrupt handler sees it, whichever way
//! the kernel then switches away from it (on the interrupted stack here,
//! through a frame copy on riscv64): its stack's bounds and its yielder
//! ([`Target`]), which its [`Body`] publishes when it starts.

use crate::Cpu;
use alloc::boxed::Box;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use xasync_core::coroutine::{Coroutine, CoroutineResult, Yielder};
use xasync_core::stack::{HeapStack, Stack};
use xasync_kernel_smoke::preempt::Stop;

/// What the interrupt handler knows of the running preemptible coroutine.
pub struct Target {
    /// Its stack: `limit..top`.
    limit: usize,
    top: usize,
    /// Its yielder, set when it first runs.
    yielder: Cell<*const Yielder<(), Stop>>,
}

impl Target {
    /// The lowest address of its stack.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Its yielder, if `sp` lies in its stack and its function has started:
    /// only then may a handler running at `sp` suspend it.
    pub fn yielder_at(&self, sp: usize) -> Option<*const Yielder<(), Stop>> {
        let yielder = self.yielder.get();
        ((self.limit..self.top).contains(&sp) && !yielder.is_null()).then_some(yielder)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("stack", &(self.limit..self.top))
            .finish_non_exhaustive()
    }
}

/// A preemptible coroutine on CPU `C` and its [`Target`]: its function
/// runs with interrupts unmasked and leaves with them masked (see the
/// [`preempt`](super) module documentation).
pub struct Body<C: Cpu, R: 'static> {
    // Dropped before `target`, which its function points to.
    co: Coroutine<(), Stop, R, HeapStack>,
    target: Box<Target>,
    _cpu: PhantomData<C>,
}

impl<C: Cpu, R: 'static> Body<C, R> {
    /// A coroutine that will run `f` on `stack`. `f` must be `Send`: it is
    /// interrupted at arbitrary points, as a thread is.
    pub fn new<F>(stack: HeapStack, f: F) -> Self
    where
        F: FnOnce() -> R + Send + 'static,
    {
        let target = Box::new(Target {
            limit: stack.limit().as_ptr() as usize,
            top: stack.top().as_ptr() as usize,
            yielder: Cell::new(ptr::null()),
        });
        let shared: *const Target = &*target;
        let co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), Stop>, ()| {
            // Entered by `resume`, interrupts masked.
            // SAFETY: the box outlives the coroutine (field order), and only
            // this CPU touches it, with interrupts masked.
            unsafe { (*shared).yielder.set(yielder) };
            C::enable();
            let result = f();
            // Leave with interrupts masked (see the module documentation).
            let _ = C::disable();
            result
        });
        Body {
            co,
            target,
            _cpu: PhantomData,
        }
    }

    /// Its target, for the CPU to arm while it runs.
    pub fn target(&self) -> *mut Target {
        ptr::from_ref::<Target>(&self.target).cast_mut()
    }

    /// Runs it until it is suspended or returns. Call with interrupts
    /// masked and its [`target`](Self::target) armed.
    ///
    /// # Panics
    ///
    /// If it has already finished.
    pub fn resume(&mut self) -> CoroutineResult<Stop, R> {
        self.co.resume(())
    }

    /// Whether its function has returned.
    pub fn done(&self) -> bool {
        self.co.done()
    }
}

impl<C: Cpu, R> fmt::Debug for Body<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("co", &self.co)
            .finish_non_exhaustive()
    }
}

/// The yielder of the target armed in `slot`, if there is one, the caller
/// runs on its stack and its function has started.
///
/// # Safety
///
/// `slot` holds null or a live target, which stays alive while the caller
/// runs: the kernel arms only a running [`Body`]'s target and disarms it
/// before that returns, both with interrupts masked, and the caller runs
/// with interrupts masked.
pub unsafe fn armed_here(slot: &AtomicPtr<Target>) -> Option<*const Yielder<(), Stop>> {
    let target = slot.load(Ordering::Relaxed);
    if target.is_null() {
        return None;
    }
    // SAFETY: a live target (the caller's contract).
    let target = unsafe { &*target };
    let probe = 0u8;
    target.yielder_at(ptr::addr_of!(probe) as usize)
}
