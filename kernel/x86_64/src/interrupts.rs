//! The interrupt descriptor table: a stub per vector, one common entry,
//! and the dispatch.
//!
//! Each stub pushes its vector and jumps to the common entry. Exceptions
//! (vectors 0–31) are fatal: reported, then QEMU exits with a failure.
//! For interrupts the entry saves what the handler may change — the
//! caller-saved registers and, with `fxsave`, all of the SSE state (every
//! `xmm` register is caller-saved; `x86_64-unknown-none` code is
//! soft-float and uses none, but a kernel built with SSE would) — runs the
//! handler on the interrupted stack (this target has no red zone, so
//! nothing below `rsp` is live), and returns with `iretq`.

use crate::platform::Machine;
use crate::{apic, console, exit, preempt};
use core::sync::atomic::{AtomicU64, Ordering};
use xasync_core::executor::CpuId;

/// CPUs whose kicks are counted.
const MAX_CPUS: usize = 8;
/// Kicks received, per CPU.
static KICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Kicks CPU `cpu` (its APIC id) has received so far.
pub fn kicks(cpu: usize) -> u64 {
    KICKS.get(cpu).map_or(0, |k| k.load(Ordering::Relaxed))
}
use core::arch::{asm, global_asm};

global_asm!(
    r#"
    .pushsection .text, "ax"
    .balign 16
    .globl __isr_stubs
__isr_stubs:
    .set vector, 0
    .rept 256
    .balign 16
    push $vector
    jmp __isr_common
    .set vector, vector + 1
    .endr

__isr_common:
    cmpq $32, (%rsp)
    jb 1f
    # An interrupt: the CPU frame (40 bytes, from a 16-aligned rsp) and
    # the vector make rsp 16-aligned again; 9 registers and 520 bytes keep
    # it so for fxsave and the call.
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    sub $520, %rsp
    fxsave (%rsp)
    mov 592(%rsp), %rdi
    call {interrupt}
    fxrstor (%rsp)
    add $520, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $8, %rsp
    iretq

    # An exception: report it (vector and the two words above it: an error
    # code, or the faulting rip) and exit.
1:  mov (%rsp), %rdi
    mov 8(%rsp), %rsi
    mov 16(%rsp), %rdx
    and $-16, %rsp
    call {exception}
    .popsection
    "#,
    interrupt = sym interrupt,
    exception = sym exception,
    options(att_syntax),
);

unsafe extern "C" {
    static __isr_stubs: u8;
}

/// An interrupt gate, as the CPU reads it.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, ring 0, 64-bit interrupt gate (interrupts off in the handler).
const INTERRUPT_GATE: u8 = 0x8e;
/// The 64-bit code segment of the boot GDT.
const CODE_SEGMENT: u16 = 0x08;

/// The table; written once by [`init`] before it is loaded.
static mut IDT: [Gate; 256] = [Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    attributes: 0,
    offset_middle: 0,
    offset_high: 0,
    reserved: 0,
}; 256];

/// Fills and loads the IDT. Interrupts stay disabled.
pub(crate) fn init() {
    let stubs = &raw const __isr_stubs as usize;
    let idt = &raw mut IDT;
    for vector in 0..256 {
        let stub = stubs + 16 * vector;
        let gate = Gate {
            offset_low: stub as u16,
            selector: CODE_SEGMENT,
            ist: 0,
            attributes: INTERRUPT_GATE,
            offset_middle: (stub >> 16) as u16,
            offset_high: (stub >> 32) as u32,
            reserved: 0,
        };
        // SAFETY: runs once at boot, before the table is loaded and with
        // interrupts off: nothing else reads or writes it.
        unsafe { (*idt)[vector] = gate };
    }
    load();
}

/// Loads the IDT on this CPU (filled by the boot CPU's [`init`]).
pub(crate) fn load() {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: &raw const IDT as u64,
    };
    // SAFETY: the table is filled (by `init`, before any other CPU starts)
    // and static; each gate points at a stub.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack)) };
}

/// Dispatches an interrupt (vector 32 and up).
extern "C" fn interrupt(vector: u64) {
    match vector as u8 {
        apic::TIMER_VECTOR => apic::on_timer(),
        // A kick only has to end the `hlt` of the executor it woke.
        apic::KICK_VECTOR => {
            if let Some(kicks) = KICKS.get(Machine.cpu_id()) {
                kicks.fetch_add(1, Ordering::Relaxed);
            }
        }
        apic::SPURIOUS_VECTOR => return,
        vector => panic!("unexpected interrupt {vector}"),
    }
    apic::end_of_interrupt();
    preempt::on_interrupt_exit();
}

/// Reports an exception and exits.
extern "C" fn exception(vector: u64, word1: u64, word2: u64) -> ! {
    console::print_unlocked(format_args!(
        "\nxasync-kernel: EXCEPTION {vector} (stack: {word1:#x} {word2:#x})\n"
    ));
    exit::failure(2)
}

/// Enables interrupts on this CPU.
#[inline]
pub fn enable() {
    // SAFETY: the IDT is loaded at boot, before any image code runs. Not
    // `nomem`: a compiler barrier.
    unsafe { asm!("sti", options(nostack)) };
}

/// Disables interrupts on this CPU; returns whether they were enabled.
#[inline]
pub fn disable() -> bool {
    let flags: u64;
    // SAFETY: reads RFLAGS and clears IF. Not `nomem`: a compiler barrier,
    // like every interrupt guard.
    unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags) };
    flags & IF != 0
}

/// Enables interrupts again if `enabled` (what [`disable`] returned).
#[inline]
pub fn restore(enabled: bool) {
    if enabled {
        enable();
    }
}

/// `RFLAGS.IF`.
const IF: u64 = 1 << 9;
