//! Preemption: coroutines that never yield share the CPU because the LAPIC
//! timer's tick suspends them (see the kernel's `preempt` module). The
//! scenarios are `xasync_kernel_smoke::preempt`'s, shared with riscv64 and
//! aarch64: two busy loops interleave and compute exactly what they compute
//! unpreempted (every register survives), yields and preemptions mix, and
//! a nested coroutine is not preempted.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_kernel_smoke::{Out, preempt};
use xasync_kernel_x86_64::preempt::Scenarios;
use xasync_kernel_x86_64::{apic, entry, interrupts, print};

entry!(main);

fn main() {
    // The reference results, computed without preemption.
    let _ = interrupts::disable();
    let expected = preempt::reference();
    apic::start_periodic(Duration::from_millis(2));
    interrupts::enable();
    let out: Out<'_> = &|args| print!("{args}");
    preempt::run::<Scenarios>(expected, out);
    let _ = interrupts::disable();
    apic::stop();
}
