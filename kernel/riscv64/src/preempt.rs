//! Preemption of coroutines that never yield. The coroutine, `yield_now`
//! and the per-hart state are `xasync_kernel_common::preempt`'s over
//! [`ThisHart`]; this module is the way out of the
//! interrupt, which differs.
//!
//! A [`Preemptible`] is an asymmetric coroutine of `xasync-core` that the
//! timer can take the CPU from. The interrupt handler itself never switches
//! stacks (it runs on the hart's interrupt stack, and its frame would be
//! left behind); instead:
//!
//! 1. The tick sets the hart's `need_resched` flag.
//! 2. On the way out of the handler, `on_interrupt_exit` checks that the
//!    interrupted code is the *armed* preemptible coroutine — its saved `sp`
//!    lies inside that coroutine's stack — and copies the [`TrapFrame`]
//!    onto that stack, just below the interrupted `sp` (free memory: the
//!    RISC-V psABI has no red zone).
//! 3. The trap entry then `sret`s to `__preempt_trampoline` with `sp` at the
//!    copy and interrupts still off. The trampoline calls
//!    `preempt_switch`, which suspends the coroutine through its
//!    `Yielder` like an ordinary `suspend` call from that point: the
//!    scheduler's [`Preemptible::resume`] returns [`Stop::Preempted`].
//! 4. When the scheduler resumes it, `preempt_switch` returns, and the
//!    trampoline restores the whole frame and `sret`s to the interrupted
//!    instruction with interrupts on again.
//!
//! # Why this is sound
//!
//! * The switch runs in ordinary code on the coroutine's own stack, after
//!   the trap is over: nothing of the trap path stays live across it, and
//!   the frame copy holds every register, so the interrupted code cannot
//!   tell it was suspended.
//! * *Interrupts are part of a context's state, and every switch into or out
//!   of a preemptible coroutine happens with them off.* `resume` disables
//!   them before entering; the coroutine enables them only while its own
//!   function runs (at its start, after `yield_now`, by the `sret` after a
//!   preemption) and disables them before leaving (in `yield_now`, in
//!   `preempt_switch` by construction, after its function returns). So a
//!   preemption never lands inside the core's switch code, whose registers
//!   briefly hold a copy of the resumer's stack pointer that would be stale
//!   after a suspension.
//! * A preemption only happens while `sp` is inside the armed coroutine's
//!   stack. If it resumed a nested coroutine, or is in a fiber switch, `sp`
//!   is elsewhere and preemption waits for the next tick after it is back.
//! * Preempted code is interrupted at an arbitrary instruction, as a thread
//!   is: so the function must be `Send` — state it shares with other
//!   coroutines on this hart must be `Sync` and cannot be `Rc`/`Cell` —
//!   and critical sections must disable interrupts (as
//!   [`IrqSpinLock`](crate::sync::IrqSpinLock) does), or another coroutine
//!   may spin on them until the next slice. The allocator disables
//!   interrupts, so preemption never lands inside it.
//! * The handler reaches the armed coroutine only through the hart's
//!   `target` pointer, which `resume` sets and clears with interrupts off,
//!   so a target the handler sees is alive.

use crate::hart::{self, HartLocal};
use crate::irq;
use crate::sync::ThisHart;
use crate::trap::TrapFrame;
use xasync_core::coroutine::Yielder;
use xasync_kernel_common::preempt;
pub use xasync_kernel_smoke::preempt::Stop;

/// Stack a preemption needs below the frame copy, for `preempt_switch` and
/// the core's suspend.
const PREEMPT_ROOM: usize = 1024;

/// A coroutine that is suspended when its time slice ends, even if it never
/// yields. See the [module documentation](self).
pub type Preemptible<R> = preempt::Preemptible<ThisHart, R>;

/// This kernel's preemption, as the shared scenarios
/// (`xasync_kernel_smoke::preempt`) see it.
pub type Scenarios = preempt::Scenarios<ThisHart>;

/// The yielder of the armed preemptible coroutine, if the caller runs on
/// its stack. Call with interrupts off.
fn current_yielder(hart: &HartLocal) -> Option<*const Yielder<(), Stop>> {
    // SAFETY: `resume` arms a live target and disarms it before it is
    // dropped, both with interrupts off, as the caller runs.
    unsafe { hart.preempt.armed_here() }
}

/// Suspends the calling preemptible coroutine; its `resume` returns
/// [`Stop::Yielded`]. Returns when it is resumed.
///
/// # Panics
///
/// If not called from a [`Preemptible`]'s own stack.
pub fn yield_now() {
    preempt::yield_now::<ThisHart>();
}

/// Asks the calling hart to preempt its running preemptible coroutine at
/// the next interrupt exit (the timer tick calls this).
pub(crate) fn request_resched(hart: &HartLocal) {
    hart.preempt.request_resched();
}

/// Called at the end of every interrupt: decides whether to preempt, and if
/// so puts a copy of `frame` on the coroutine's stack and returns it.
pub(crate) fn on_interrupt_exit(frame: &TrapFrame) -> Option<*mut TrapFrame> {
    let hart = hart::this();
    if !hart.preempt.resched_requested() {
        return None;
    }
    // SAFETY: an armed target is alive until `resume` disarms it, which it
    // does with interrupts off, so not while this handler runs.
    let target = unsafe { hart.preempt.armed() }?;
    let sp = frame.x[2];
    let from_supervisor = frame.sstatus & crate::cpu::sstatus::SPP != 0;
    if !from_supervisor || target.yielder_at(sp).is_none() {
        return None;
    }
    let at = (sp - size_of::<TrapFrame>()) & !15;
    assert!(
        at >= target.limit() + PREEMPT_ROOM,
        "a preemptible coroutine's stack is too full to preempt it: sp {sp:#x}, limit {:#x}, \
         a preemption needs {} bytes",
        target.limit(),
        size_of::<TrapFrame>() + PREEMPT_ROOM
    );
    hart.preempt.count_preemption();
    let copy = at as *mut TrapFrame;
    // SAFETY: `at..sp` lies inside the coroutine's stack (checked above),
    // below its stack pointer: free memory that nothing else uses while it
    // is interrupted.
    unsafe { copy.write(frame.clone()) };
    Some(copy)
}

/// Called by `__preempt_trampoline` on the preempted coroutine's stack,
/// with interrupts off: suspends the coroutine; returns once it is resumed
/// (still with interrupts off; the trampoline's `sret` re-enables them).
pub(crate) extern "C" fn preempt_switch(_frame: *mut TrapFrame) {
    debug_assert!(!irq::are_enabled());
    let yielder = current_yielder(hart::this())
        .expect("preempt_switch: not on the armed preemptible coroutine's stack");
    // SAFETY: `on_interrupt_exit` just checked that this target is armed,
    // that we run on its stack and that its yielder is set, and interrupts
    // have been off since, so nothing changed.
    unsafe { (*yielder).suspend(Stop::Preempted) };
    debug_assert!(!irq::are_enabled());
}
