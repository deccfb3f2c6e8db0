//! Preemption of coroutines that never yield, for kernels whose interrupt
//! entry saves the interrupted registers on the interrupted stack and runs
//! the handler there (aarch64, x86_64 here). riscv64, whose traps run on an
//! interrupt stack, shares all of it but [`on_interrupt_exit`]: its own
//! copies the trap frame onto the coroutine's stack and switches from
//! there, through the same [`Slot`].
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

mod target;

use crate::{Cpu, MAX_CPUS};
use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;
pub use target::{Body, Slot, Target};
use xasync_core::coroutine::{CoroutineResult, Yielder};
use xasync_core::stack::HeapStack;
pub use xasync_kernel_smoke::preempt::Stop;

/// Per CPU: the armed preemptible coroutine, the tick's request, the count.
static SLOTS: [Slot; MAX_CPUS] = [const { Slot::new() }; MAX_CPUS];

/// CPU `cpu`'s entry in the default table of slots
/// ([`Cpu::preempt_slot`]).
pub(crate) fn slot(cpu: usize) -> &'static Slot {
    &SLOTS[cpu]
}

/// A coroutine that is suspended when its time slice ends, even if it never
/// yields, on CPU `C`. See the [module documentation](self).
pub struct Preemptible<C: Cpu, R: 'static> {
    body: Body<C, R>,
}

impl<C: Cpu, R: 'static> Preemptible<C, R> {
    /// A coroutine that will run `f` on `stack`. `f` must be `Send`: it is
    /// interrupted at arbitrary points, as a thread is.
    pub fn new<F>(stack: HeapStack, f: F) -> Self
    where
        F: FnOnce() -> R + Send + 'static,
    {
        Preemptible {
            body: Body::new(stack, f),
        }
    }

    /// Runs the coroutine until its time slice ends, it yields or it
    /// returns.
    ///
    /// # Panics
    ///
    /// If it has already finished.
    pub fn resume(&mut self) -> CoroutineResult<Stop, R> {
        let saved = C::disable();
        let result = C::preempt_slot().resume(&mut self.body);
        debug_assert!(
            !C::were_enabled(&C::disable()),
            "a preemptible coroutine left with interrupts unmasked"
        );
        C::restore(saved);
        result
    }

    /// Whether its function has returned.
    pub fn done(&self) -> bool {
        self.body.done()
    }
}

impl<C: Cpu, R> fmt::Debug for Preemptible<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preemptible")
            .field("body", &self.body)
            .finish()
    }
}

/// The yielder of the armed preemptible coroutine, if the caller runs on
/// its stack. Call with interrupts masked.
fn current_yielder<C: Cpu>() -> Option<*const Yielder<(), Stop>> {
    // SAFETY: `resume` arms a live target and disarms it before it is
    // dropped, both with interrupts masked, as the caller runs.
    unsafe { C::preempt_slot().armed_here() }
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
        current_yielder::<C>().expect("yield_now: not called on a preemptible coroutine's stack");
    // SAFETY: we run on the armed coroutine's stack, inside its function,
    // so its yielder is alive; interrupts are masked across the switch.
    unsafe { (*yielder).suspend(Stop::Yielded) };
    C::restore(saved);
}

/// Preemptions so far on this CPU.
pub fn preemptions<C: Cpu>() -> u64 {
    C::preempt_slot().preemptions()
}

/// Asks this CPU to preempt its running preemptible coroutine at the end
/// of the interrupt: the kernel's tick handler calls this.
pub fn request_resched<C: Cpu>() {
    C::preempt_slot().request_resched();
}

/// The kernel calls this at the end of every interrupt, after its end of
/// interrupt, still masked and on the interrupted stack: preempts the
/// interrupted coroutine if the tick asked for it and the interrupted code
/// runs on the armed coroutine's stack.
pub fn on_interrupt_exit<C: Cpu>() {
    let slot = C::preempt_slot();
    if !slot.resched_requested() {
        return;
    }
    let Some(yielder) = current_yielder::<C>() else {
        return;
    };
    slot.count_preemption();
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

    fn disable() {
        let _ = C::disable();
    }

    fn enable() {
        C::enable();
    }

    fn start_tick(period: Duration) {
        C::start_tick(period);
    }

    fn stop_tick() {
        C::stop_tick();
    }
}

/// Defines, in a kernel's `preempt` module, its preemptible coroutines over
/// its [`Cpu`] type `$cpu`: the `Preemptible` and `Scenarios` types,
/// `yield_now` and `preemptions` for images, and `request_resched` and
/// `on_interrupt_exit` for its interrupt handler.
#[macro_export]
macro_rules! preempt_over {
    ($cpu:ty) => {
        pub use $crate::preempt::Stop;

        /// A coroutine the tick preempts (see `xasync_kernel_common::preempt`).
        pub type Preemptible<R> = $crate::preempt::Preemptible<$cpu, R>;

        /// This kernel's preemption, as the shared scenarios see it.
        pub type Scenarios = $crate::preempt::Scenarios<$cpu>;

        /// Suspends the calling preemptible coroutine ([`Stop::Yielded`]).
        pub fn yield_now() {
            $crate::preempt::yield_now::<$cpu>();
        }

        /// Preemptions so far on this CPU.
        pub fn preemptions() -> u64 {
            $crate::preempt::preemptions::<$cpu>()
        }

        /// Asks for a preemption at the end of this interrupt (the tick).
        pub(crate) fn request_resched() {
            $crate::preempt::request_resched::<$cpu>();
        }

        /// The end of every interrupt (see the module documentation).
        pub(crate) fn on_interrupt_exit() {
            $crate::preempt::on_interrupt_exit::<$cpu>();
        }
    };
}
