//! The seed's four scenarios (`xasync_kernel_smoke::seed`, which every
//! kernel runs) on this kernel's executor: the counter future chained to a
//! printer task, symmetric coroutines inside a stackful task, a coroutine
//! sleeping on the SBI timer interrupt while the hart waits in `wfi`, and
//! a coroutine and an async task exchanging values through channels.

#![no_std]
#![no_main]

use xasync_kernel_riscv64::{BootInfo, entry, irq, platform, print, timer};
use xasync_kernel_smoke::{Out, seed};

entry!(main);

fn main(_: &BootInfo) {
    let executor = platform::executor();
    // Executors run with interrupts on: the alarm and IPIs end their `wfi`.
    irq::enable();
    let out: Out<'_> = &|args| print!("{args}");
    seed::run(&executor, timer::alarms, out);
    let _ = irq::disable();
}
