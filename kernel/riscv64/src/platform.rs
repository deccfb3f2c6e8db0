//! xasync-core's kernel contract, implemented for this kernel: what a
//! [`LocalExecutor`] needs to run on a hart.
//!
//! | contract | here |
//! | --- | --- |
//! | `Clock` | the `time` CSR ([`timer::uptime`]) |
//! | `Alarm` | the hart's one-shot SBI timer ([`timer::set_alarm`]), rounded up |
//! | `InterruptGuard` | `sstatus.SIE` ([`irq::disable`] / [`irq::restore`]) |
//! | `CpuId` | the hart id, through `tp` ([`hart::this`]) |
//! | `Kick` | an SBI IPI ([`smp::send_ipi`]) |
//! | `Idle` | `wfi`, entered with `SIE` clear: a pending timer or IPI ends it |
//! | `Stack` | [`KernelStack`]: 32 KiB from the interrupt-safe heap |
//!
//! Nothing else is needed: the timer interrupt's handler does not know about
//! executors (it silences the timer; the woken executor reads the clock),
//! and the IPI handler only acknowledges the IPI.

use crate::irq::{self, IrqState};
use crate::{cpu, hart, smp, timer};
use core::time::Duration;
use xasync_core::executor::{self, Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, LocalExecutor};
use xasync_core::stack::{DefaultHeapStack, HeapStackSize};

/// The kernel as executors see it: one value serves every hart.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernel;

/// A hart's executor.
pub type Executor = LocalExecutor<Kernel>;

/// A handle on a hart's executor, for any hart.
pub type Spawner = executor::Spawner<Kernel>;

/// The resolution of executor timers: 10 µs (100 `time` units).
pub const TICK: Duration = Duration::from_micros(10);

/// Creates the calling hart's executor.
pub fn executor() -> Executor {
    LocalExecutor::with_tick(Kernel, TICK)
}

impl Clock for Kernel {
    fn now(&self) -> Duration {
        timer::uptime()
    }
}

impl Alarm for Kernel {
    fn set_alarm(&self, deadline: Option<Duration>) {
        timer::set_alarm(deadline.map(timer::cycles_ceil));
    }
}

impl InterruptGuard for Kernel {
    type Saved = IrqState;

    fn save_disable(&self) -> IrqState {
        irq::disable()
    }

    fn restore(&self, saved: IrqState) {
        irq::restore(saved);
    }
}

impl CpuId for Kernel {
    fn cpu_id(&self) -> usize {
        hart::this().id()
    }
}

impl Kick for Kernel {
    fn kick(&self, cpu: usize) {
        smp::send_ipi(cpu);
    }
}

impl Idle for Kernel {
    fn idle(&self) {
        debug_assert!(!irq::are_enabled());
        cpu::wfi();
    }
}

impl executor::Platform for Kernel {
    type Stack = KernelStack;
}

/// The stack executors give coroutines: 32 KiB from the kernel heap, with a
/// canary below it (paging is off here, so no guard page).
pub type KernelStack = DefaultHeapStack<KernelStacks>;

/// The size of a [`KernelStack`].
#[derive(Debug)]
pub struct KernelStacks;

// SAFETY: the coroutines executors run here are this kernel's demo and
// test tasks, a few small frames deep: far from overflowing 32 KiB.
unsafe impl HeapStackSize for KernelStacks {
    const SIZE: usize = 32 * 1024;
}
