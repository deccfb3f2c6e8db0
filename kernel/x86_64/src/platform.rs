//! xasync-core's kernel contract for this machine:
//!
//! | contract | here |
//! | --- | --- |
//! | `Clock` | the HPET main counter (`0xfed0_0000`), enabled at boot |
//! | `Alarm` | the LAPIC timer, one-shot ([`apic::set_alarm`]) |
//! | `InterruptGuard` | `RFLAGS.IF`: save, `cli`, `sti` if it was set |
//! | `CpuId` | the initial APIC id (`cpuid` leaf 1) |
//! | `Kick` | a LAPIC IPI ([`apic::send_kick`]) |
//! | `Idle` | `sti; hlt; cli`: the `sti` shadow makes "enable and halt" atomic, so an interrupt pending since the executor's last check ends the `hlt` |
//! | `Stack` | [`KernelStack`]: 64 KiB from the heap, with a canary |
//!
//! The interrupt handlers contain no executor code: the timer's only
//! counts, the kick's does nothing; the executor reads its clock and inbox
//! when `hlt` returns.

use crate::{apic, interrupts};
use core::arch::asm;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::executor::{Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, Platform};
use xasync_core::stack::{DefaultHeapStack, HeapStackSize};
use xasync_kernel_common::Cpu;

/// The HPET's MMIO base on QEMU's `pc` machine.
const HPET: usize = 0xfed0_0000;
/// General capabilities: bits 63..32 are the counter period in fs.
const HPET_CAPABILITIES: usize = 0x000;
/// General configuration: bit 0 enables the main counter.
const HPET_CONFIG: usize = 0x010;
/// The main counter.
const HPET_COUNTER: usize = 0x0f0;

/// The HPET counter period in femtoseconds (0 until [`init`]).
static PERIOD_FS: AtomicU64 = AtomicU64::new(0);

fn hpet(offset: usize) -> *mut u64 {
    (HPET + offset) as *mut u64
}

/// Starts the HPET main counter.
pub(crate) fn init() {
    // SAFETY: the boot page tables identity-map the HPET's page; these are
    // its documented 64-bit registers.
    let period = unsafe {
        let period = ptr::read_volatile(hpet(HPET_CAPABILITIES)) >> 32;
        let config = ptr::read_volatile(hpet(HPET_CONFIG));
        ptr::write_volatile(hpet(HPET_CONFIG), config | 1);
        period
    };
    assert!(period > 0, "no HPET at {HPET:#x}");
    PERIOD_FS.store(period, Ordering::Relaxed);
}

/// Time since the HPET started.
pub fn uptime() -> Duration {
    // SAFETY: reading the identity-mapped HPET main counter.
    let count = unsafe { ptr::read_volatile(hpet(HPET_COUNTER)) };
    let femtos = u128::from(count) * u128::from(PERIOD_FS.load(Ordering::Relaxed));
    Duration::from_nanos(u64::try_from(femtos / 1_000_000).unwrap_or(u64::MAX))
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
    fn set_alarm(&self, deadline: Option<Duration>) {
        apic::set_alarm(deadline);
    }
}

impl InterruptGuard for Machine {
    type Saved = bool;

    fn save_disable(&self) -> bool {
        interrupts::disable()
    }

    fn restore(&self, enabled: bool) {
        interrupts::restore(enabled);
    }
}

impl CpuId for Machine {
    fn cpu_id(&self) -> usize {
        let ebx: u32;
        // SAFETY: `cpuid` leaf 1 only reads CPU information; rbx is
        // reserved by LLVM, hence the swap through another register.
        unsafe {
            asm!(
                "mov {tmp:r}, rbx",
                "cpuid",
                "xchg {tmp:r}, rbx",
                tmp = out(reg) ebx,
                inout("eax") 1u32 => _,
                out("ecx") _,
                out("edx") _,
                options(nomem, nostack, preserves_flags)
            )
        };
        (ebx >> 24) as usize
    }
}

impl Kick for Machine {
    fn kick(&self, cpu: usize) {
        apic::send_kick(cpu);
    }
}

impl Idle for Machine {
    fn idle(&self) {
        // SAFETY: called with interrupts disabled (the contract); they are
        // enabled for the `hlt` only, and disabled again after it.
        unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
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
    type Saved = bool;

    fn id() -> usize {
        Machine.cpu_id()
    }

    fn disable() -> bool {
        interrupts::disable()
    }

    fn restore(saved: bool) {
        interrupts::restore(saved);
    }

    fn enable() {
        interrupts::enable();
    }

    fn ticks() -> u64 {
        apic::ticks()
    }

    fn now() -> Duration {
        uptime()
    }

    fn start_tick(period: Duration) {
        apic::start_periodic(period);
    }

    fn stop_tick() {
        apic::stop();
    }

    fn were_enabled(saved: &Self::Saved) -> bool {
        *saved
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
