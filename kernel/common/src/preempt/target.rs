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
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
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

/// A CPU's preemption state: the preemptible coroutine armed on it, its
/// tick's request to preempt that coroutine, and the preemptions so far.
#[derive(Debug)]
pub struct Slot {
    target: AtomicPtr<Target>,
    need_resched: AtomicBool,
    count: AtomicU64,
}

impl Slot {
    /// Nothing armed, nothing requested.
    pub const fn new() -> Self {
        Slot {
            target: AtomicPtr::new(ptr::null_mut()),
            need_resched: AtomicBool::new(false),
            count: AtomicU64::new(0),
        }
    }

    /// Runs `body` until it is suspended or returns, armed in this slot
    /// (and the slot's previous target after). Call on this slot's CPU
    /// with interrupts masked.
    pub fn resume<C: Cpu, R>(&self, body: &mut Body<C, R>) -> CoroutineResult<Stop, R> {
        let outer = self.target.swap(body.target(), Ordering::Relaxed);
        self.need_resched.store(false, Ordering::Relaxed);
        let result = body.resume();
        self.target.store(outer, Ordering::Relaxed);
        result
    }

    /// Asks for the armed coroutine to be preempted (the tick does).
    pub fn request_resched(&self) {
        self.need_resched.store(true, Ordering::Relaxed);
    }

    /// Whether the tick asked for a preemption since the last one.
    pub fn resched_requested(&self) -> bool {
        self.need_resched.load(Ordering::Relaxed)
    }

    /// Counts a preemption the handler is about to make, and clears the
    /// request.
    pub fn count_preemption(&self) {
        self.need_resched.store(false, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Preemptions so far.
    pub fn preemptions(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The armed target, if any.
    ///
    /// # Safety
    ///
    /// Call on this slot's CPU with interrupts masked: [`resume`](Self::resume)
    /// arms only a live target and disarms it before returning, so it stays
    /// alive while the caller runs.
    pub unsafe fn armed(&self) -> Option<&Target> {
        let target = self.target.load(Ordering::Relaxed);
        // SAFETY: null or a live target (the caller's contract).
        unsafe { target.as_ref() }
    }

    /// The yielder of the armed target, if there is one, the caller runs on
    /// its stack and its function has started.
    ///
    /// # Safety
    ///
    /// As for [`armed`](Self::armed).
    pub unsafe fn armed_here(&self) -> Option<*const Yielder<(), Stop>> {
        // SAFETY: the caller's contract.
        let target = unsafe { self.armed() }?;
        let probe = 0u8;
        target.yielder_at(ptr::addr_of!(probe) as usize)
    }
}

impl Default for Slot {
    fn default() -> Self {
        Slot::new()
    }
}
