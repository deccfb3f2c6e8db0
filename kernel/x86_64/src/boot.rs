//! Boot: the multiboot v1 header, the 32-bit entry that switches to long
//! mode, and [`entry!`](crate::entry).
//!
//! QEMU (`-kernel`) finds the header in the file's first 8 KiB. Its flag
//! bit 16 (the "a.out kludge") gives the load addresses, so QEMU loads the
//! image as a flat block instead of parsing the ELF (it refuses 64-bit
//! ELF files). It enters `_start32` in 32-bit protected mode, paging off,
//! interrupts off. `_start32` zeroes `.bss`, builds page tables that
//! identity-map the first 4 GiB with 2 MiB pages (RAM, and the HPET at
//! `0xfed0_0000`), enables PAE, long mode (`EFER.LME`) and paging, loads a
//! 64-bit GDT and jumps to `_start64`, which sets the stack and calls
//! `boot_main`.

use crate::{HEAP, apic, exit, interrupts, platform, println};
use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .text.boot, "ax"
    .code32
    .balign 4
multiboot_header:
    .long 0x1badb002                    # magic
    .long 0x00010000                    # flags: the address fields are valid
    .long -(0x1badb002 + 0x00010000)    # checksum
    .long multiboot_header              # header_addr
    .long __load_start                  # load_addr
    .long __load_end                    # load_end_addr
    .long __bss_end                     # bss_end_addr
    .long _start32                      # entry_addr

    .globl _start32
_start32:
    cli
    cld
    # Zero .bss (page-aligned, so a whole number of dwords).
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl
    # PML4[0] -> PDPT; PDPT[0..4] -> the four page directories.
    mov $__pdpt, %eax
    or $3, %eax                         # present, writable
    mov %eax, __pml4
    mov $__pd, %eax
    or $3, %eax
    mov $__pdpt, %edi
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $0x1000, %eax
    add $8, %edi
    loop 1b
    # 2048 entries of 2 MiB: 0..4 GiB, identity.
    mov $__pd, %edi
    mov $0x83, %eax                     # present, writable, 2 MiB page
    mov $2048, %ecx
2:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b
    mov %cr4, %eax
    # PAE, and OSFXSR + OSXMMEXCPT: the core's context switch saves and
    # restores MXCSR (stmxcsr/ldmxcsr), which raise #UD on hardware
    # without OSFXSR (QEMU's TCG does not check it).
    or $(1 << 5 | 1 << 9 | 1 << 10), %eax
    mov %eax, %cr4
    mov $__pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx               # EFER
    rdmsr
    or $(1 << 8), %eax                  # LME
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax                # PG, PE
    mov %eax, %cr0
    lgdt gdt64_pointer
    ljmp $0x08, $_start64

    .code64
_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $__stack_top, %rsp
    xor %ebp, %ebp
    call {boot_main}
3:  hlt
    jmp 3b

    .balign 8
gdt64:
    .quad 0
    .quad 0x00af9a000000ffff            # 0x08: 64-bit code
    .quad 0x00cf92000000ffff            # 0x10: data
gdt64_pointer:
    .word gdt64_pointer - gdt64 - 1
    .long gdt64
    .popsection

    .pushsection .bss.page_tables, "aw", @nobits
    .balign 4096
    .globl __pml4                       # also loaded by started CPUs (smp)
__pml4:
    .space 4096
__pdpt:
    .space 4096
__pd:
    .space 4 * 4096
    .popsection
    "#,
    boot_main = sym boot_main,
    options(att_syntax),
);

unsafe extern "C" {
    static mut __heap_start: u8;
    static __heap_end: u8;
}

unsafe extern "Rust" {
    /// The image's main, defined by [`entry!`](crate::entry).
    fn __xasync_kernel_main() -> !;
}

/// The first Rust code, in long mode: sets up the heap and the clock,
/// then runs the image.
extern "C" fn boot_main() -> ! {
    let start = &raw mut __heap_start;
    let size = (&raw const __heap_end) as usize - start as usize;
    // SAFETY: the linker script reserves `__heap_start..__heap_end` for the
    // heap alone; this runs once, before anything allocates.
    unsafe { HEAP.inner().lock().init(start, size) };
    platform::init();
    interrupts::init();
    apic::init();
    // SAFETY: `entry!` defines it with this signature.
    unsafe { __xasync_kernel_main() }
}

/// Runs an image's main (called by [`entry!`](crate::entry)) with
/// interrupts enabled: prints a banner, runs it, and ends QEMU with
/// success once it returns.
pub fn run_main(name: &str, main: fn()) -> ! {
    let start = platform::uptime();
    // A new line: SeaBIOS leaves its cursor after "Booting from ROM..".
    println!("\nxasync-kernel: {name}: booted on x86_64 (long mode)");
    interrupts::enable();
    main();
    let _ = interrupts::disable();
    println!(
        "xasync-kernel: {name} passed ({} us in the kernel, {} timer interrupts)",
        (platform::uptime() - start).as_micros(),
        apic::interrupts()
    );
    exit::success()
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
