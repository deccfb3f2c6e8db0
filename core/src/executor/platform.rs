//! The kernel-facing contract: what a host (a kernel, or a thread in
//! tests) implements so that a [`LocalExecutor`](super::LocalExecutor) can
//! run on it.
//!
//! Each trait is one small capability; [`Platform`] bundles them and names
//! the stack type coroutines get. None of them is `unsafe`: a wrong
//! implementation can make the executor hang (a lost wake-up) or spin, but
//! cannot make it unsound.
//!
//! | trait | a kernel implements it with |
//! | --- | --- |
//! | [`Clock`] | its monotonic counter (`time` CSR, `CNTVCT_EL0`, HPET) |
//! | [`Alarm`] | its per-CPU one-shot timer (SBI `set_timer`, `CNTV_CVAL_EL0`, LAPIC) |
//! | [`InterruptGuard`] | save-and-disable / restore of interrupts (and so of preemption) |
//! | [`CpuId`] | the id of the CPU the caller runs on |
//! | [`Kick`] | an inter-processor interrupt to another CPU |
//! | [`Idle`] | `wfi` / `hlt`: wait for an interrupt |
//! | [`Platform::Stack`] | stacks for stackful coroutines, from its allocator |

use crate::stack::Stack;
use core::time::Duration;

pub use crate::time::Clock;

/// A one-shot timer interrupt on the calling CPU, in the time base of its
/// [`Clock`].
pub trait Alarm: Clock {
    /// Arms this CPU's timer to raise an interrupt once [`now`](Clock::now)
    /// reaches `deadline` (at once if it has passed), replacing any earlier
    /// setting; `None` disarms it.
    ///
    /// The executor calls it with interrupts disabled, right before
    /// [`Idle::idle`], on its own CPU. The interrupt only has to end the
    /// wait: the executor reads the clock itself when it wakes, so the
    /// handler needs no executor code (it must silence the timer, e.g. by
    /// programming it to "never", so that it does not fire again). Firing
    /// a little early or late is harmless: early, the executor re-arms;
    /// late, timers fire late.
    fn set_alarm(&self, deadline: Option<Duration>);
}

/// Save-and-disable / restore of interrupts on the calling CPU.
///
/// The executor disables interrupts around its idle decision (so that a
/// wake-up cannot slip in between "nothing to do" and [`Idle::idle`]) and
/// around its timer wheel's short critical sections (so that preemption
/// cannot land while the wheel's spin lock is held). It never disables
/// them while it runs tasks.
pub trait InterruptGuard {
    /// What [`save_disable`](Self::save_disable) returns: the previous
    /// interrupt state.
    type Saved;

    /// Disables interrupts on this CPU and returns the previous state.
    fn save_disable(&self) -> Self::Saved;

    /// Restores the state `save_disable` returned. Calls nest: the executor
    /// restores in reverse order of saving, on the same CPU.
    fn restore(&self, saved: Self::Saved);
}

/// Which CPU the caller runs on.
pub trait CpuId {
    /// The id of the CPU running the caller: stable while an executor
    /// lives on it (the kernel must not migrate the context that owns an
    /// executor), and unique among CPUs. Contexts that are not a CPU of
    /// any executor (a host thread in tests) return an id no executor
    /// uses, e.g. `usize::MAX`.
    fn cpu_id(&self) -> usize;
}

/// The cross-CPU kick ("pender"): how the executor of another CPU is asked
/// to look at its queues.
pub trait Kick {
    /// Makes the executor running on `cpu` return from its current
    /// [`Idle::idle`], or from its next one if it is not idling: an
    /// inter-processor interrupt in a kernel (a pending IPI ends `wfi`
    /// even with interrupts disabled), an unpark token for a thread.
    ///
    /// Called from any CPU and from interrupt handlers (a waker woken in a
    /// handler), so it must take no lock the interrupted code may hold and
    /// must not allocate. The executor never kicks its own CPU: work that
    /// arrives there either comes from code the executor is running, or
    /// from an interrupt handler, whose interrupt already ended the wait.
    fn kick(&self, cpu: usize);
}

/// Waiting for an interrupt without losing a wake-up.
pub trait Idle {
    /// Waits until an interrupt is pending or a [`Kick`] arrived, then
    /// returns. It may return early, spuriously, or at once (a busy-waiting
    /// idle is correct, just not frugal).
    ///
    /// Called with interrupts **disabled** (by
    /// [`InterruptGuard::save_disable`]) right after the executor found
    /// nothing to do; the executor restores interrupts afterwards, which
    /// lets the pending interrupt's handler run. So the wait must end on an
    /// interrupt that became pending *before* the call, even though it is
    /// masked: RISC-V and AArch64 `wfi` do this; on x86 use `sti; hlt`
    /// (the `sti` shadow makes the pair atomic) and disable again after.
    /// Returns with interrupts disabled.
    fn idle(&self);
}

/// Everything a [`LocalExecutor`](super::LocalExecutor) needs from its host.
///
/// A kernel implements it once, for a value shared by all its CPUs (the
/// executor of each CPU holds it in an `Arc`, and other CPUs and interrupt
/// handlers reach its [`Kick`] through wakers).
pub trait Platform: Alarm + InterruptGuard + CpuId + Kick + Idle + Send + Sync + 'static {
    /// The stack [`LocalExecutor::spawn_coroutine`](super::LocalExecutor::spawn_coroutine)
    /// runs coroutines on, created with `Default` when a coroutine first
    /// runs (on its executor's CPU) and dropped when it finishes: the
    /// kernel's stack allocator (a pool of pages, with a guard page if it
    /// has an MMU; see [`Stack`]'s safety contract).
    type Stack: Stack + Default;
}
