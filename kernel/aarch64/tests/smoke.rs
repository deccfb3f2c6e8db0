//! The smoke checks (`xasync-kernel-smoke`) on aarch64: coroutines, fibers
//! and the executor, with the generic timer as its clock.

#![no_std]
#![no_main]

use xasync_kernel_aarch64::platform::Machine;
use xasync_kernel_aarch64::{entry, print};

entry!(main);

fn main() {
    xasync_kernel_smoke::run(Machine, &|args| print!("{args}"));
}
