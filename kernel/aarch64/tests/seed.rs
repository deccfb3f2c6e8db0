//! The seed's four scenarios (`xasync_kernel_smoke::seed`, which every
//! kernel runs) on this kernel's executor: the counter future chained to a
//! printer task, symmetric coroutines inside a stackful task, a coroutine
//! sleeping on the generic timer's interrupt while the CPU waits in `wfi`,
//! and a coroutine and an async task exchanging values through channels.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_core::executor::LocalExecutor;
use xasync_kernel_aarch64::platform::Machine;
use xasync_kernel_aarch64::{entry, print, timer};
use xasync_kernel_smoke::{Out, seed};

entry!(main);

fn main() {
    let executor = LocalExecutor::with_tick(Machine, Duration::from_micros(10));
    let out: Out<'_> = &|args| print!("{args}");
    seed::run(&executor, timer::interrupts, out);
}
