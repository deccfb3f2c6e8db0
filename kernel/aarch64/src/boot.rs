//! Boot: `_start` (QEMU enters it at EL1, MMU and caches off), the
//! exception vectors, and [`entry!`](crate::entry).
//!
//! `_start` parks every CPU but the first, turns on the FP/SIMD unit
//! (`CPACR_EL1.FPEN = 0b11`: Rust code and the core's context switch use
//! the FP registers, and they trap until this is set), installs the
//! vectors, sets the stack, zeroes `.bss` and calls `boot_main`.

use crate::{HEAP, console, exit, gic, irq, println, timer};
use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .text.boot, "ax"
    .globl _start
_start:
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, 9f
    mov x1, #(3 << 20)               // CPACR_EL1.FPEN: no FP/SIMD traps
    msr cpacr_el1, x1
    isb
    ldr x1, =__vectors
    msr vbar_el1, x1
    ldr x1, =__stack_top
    mov sp, x1
    ldr x1, =__bss_start
    ldr x2, =__bss_end
1:  cmp x1, x2
    b.hs 2f
    str xzr, [x1], #8
    b 1b
2:  bl {boot_main}
9:  wfe                              // other CPUs, or after main
    b 9b

    // CPUs started by crate::smp::start_cpu: x0 = their `Start` block,
    // whose first word is the top of their stack.
    .globl _start_secondary
_start_secondary:
    mov x1, #(3 << 20)
    msr cpacr_el1, x1
    isb
    ldr x1, =__vectors
    msr vbar_el1, x1
    ldr x1, [x0]
    mov sp, x1
    bl {secondary_main}
    b 9b
    .popsection

    // IRQs go to the IRQ entry (see crate::irq), from EL1 with SP_EL0
    // (entry 1) or SP_EL1 (entry 5); every other exception is fatal:
    // report it and exit with a failure.
    .pushsection .text, "ax"
    .balign 2048
__vectors:
    .irp entry, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 128
    .if \entry == 1 || \entry == 5
    b __irq_entry
    .else
    b 3f
    .endif
    .endr
3:  mrs x0, esr_el1
    mrs x1, elr_el1
    mrs x2, far_el1
    bl {exception}
    .popsection
    "#,
    boot_main = sym boot_main,
    secondary_main = sym crate::smp::secondary_main,
    exception = sym exception,
);

unsafe extern "C" {
    static mut __heap_start: u8;
    static __heap_end: u8;
}

unsafe extern "Rust" {
    /// The image's main, defined by [`entry!`](crate::entry).
    fn __xasync_kernel_main() -> !;
}

/// The first Rust code: sets up the heap, then runs the image.
extern "C" fn boot_main() -> ! {
    let start = &raw mut __heap_start;
    let size = (&raw const __heap_end) as usize - start as usize;
    // SAFETY: the linker script reserves `__heap_start..__heap_end` for the
    // heap alone; this runs once, before anything allocates.
    unsafe { HEAP.inner().lock().init(start, size) };
    gic::init();
    timer::init();
    gic::enable(irq::KICK_SGI);
    // SAFETY: `entry!` defines it with this signature.
    unsafe { __xasync_kernel_main() }
}

/// Reports a synchronous exception or an unexpected interrupt, and exits.
extern "C" fn exception(esr: u64, elr: u64, far: u64) -> ! {
    console::print_unlocked(format_args!(
        "\nxasync-kernel: EXCEPTION: ESR_EL1 {esr:#x} (class {:#x}) at ELR_EL1 {elr:#x}, \
         FAR_EL1 {far:#x}\n",
        esr >> 26
    ));
    exit::exit(2)
}

/// Runs an image's main (called by [`entry!`](crate::entry)) with IRQs
/// unmasked: prints a banner, runs it, and exits QEMU with status 0 once
/// it returns.
pub fn run_main(name: &str, main: fn()) -> ! {
    let start = timer::uptime();
    println!("xasync-kernel: {name}: booted on aarch64");
    irq::enable();
    main();
    let _ = irq::disable();
    println!(
        "xasync-kernel: {name} passed ({} us in the kernel, {} timer interrupts)",
        (timer::uptime() - start).as_micros(),
        timer::interrupts()
    );
    exit::exit(0)
}

/// Copies `text` into an array, for the QEMU marker of [`entry!`](crate::entry).
#[doc(hidden)]
pub use xasync_kernel_common::qemu::marker;

/// Names the image's main function, `fn()`: returning ends QEMU with
/// success, panicking with failure. `smp = N` asks the runner for N CPUs
/// (default 1).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        $crate::entry!($main, smp = 1);
    };
    ($main:path, smp = $cpus:literal) => {
        #[unsafe(no_mangle)]
        fn __xasync_kernel_main() -> ! {
            let main: fn() = $main;
            $crate::boot::run_main(::core::env!("CARGO_CRATE_NAME"), main)
        }

        /// Read by the runner (qemu-run.sh) to pick `-smp`.
        #[used]
        #[unsafe(link_section = ".xasync.qemu")]
        static __XASYNC_QEMU_MARKER: [u8; __XASYNC_QEMU_TEXT.len()] =
            $crate::boot::marker(__XASYNC_QEMU_TEXT);
        const __XASYNC_QEMU_TEXT: &str = ::core::concat!("xasync-qemu-smp=", $cpus, ";");
    };
}
