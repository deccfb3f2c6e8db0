//! Preemption of coroutines that never yield.
//!
//! A [`Preemptible`] is an asymmetric coroutine of `xasync-core` that the
//! timer tick can take the CPU from. The IRQ vector saves the interrupted
//! registers on the interrupted stack and runs the handler there, so when
//! the tick interrupts the armed preemptible coroutine, the handler is
//! already on that coroutine's stack: after the GIC's end of interrupt it
//! suspends the coroutine through its `Yielder`, like an ordinary `suspend`
//! call from that point, and [`Preemptible::resume`] returns
//! [`Stop::Preempted`]. Resuming it returns into the handler, which
//! restores the saved registers and `eret`s to the interrupted
//! instruction (with the interrupt mask it had).
//!
//! The rules that make this sound are riscv64's (see its `preempt`
//! module): every switch into or out of a preemptible coroutine happens
//! with IRQs masked (`resume` masks them, the coroutine unmasks them only
//! while its function runs, the handler runs masked); the handler preempts
//! only when its own stack pointer lies in the armed coroutine's stack (not
//! in a nested coroutine's); the function is `Send`, since it is
//! interrupted like a thread; the armed target is set and cleared by
//! `resume` with IRQs masked, so a target the handler sees is alive.

use crate::{irq, timer};
use alloc::boxed::Box;
use core::cell::Cell;
use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult, Yielder};
use xasync_core::stack::{HeapStack, Stack};
pub use xasync_kernel_smoke::preempt::Stop;

/// CPUs with preemption state.
const MAX_CPUS: usize = 8;

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
/// yields. See the [module documentation](self).
pub struct Preemptible<R: 'static> {
    // Dropped before `target`, which its function points to.
    co: Coroutine<(), Stop, R, HeapStack>,
    target: Box<Target>,
}

impl<R: 'static> Preemptible<R> {
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
            // Entered by `resume`, IRQs masked.
            // SAFETY: the box outlives the coroutine (field order), and only
            // this CPU touches it, with IRQs masked.
            unsafe { (*shared).yielder.set(yielder) };
            irq::enable();
            let result = f();
            // Leave with IRQs masked (see the module documentation).
            let _ = irq::disable();
            result
        });
        Preemptible { co, target }
    }

    /// Runs the coroutine until its time slice ends, it yields or it
    /// returns.
    ///
    /// # Panics
    ///
    /// If it has already finished.
    pub fn resume(&mut self) -> CoroutineResult<Stop, R> {
        let cpu = irq::cpu_id();
        let daif = irq::disable();
        let target = ptr::from_ref::<Target>(&self.target).cast_mut();
        let outer = TARGET[cpu].swap(target, Ordering::Relaxed);
        NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
        let result = self.co.resume(());
        TARGET[cpu].store(outer, Ordering::Relaxed);
        irq::restore(daif);
        result
    }

    /// Whether its function has returned.
    pub fn done(&self) -> bool {
        self.co.done()
    }
}

impl<R> fmt::Debug for Preemptible<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preemptible")
            .field("co", &self.co)
            .finish_non_exhaustive()
    }
}

/// The yielder of the armed preemptible coroutine, if the caller runs on
/// its stack. Call with IRQs masked.
fn current_yielder(cpu: usize) -> Option<*const Yielder<(), Stop>> {
    let target = TARGET[cpu].load(Ordering::Relaxed);
    if target.is_null() {
        return None;
    }
    // SAFETY: an armed target is alive until `resume` disarms it, which it
    // does with IRQs masked, so not while the caller runs.
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
pub fn yield_now() {
    let daif = irq::disable();
    let yielder = current_yielder(irq::cpu_id())
        .expect("yield_now: not called on a preemptible coroutine's stack");
    // SAFETY: we run on the armed coroutine's stack, inside its function,
    // so its yielder is alive; IRQs are masked across the switch.
    unsafe { (*yielder).suspend(Stop::Yielded) };
    irq::restore(daif);
}

/// Preemptions so far on this CPU.
pub fn preemptions() -> u64 {
    PREEMPTIONS[irq::cpu_id()].load(Ordering::Relaxed)
}

/// Asks this CPU to preempt its running preemptible coroutine at the end
/// of the interrupt (the tick calls this).
pub(crate) fn request_resched() {
    NEED_RESCHED[irq::cpu_id()].store(true, Ordering::Relaxed);
}

/// Called at the end of every interrupt, after the GIC's end of interrupt,
/// IRQs masked: preempts the interrupted coroutine if the tick asked for it
/// and the interrupted code runs on the armed coroutine's stack.
pub(crate) fn on_interrupt_exit() {
    let cpu = irq::cpu_id();
    if !NEED_RESCHED[cpu].load(Ordering::Relaxed) {
        return;
    }
    let Some(yielder) = current_yielder(cpu) else {
        return;
    };
    NEED_RESCHED[cpu].store(false, Ordering::Relaxed);
    PREEMPTIONS[cpu].fetch_add(1, Ordering::Relaxed);
    // SAFETY: checked just above with IRQs masked: the armed coroutine's
    // yielder, and we run on its stack (the interrupted code's registers
    // are saved below us by the IRQ vector).
    unsafe { (*yielder).suspend(Stop::Preempted) };
}

impl<R: 'static> xasync_kernel_smoke::preempt::Preemptible<R> for Preemptible<R> {
    fn resume(&mut self) -> CoroutineResult<Stop, R> {
        Preemptible::resume(self)
    }

    fn done(&self) -> bool {
        Preemptible::done(self)
    }
}

/// This kernel's preemption, as the shared scenarios
/// (`xasync_kernel_smoke::preempt`) see it.
#[derive(Debug)]
pub struct Scenarios;

impl xasync_kernel_smoke::preempt::Preemption for Scenarios {
    type Coroutine<R: 'static> = Preemptible<R>;

    fn new<R: 'static>(stack: HeapStack, f: impl FnOnce() -> R + Send + 'static) -> Preemptible<R> {
        Preemptible::new(stack, f)
    }

    fn yield_now() {
        yield_now();
    }

    fn ticks() -> u64 {
        timer::ticks()
    }

    fn preemptions() -> u64 {
        preemptions()
    }

    fn now() -> Duration {
        timer::uptime()
    }
}
