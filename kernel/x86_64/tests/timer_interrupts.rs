//! The LAPIC timer's interrupt drives the executor: the scenarios of
//! `xasync_kernel_smoke::timers`, shared with riscv64 and aarch64 — 96
//! sleepers × 3 sleeps woken in deadline order, never early, while the CPU
//! idles in `hlt`; 1000 sleeps of 0–20 µs that lose no wake-up.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_core::executor::LocalExecutor;
use xasync_kernel_smoke::{Out, timers};
use xasync_kernel_x86_64::platform::Machine;
use xasync_kernel_x86_64::{apic, entry, print};

entry!(main);

/// The executor's timer resolution.
const TICK: Duration = Duration::from_micros(10);

fn main() {
    let executor = LocalExecutor::with_tick(Machine, TICK);
    let out: Out<'_> = &|args| print!("{args}");
    timers::sleepers_wake_in_deadline_order(&executor, TICK, apic::interrupts, out);
    timers::short_sleeps_lose_no_wakeup(&executor, apic::interrupts, out);
}
