//! Boot: the entry points OpenSBI jumps to, per-hart stacks, and the
//! [`entry!`](crate::entry) macro that names an image's `main`.
//!
//! * `_start` (in `.text.entry`, at `0x8020_0000`): the boot hart, with
//!   `a0` = hart id, `a1` = DTB address. Zeroes `.bss`, then sets up the hart
//!   and calls `boot_main`.
//! * `_start_secondary`: harts started by [`crate::smp::start_hart`], with
//!   `a1` = the start closure. Sets up the hart and calls
//!   `secondary_main`.
//!
//! Setting up a hart: `sp` = the top of its boot stack, `tp` = its
//! [`HartLocal`], interrupts off, and the FPU on (`sstatus.FS` = Initial),
//! since the core's context switch saves `fs0`–`fs11` with `fsd`/`fld` and
//! Rust code may use FP registers anywhere.

use crate::hart::{BOOT_STACK_SIZE, HARTS, HartLocal, IRQ_STACK_SIZE, MAX_HARTS};
use crate::{cpu, exit, hart, heap, println, sbi, smp, timer, trap};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

// `.option arch`: global assembly is not always assembled with the crate's
// target features (observed at opt-level 1), so name the extensions used.
global_asm!(
    r#"
    .option push
    .option arch, +m
    .pushsection .text.entry, "ax"
    .globl _start
_start:
    csrw sie, zero
    csrci sstatus, {sie}
    li t0, {max_harts}
    bgeu a0, t0, 9f
    # Zero .bss (8-byte aligned by the linker script). Only the boot hart
    # runs this; the others start later, at _start_secondary.
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  la t2, {boot_main}
    j __hart_setup
9:  wfi                             # a hart id we have no room for
    j 9b
    .popsection

    .pushsection .text, "ax"
    .align 2
    .globl _start_secondary
_start_secondary:
    csrw sie, zero
    csrci sstatus, {sie}
    la t2, {secondary_main}
    # fall through

    # a0 = hart id < MAX_HARTS, a1 = argument, t2 = the Rust function to
    # call with (a0, a1); it never returns.
__hart_setup:
    addi t0, a0, 1
    li t1, {boot_stack_size}
    mul t0, t0, t1
    la sp, __boot_stacks
    add sp, sp, t0
    li t1, {hart_size}
    mul t0, a0, t1
    la tp, {harts}
    add tp, tp, t0
    li t0, {fs_initial}
    csrs sstatus, t0
    csrw fcsr, zero
    li s0, 0                        # end of the frame-pointer chain
    li ra, 0
    jr t2
    .popsection

    .pushsection .bss.stack, "aw", @nobits
    .align 12
    .globl __boot_stacks
__boot_stacks:
    .space {boot_stack_size} * {max_harts}
    .globl __irq_stacks
__irq_stacks:
    .space {irq_stack_size} * {max_harts}
    .popsection
    .option pop
    "#,
    sie = const cpu::sstatus::SIE,
    fs_initial = const cpu::sstatus::FS_INITIAL,
    max_harts = const MAX_HARTS,
    boot_stack_size = const BOOT_STACK_SIZE,
    irq_stack_size = const IRQ_STACK_SIZE,
    hart_size = const size_of::<HartLocal>(),
    harts = sym HARTS,
    boot_main = sym boot_main,
    secondary_main = sym secondary_main,
);

unsafe extern "C" {
    fn _start_secondary();
}

/// Where secondary harts start (for `smp::start_hart`).
pub(crate) fn secondary_entry() -> usize {
    _start_secondary as *const () as usize
}

unsafe extern "Rust" {
    /// The image's main, defined by [`entry!`](crate::entry).
    fn __xasync_kernel_main(info: &BootInfo) -> !;
}

/// What the boot hart was started with.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// The boot hart's id (OpenSBI picks any hart).
    pub hart_id: usize,
    /// Physical address of the flattened device tree.
    pub dtb: usize,
}

/// `time` when the kernel was entered.
static ENTERED_AT: AtomicU64 = AtomicU64::new(0);

/// The boot hart's first Rust code.
extern "C" fn boot_main(hart_id: usize, dtb: usize) -> ! {
    let entered_at = cpu::time();
    // SAFETY: first code on the boot hart, once, before anything allocates.
    unsafe {
        hart::init(hart_id);
        trap::init();
        heap::init();
    }
    ENTERED_AT.store(entered_at, Ordering::Relaxed);
    assert!(
        sbi::has_required_extensions(),
        "the SBI firmware lacks the TIME, IPI or HSM extension"
    );
    let info = BootInfo { hart_id, dtb };
    // SAFETY: `entry!` defines it with this signature.
    unsafe { __xasync_kernel_main(&info) }
}

/// A secondary hart's first Rust code.
extern "C" fn secondary_main(hart_id: usize, opaque: usize) -> ! {
    // SAFETY: first code on this hart, once per start; `opaque` is what
    // `start_hart` passed.
    unsafe {
        hart::init(hart_id);
        trap::init();
        smp::run_secondary(opaque)
    }
}

/// Runs an image's `main` (called by [`entry!`](crate::entry)): checks the
/// machine has the `harts` it needs, prints a banner, runs `main`, and exits
/// QEMU with success when it returns (a panic exits with failure).
pub fn run_main(name: &str, harts: usize, info: &BootInfo, main: fn(&BootInfo)) -> ! {
    let present = smp::present_harts().count();
    println!(
        "xasync-kernel: {name}: booted on hart {} of {present} (kernel entered {} ms after reset)",
        info.hart_id,
        timer::duration(ENTERED_AT.load(Ordering::Relaxed)).as_millis()
    );
    assert!(
        present >= harts,
        "this image needs {harts} harts (qemu -smp {harts}), the machine has {present}"
    );
    main(info);
    let entered_at = ENTERED_AT.load(Ordering::Relaxed);
    let now = cpu::time();
    println!(
        "xasync-kernel: {name} passed ({} us in the kernel, {} us since reset)",
        timer::duration(now - entered_at).as_micros(),
        timer::duration(now).as_micros()
    );
    exit::success()
}

/// Copies `text` into an array, for the QEMU marker of [`entry!`](crate::entry).
#[doc(hidden)]
pub use xasync_kernel_common::qemu::marker;

/// Names the image's main function: `fn(&BootInfo)`, run on the boot hart
/// with interrupts off; returning ends QEMU with success, panicking with
/// failure. `smp = N` asks the runner for N harts (default 1); `devices =
/// "net,blk"` for QEMU devices: `net`, a virtio-net NIC on user networking
/// with a host port forwarded to the kernel's port 80 (the runner then
/// checks the kernel's HTTP server with curl, see `qemu-run.sh`); `blk`, a
/// virtio-blk disk on a scratch image.
///
/// ```ignore
/// #![no_std]
/// #![no_main]
/// xasync_kernel_riscv64::entry!(main, smp = 2);
/// fn main(info: &xasync_kernel_riscv64::BootInfo) { /* checks */ }
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        $crate::entry!($main, smp = 1, devices = "");
    };
    ($main:path, smp = $harts:literal) => {
        $crate::entry!($main, smp = $harts, devices = "");
    };
    ($main:path, devices = $devices:literal) => {
        $crate::entry!($main, smp = 1, devices = $devices);
    };
    ($main:path, smp = $harts:literal, devices = $devices:literal) => {
        #[unsafe(no_mangle)]
        fn __xasync_kernel_main(info: &$crate::BootInfo) -> ! {
            let main: fn(&$crate::BootInfo) = $main;
            $crate::boot::run_main(::core::env!("CARGO_CRATE_NAME"), $harts, info, main)
        }

        /// Read by the runner (qemu-run.sh) to pick `-smp` and the devices.
        #[used]
        #[unsafe(link_section = ".xasync.qemu")]
        static __XASYNC_QEMU_MARKER: [u8; __XASYNC_QEMU_TEXT.len()] =
            $crate::boot::marker(__XASYNC_QEMU_TEXT);
        const __XASYNC_QEMU_TEXT: &str = ::core::concat!(
            "xasync-qemu-smp=",
            $harts,
            ";xasync-qemu-devices=",
            $devices,
            ";"
        );
    };
}
