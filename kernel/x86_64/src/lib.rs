//! A bare-metal x86_64 smoke kernel that QEMU boots through multiboot v1,
//! running xasync-core's coroutines and executor.
//!
//! The 32-bit multiboot entry identity-maps the first 4 GiB with 2 MiB
//! pages and switches to long mode; the kernel prints on COM1 and leaves
//! QEMU through the isa-debug-exit device. Its executor idles in `hlt`
//! until the LAPIC timer's interrupt or a kick (an IPI) arrives; its clock
//! is the HPET (see [`platform`]). Each test under `tests/` is its own
//! image, named with [`entry!`] and booted by `qemu-run.sh`.
//!
//! * [`boot`]: the multiboot header, `_start32` → long mode, [`entry!`].
//! * [`interrupts`]: the IDT, its stubs and the dispatch.
//! * [`apic`]: the LAPIC: its timer, end of interrupt, IPIs.
//! * [`preempt`]: preemptible coroutines.
//! * [`smp`]: starting other CPUs.
//! * [`console`]: the COM1 UART, [`println!`].
//! * [`exit`]: the isa-debug-exit device.
//! * [`platform`]: xasync-core's kernel contract for this machine.
#![no_std]

extern crate alloc;

pub mod apic;
pub mod boot;
pub mod console;
pub mod exit;
pub mod interrupts;
pub mod platform;
pub mod preempt;
pub mod smp;

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
        Panicking::Again => exit::failure(2),
        Panicking::Park => exit::park(),
    }
    // Unlocked: this CPU may hold the console lock.
    console::print_unlocked(format_args!("\nxasync-kernel: PANIC: {info}\n"));
    exit::failure(1)
}
