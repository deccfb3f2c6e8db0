//! xasync-core's kernel contract for this machine:
//!
//! | contract | here |
//! | --- | --- |
//! | `Clock` | the generic timer's virtual count ([`timer::uptime`]) |
//! | `Alarm` | the CPU's virtual timer, deadline rounded up ([`timer::set_alarm`]); its interrupt, PPI 27 through the GIC, ends the idle `wfi` |
//! | `InterruptGuard` | `DAIF.I` ([`irq::disable`] / [`irq::restore`]) |
//! | `CpuId` | `MPIDR_EL1.Aff0` |
//! | `Kick` | SGI 0 to the CPU ([`gic::send_sgi`]) |
//! | `Idle` | `wfi`, entered with IRQs masked: a pending interrupt ends it all the same |
//! | `Stack` | [`KernelStack`]: 64 KiB from the heap, with a canary |
//!
//! As on riscv64, the interrupt handlers contain no executor code: the
//! timer's silences the timer, the kick's does nothing; the executor reads
//! its clock and inbox when `wfi` returns.

use crate::{gic, irq, timer};
use core::arch::asm;
use core::time::Duration;
use xasync_core::executor::{Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, Platform};
use xasync_core::stack::{DefaultHeapStack, HeapStackSize};
use xasync_kernel_common::Cpu;

/// `DAIF.I`: IRQs masked.
const DAIF_I: u64 = 1 << 7;

/// The machine as executors see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Machine;

impl Clock for Machine {
    fn now(&self) -> Duration {
        timer::uptime()
    }
}

impl Alarm for Machine {
    fn set_alarm(&self, deadline: Option<Duration>) {
        timer::set_alarm(deadline);
    }
}

impl InterruptGuard for Machine {
    type Saved = u64;

    fn save_disable(&self) -> u64 {
        irq::disable()
    }

    fn restore(&self, saved: u64) {
        irq::restore(saved);
    }
}

impl CpuId for Machine {
    fn cpu_id(&self) -> usize {
        irq::cpu_id()
    }
}

impl Kick for Machine {
    fn kick(&self, cpu: usize) {
        gic::send_sgi(cpu, irq::KICK_SGI);
    }
}

impl Idle for Machine {
    fn idle(&self) {
        // SAFETY: `wfi` only waits for an interrupt to be pending.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

impl Platform for Machine {
    type Stack = KernelStack;
}

/// This CPU, as the shared machinery (`xasync_kernel_common`) sees it:
/// preemption and the interrupt-masking spin lock.
#[derive(Debug)]
pub struct ThisCpu;

impl Cpu for ThisCpu {
    type Saved = u64;

    fn id() -> usize {
        irq::cpu_id()
    }

    fn disable() -> u64 {
        irq::disable()
    }

    fn restore(saved: u64) {
        irq::restore(saved);
    }

    fn enable() {
        irq::enable();
    }

    fn ticks() -> u64 {
        timer::ticks()
    }

    fn now() -> Duration {
        timer::uptime()
    }

    fn start_tick(period: Duration) {
        timer::start_periodic(period);
    }

    fn stop_tick() {
        timer::stop();
    }

    fn were_enabled(saved: &Self::Saved) -> bool {
        *saved & DAIF_I == 0
    }
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
