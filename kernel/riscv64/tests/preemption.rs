//! Preemption: coroutines that never yield share the CPU because the
//! timer interrupt suspends them (see the kernel's `preempt` module for the
//! design). The scenarios are `xasync_kernel_smoke::preempt`'s, shared with
//! aarch64: two busy loops interleave and compute exactly what they compute
//! unpreempted (every integer and floating-point register survives each
//! preemption), voluntary `yield_now` and preemption mix, and a
//! preemptible coroutine is not preempted while it runs a nested coroutine
//! (its `sp` is elsewhere), only after.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_kernel_riscv64::preempt::Scenarios;
use xasync_kernel_riscv64::{BootInfo, entry, print};
use xasync_kernel_smoke::preempt;

entry!(main);

fn main(_: &BootInfo) {
    preempt::run_ticking::<Scenarios>(Duration::from_millis(2), &|args| print!("{args}"));
}
