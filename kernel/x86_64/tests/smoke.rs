//! The smoke checks (`xasync-kernel-smoke`) on x86_64: coroutines, fibers
//! and the executor, with the HPET as its clock.

#![no_std]
#![no_main]

use xasync_kernel_x86_64::platform::Machine;
use xasync_kernel_x86_64::{entry, print};

entry!(main);

fn main() {
    xasync_kernel_smoke::run(Machine, &|args| print!("{args}"));
}
