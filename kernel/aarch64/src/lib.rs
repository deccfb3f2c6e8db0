//! A bare-metal aarch64 smoke kernel for QEMU `virt` (`-cpu cortex-a72`)
//! that runs xasync-core's coroutines and executor.
//!
//! It boots at EL1 with the MMU off, prints on the PL011 UART and leaves
//! QEMU through semihosting. It takes no interrupts: its executor idles in
//! `wfe`, which the generic timer's event stream ends every ~16 µs (see
//! [`platform`]). Each test under `tests/` is its own image, named with
//! [`entry!`] and booted by `qemu-run.sh`.
//!
//! * [`boot`]: `_start`, the exception vectors, [`entry!`].
//! * [`console`]: the PL011 UART, [`println!`].
//! * [`exit`]: semihosting `SYS_EXIT`.
//! * [`platform`]: xasync-core's kernel contract for this machine.
#![no_std]

extern crate alloc;

pub mod boot;
pub mod console;
pub mod exit;
pub mod platform;

use core::panic::PanicInfo;
use linked_list_allocator::LockedHeap;

/// The heap: `__heap_start..__heap_end` of the linker script, set up by
/// [`boot`] before any image code runs. A spin lock guards it; nothing
/// here takes interrupts, so it is never entered re-entrantly.
#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    console::_print(format_args!("\nxasync-kernel: PANIC: {info}\n"));
    exit::exit(1)
}
