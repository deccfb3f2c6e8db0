//! xasync-core's kernel contract for this machine, without interrupts:
//!
//! | contract | here |
//! | --- | --- |
//! | `Clock` | the generic timer's virtual count, `CNTVCT_EL0` / `CNTFRQ_EL0` |
//! | `Alarm` | nothing to arm: the idle `wfe` is ended by the timer's event stream |
//! | `InterruptGuard` | `DAIF`: save, mask all, restore |
//! | `CpuId` | `MPIDR_EL1.Aff0` |
//! | `Kick` | `sev`, which ends `wfe` on every CPU |
//! | `Idle` | `wfe` |
//! | `Stack` | [`KernelStack`]: 64 KiB from the heap, with a canary |
//!
//! No wake-up is lost: a `sev` (or an event-stream event) sets the event
//! register of a CPU that is not waiting, so its next `wfe` returns at
//! once. With a GIC and the timer interrupt, `Alarm` would program
//! `CNTV_CVAL_EL0` and `Idle` would be `wfi`.

use core::arch::asm;
use core::time::Duration;
use xasync_core::executor::{Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, Platform};
use xasync_core::stack::{DefaultHeapStack, HeapStackSize};

/// The `CNTVCT_EL0` bit whose rising edge raises an event: bit 9 of a
/// 62.5 MHz count, an event every 16 µs.
const EVENT_STREAM_BIT: u64 = 9;

/// Turns on the generic timer's event stream (`CNTKCTL_EL1.EVNTEN`).
pub(crate) fn init() {
    let value: u64 = (EVENT_STREAM_BIT << 4) | (1 << 2);
    // SAFETY: CNTKCTL_EL1 only controls EL0 timer access and the event
    // stream; we run at EL1.
    unsafe { asm!("msr cntkctl_el1, {}", "isb", in(reg) value, options(nomem, nostack)) };
}

/// Time since the counter started.
pub fn uptime() -> Duration {
    let (count, frequency): (u64, u64);
    // SAFETY: reading the generic timer's count and frequency at EL1.
    unsafe {
        asm!("isb", "mrs {}, cntvct_el0", out(reg) count, options(nomem, nostack));
        asm!("mrs {}, cntfrq_el0", out(reg) frequency, options(nomem, nostack));
    }
    let nanos = u128::from(count) * 1_000_000_000 / u128::from(frequency.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The machine as executors see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Machine;

impl Clock for Machine {
    fn now(&self) -> Duration {
        uptime()
    }
}

impl Alarm for Machine {
    fn set_alarm(&self, _deadline: Option<Duration>) {
        // The event stream ends every `wfe` within 16 µs: the executor then
        // reads the clock itself.
    }
}

impl InterruptGuard for Machine {
    type Saved = u64;

    fn save_disable(&self) -> u64 {
        let daif: u64;
        // SAFETY: masking exceptions only defers them. Not `nomem`: a
        // compiler barrier, like every interrupt guard.
        unsafe { asm!("mrs {}, daif", "msr daifset, #0xf", out(reg) daif, options(nostack)) };
        daif
    }

    fn restore(&self, saved: u64) {
        // SAFETY: puts back the mask `save_disable` read.
        unsafe { asm!("msr daif, {}", in(reg) saved, options(nostack)) };
    }
}

impl CpuId for Machine {
    fn cpu_id(&self) -> usize {
        let mpidr: u64;
        // SAFETY: reading MPIDR_EL1 has no side effect.
        unsafe { asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
        (mpidr & 0xff) as usize
    }
}

impl Kick for Machine {
    fn kick(&self, _cpu: usize) {
        // SAFETY: `sev` only signals an event to every CPU.
        unsafe { asm!("dsb ish", "sev", options(nostack)) };
    }
}

impl Idle for Machine {
    fn idle(&self) {
        // SAFETY: `wfe` only waits for an event (a `sev`, the event stream).
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}

impl Platform for Machine {
    type Stack = KernelStack;
}

/// The stack executors give coroutines: 64 KiB from the heap, with a canary
/// below it (this kernel maps no guard pages).
pub type KernelStack = DefaultHeapStack<KernelStacks>;

/// The size of a [`KernelStack`].
#[derive(Debug)]
pub struct KernelStacks;

// SAFETY: the only coroutines here are the smoke checks', a few small
// frames deep: far from overflowing 64 KiB.
unsafe impl HeapStackSize for KernelStacks {
    const SIZE: usize = 64 * 1024;
}
