//! Other CPUs: started with the INIT-SIPI-SIPI sequence. A started CPU
//! begins in 16-bit real mode at the start-up page, `0x8000`, where a copy
//! of `__ap_start` takes it to protected mode, then to long mode on the
//! boot page tables, and calls `ap_main` on a stack of its own from the
//! heap, which runs a closure with interrupts enabled.
//!
//! The trampoline's own GDT has the boot GDT's code (`0x08`, 64-bit) and
//! data (`0x10`) selectors, plus a 32-bit code segment (`0x18`) for the
//! way through protected mode, so the IDT's gates work on started CPUs as
//! they do on the boot CPU. One CPU starts at a time: they share the page.

use crate::{apic, interrupts, platform};
use alloc::alloc::alloc;
use alloc::boxed::Box;
use core::alloc::Layout;
use core::arch::{asm, global_asm};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

/// Where started CPUs begin: the SIPI vector is its page number.
const START_PAGE: usize = 0x8000;
/// Bytes of a started CPU's stack.
const STACK_SIZE: usize = 64 * 1024;

global_asm!(
    r#"
    .pushsection .rodata.ap_trampoline, "a"
    .balign 16
    .globl __ap_start
__ap_start:
    .code16
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl (ap_gdt_pointer - __ap_start + {page})
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x18, $(ap_32 - __ap_start + {page})

    .code32
ap_32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(1 << 5 | 1 << 9 | 1 << 10), %eax   # PAE, OSFXSR, OSXMMEXCPT (as boot.rs)
    mov %eax, %cr4
    mov $__pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $0x08, $(ap_64 - __ap_start + {page})

    .code64
ap_64:
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov (ap_stack - __ap_start + {page}), %rsp
    mov (ap_argument - __ap_start + {page}), %rdi
    xor %ebp, %ebp
    movabs ${ap_main}, %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            # 0x08: 64-bit code
    .quad 0x00cf92000000ffff            # 0x10: data
    .quad 0x00cf9a000000ffff            # 0x18: 32-bit code
ap_gdt_pointer:
    .word ap_gdt_pointer - ap_gdt - 1
    .long ap_gdt - __ap_start + {page}
    .balign 8
    .globl __ap_stack
__ap_stack:
ap_stack:
    .quad 0
    .globl __ap_argument
__ap_argument:
ap_argument:
    .quad 0
    .globl __ap_end
__ap_end:
    .popsection
    "#,
    page = const START_PAGE,
    ap_main = sym ap_main,
    options(att_syntax),
);

unsafe extern "C" {
    static __ap_start: u8;
    static __ap_stack: u8;
    static __ap_argument: u8;
    static __ap_end: u8;
}

/// What a started CPU receives.
struct Start {
    main: Box<dyn FnOnce() + Send>,
}

/// Set by a started CPU once it no longer needs the start-up page.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the CPU with APIC id `cpu`, which runs `f` with interrupts
/// enabled and then halts. Waits until it runs.
///
/// # Panics
///
/// If it does not start within a second.
pub fn start_cpu(cpu: usize, f: impl FnOnce() + Send + 'static) {
    let layout = Layout::from_size_align(STACK_SIZE, 16).expect("smp: stack layout");
    // SAFETY: the layout has a non-zero size.
    let stack = unsafe { alloc(layout) };
    assert!(!stack.is_null(), "smp: out of memory for a stack");
    let start = Box::into_raw(Box::new(Start { main: Box::new(f) }));
    let base = &raw const __ap_start as usize;
    let size = &raw const __ap_end as usize - base;
    let offset = |symbol: *const u8| START_PAGE + (symbol as usize - base);
    STARTED.store(false, Ordering::Relaxed);
    // SAFETY: the start-up page is free conventional memory below 1 MiB,
    // identity-mapped, that nothing else uses; the trampoline is `size`
    // bytes; the two words are inside its copy.
    unsafe {
        ptr::copy_nonoverlapping(base as *const u8, START_PAGE as *mut u8, size);
        ptr::write_volatile(
            offset(&raw const __ap_stack) as *mut u64,
            (stack as usize + STACK_SIZE) as u64,
        );
        ptr::write_volatile(offset(&raw const __ap_argument) as *mut u64, start as u64);
    }
    apic::send_init(cpu);
    wait(Duration::from_millis(10));
    for _ in 0..2 {
        apic::send_startup(cpu, (START_PAGE >> 12) as u8);
        wait(Duration::from_micros(200));
    }
    let deadline = platform::uptime() + Duration::from_secs(1);
    while !STARTED.load(Ordering::Acquire) {
        assert!(
            platform::uptime() < deadline,
            "smp: CPU {cpu} did not start"
        );
        core::hint::spin_loop();
    }
}

fn wait(duration: Duration) {
    let until = platform::uptime() + duration;
    while platform::uptime() < until {
        core::hint::spin_loop();
    }
}

/// A started CPU's first Rust code, in long mode on its own stack.
extern "C" fn ap_main(start: *mut Start) -> ! {
    interrupts::load();
    apic::init_cpu();
    // SAFETY: `start_cpu` handed this CPU the block it leaked.
    let start = unsafe { Box::from_raw(start) };
    STARTED.store(true, Ordering::Release);
    interrupts::enable();
    (start.main)();
    let _ = interrupts::disable();
    loop {
        // SAFETY: interrupts are off: `hlt` parks the CPU.
        unsafe { asm!("hlt", options(nomem, nostack)) };
    }
}
