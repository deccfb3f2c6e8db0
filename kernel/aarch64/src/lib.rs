//! A bare-metal aarch64 smoke kernel for QEMU `virt` (`-cpu cortex-a72`)
//! that runs xasync-core's coroutines and executor.
//!
//! It boots at EL1 with the MMU off, prints on the PL011 UART and leaves
//! QEMU through semihosting. Its executor idles in `wfi` until the generic
//! timer's interrupt (through the GICv2) or a kick (an SGI) arrives (see
//! [`platform`]). Each test under `tests/` is its own image, named with
//! [`entry!`] and booted by `qemu-run.sh`.
//!
//! * [`boot`]: `_start`, the exception vectors, [`entry!`].
//! * [`irq`], [`gic`]: the IRQ vector and its dispatch, the GIC.
//! * [`timer`]: time and the one-shot alarm on the virtual timer.
//! * [`console`]: the PL011 UART, [`println!`].
//! * [`exit`]: semihosting `SYS_EXIT`.
//! * [`platform`]: xasync-core's kernel contract for this machine.
//! * [`smp`]: starting other CPUs.
//! * [`preempt`]: preemptible coroutines.
#![no_std]

extern crate alloc;

pub mod boot;
pub mod console;
pub mod exit;
pub mod gic;
pub mod irq;
pub mod platform;
pub mod preempt;
pub mod smp;
pub mod timer;

use core::panic::PanicInfo;
use linked_list_allocator::LockedHeap;
use platform::ThisCpu;
use xasync_kernel_common::heap::IrqSafe;
use xasync_kernel_common::panic::{self as panicking, Panicking};

/// The heap: `__heap_start..__heap_end` of the linker script, set up by
/// [`boot`] before any image code runs. A spin lock guards it, taken with
/// interrupts masked: no interrupt handler and no preemption lands while
/// this CPU holds it.
#[global_allocator]
static HEAP: IrqSafe<ThisCpu, LockedHeap> = IrqSafe::new(LockedHeap::empty());

/// Prints the message and ends QEMU with exit status 1 (the first CPU to
/// panic does; see `xasync_kernel_common::panic`).
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match panicking::enter::<ThisCpu>() {
        Panicking::Report => {}
        Panicking::Again => exit::exit(2),
        Panicking::Park => exit::park(),
    }
    // Unlocked: this CPU may hold the console lock.
    console::print_unlocked(format_args!("\nxasync-kernel: PANIC: {info}\n"));
    exit::exit(1)
}
