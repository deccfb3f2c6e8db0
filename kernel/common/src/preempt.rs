//! Preemption of coroutines that never yield, for kernels whose interrupt
//! entry saves the interrupted registers on the interrupted stack and runs
//! the handler there (aarch64, x86_64 here).
//!
//! A [`Preemptible`] is an asymmetric coroutine of `xasync-core` that the
//! timer tick can take the CPU from. When the tick interrupts the armed
//! preemptible coroutine, the handler is already on that coroutine's
//! stack: the kernel calls [`on_interrupt_exit`] after its interrupt
//! controller's end of interrupt, which suspends the coroutine through its
//! `Yielder` like an ordinary `suspend` call from that point, and
//! [`Preemptible::resume`] returns [`Stop::Preempted`]. Resuming it
//! returns into the handler, which restores the saved registers and
//! returns from the exception to the interrupted instruction (with the
//! interrupt mask it had).
//!
//! # Why this is sound
//!
//! The rules are the riscv64 kernel's (see its `preempt` module, which
//! copies the frame instead, as its traps run on an interrupt stack):
//!
//! * Every switch into or out of a preemptible coroutine happens with
//!   interrupts masked: `resume` masks them, the coroutine unmasks them
//!   only while its function runs, the handler runs masked. So a
//!   preemption never lands inside the core's switch code.
//! * The handler preempts only when its own stack pointer lies in the
//!   armed coroutine's stack, not in a nested coroutine's or a fiber's.
//! * The function is `Send`: it is interrupted at arbitrary points, as a
//!   thread is.
//! * `resume` sets and clears the armed target with interrupts masked, so
//!   a target the handler sees is alive.

use crate::{Cpu, MAX_CPUS};
use alloc::boxed::Box;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult, Yielder};
use xasync_core::stack::{HeapStack, Stack};
pub use xasync_kernel_smoke::preempt::Stop;

/// Per CPU: the armed preemptible coroutine, the tick's request, the count.
static TARGET: [AtomicPtr<Target>; MAX_CPUS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CPUS];
static NEED_RESCHED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static PREEMPTIONS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// What the interrupt handler knows of the running preemptible coroutine.
struct Target {
    /// Its stack: `limit..top`.
    limit: usize,
    top: usize,
    /// Its yielder, set when it first runs.
    yielder: Cell<*const Yielder<(), Stop>>,
}

/// A coroutine that is suspended when its time slice ends, even if it never
/// yields, on CPU `C`. See the [module documentation](self).
pub struct Preemptible<C: Cpu, R: 'static> {
    // Dropped before `target`, which its function points to.
    co: Coroutine<(), Stop, R, HeapStack>,
    target: Box<Target>,
    _cpu: PhantomData<C>,
}

impl<C: Cpu, R: 'static> Preemptible<C, R> {
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
        Preemptible {
            co,
            target,
            _cpu: PhantomData,
        }
    }

    /// Runs the coroutine until its time slice ends, it yields or it
    /// returns.
    ///
    /// # Panics
    ///
    /// If it has already finished.
    pub fn resume(&mut self) -> CoroutineResult<Stop, R> {
        let cpu = C::id();
        let saved = C::disable();
        let target = ptr::from_ref::<Target>(&self.target).cast_mut();
        let outer = TARGET[cpu].swap(target, Ordering::Relaxed);
        NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
        let result = self.co.resume(());
        TARGET[cpu].store(outer, Ordering::Relaxed);
        C::restore(saved);
        result
    }

    /// Whether its function has returned.
    pub fn done(&self) -> bool {
        self.co.done()
    }
}

impl<C: Cpu, R> fmt::Debug for Preemptible<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preemptible")
            .field("co", &self.co)
            .finish_non_exhaustive()
    }
}

/// The yielder of the armed preemptible coroutine, if the caller runs on
/// its stack. Call with interrupts masked.
fn current_yielder(cpu: usize) -> Option<*const Yielder<(), Stop>> {
    let target = TARGET[cpu].load(Ordering::Relaxed);
    if target.is_null() {
        return None;
    }
    // SAFETY: an armed target is alive until `resume` disarms it, which it
    // does with interrupts masked, so not while the caller runs.
    let target = unsafe { &*target };
    let probe = 0u8;
    let sp = ptr::addr_of!(probe) as usize;
    let yielder = target.yielder.get();
    ((target.limit..target.top).contains(&sp) && !yielder.is_null()).then_some(yielder)
}

/// Suspends the calling preemptible coroutine; its `resume` returns
/// [`Stop::Yielded`]. Returns when it is resumed.
///
/// # Panics
///
/// If not called from a [`Preemptible`]'s own stack.
pub fn yield_now<C: Cpu>() {
    let saved = C::disable();
    let yielder =
        current_yielder(C::id()).expect("yield_now: not called on a preemptible coroutine's stack");
    // SAFETY: we run on the armed coroutine's stack, inside its function,
    // so its yielder is alive; interrupts are masked across the switch.
    unsafe { (*yielder).suspend(Stop::Yielded) };
    C::restore(saved);
}

/// Preemptions so far on this CPU.
pub fn preemptions<C: Cpu>() -> u64 {
    PREEMPTIONS[C::id()].load(Ordering::Relaxed)
}

/// Asks this CPU to preempt its running preemptible coroutine at the end
/// of the interrupt: the kernel's tick handler calls this.
pub fn request_resched<C: Cpu>() {
    NEED_RESCHED[C::id()].store(true, Ordering::Relaxed);
}

/// The kernel calls this at the end of every interrupt, after its end of
/// interrupt, still masked and on the interrupted stack: preempts the
/// interrupted coroutine if the tick asked for it and the interrupted code
/// runs on the armed coroutine's stack.
pub fn on_interrupt_exit<C: Cpu>() {
    let cpu = C::id();
    if !NEED_RESCHED[cpu].load(Ordering::Relaxed) {
        return;
    }
    let Some(yielder) = current_yielder(cpu) else {
        return;
    };
    NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
    PREEMPTIONS[cpu].fetch_add(1, Ordering::Relaxed);
    // SAFETY: checked just above with interrupts masked: the armed
    // coroutine's yielder, and we run on its stack (the interrupted code's
    // registers are saved below us by the interrupt entry).
    unsafe { (*yielder).suspend(Stop::Preempted) };
}

impl<C: Cpu, R: 'static> xasync_kernel_smoke::preempt::Preemptible<R> for Preemptible<C, R> {
    fn resume(&mut self) -> CoroutineResult<Stop, R> {
        Preemptible::resume(self)
    }

    fn done(&self) -> bool {
        Preemptible::done(self)
    }
}

/// A kernel's preemption, as the shared scenarios
/// (`xasync_kernel_smoke::preempt`) see it.
pub struct Scenarios<C>(PhantomData<C>);

impl<C: Cpu> xasync_kernel_smoke::preempt::Preemption for Scenarios<C> {
    type Coroutine<R: 'static> = Preemptible<C, R>;

    fn new<R: 'static>(
        stack: HeapStack,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Preemptible<C, R> {
        Preemptible::new(stack, f)
    }

    fn yield_now() {
        yield_now::<C>();
    }

    fn ticks() -> u64 {
        C::ticks()
    }

    fn preemptions() -> u64 {
        preemptions::<C>()
    }

    fn now() -> Duration {
        C::now()
    }
}
