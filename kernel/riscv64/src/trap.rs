//! The trap vector: saving and restoring the interrupted context, and the
//! dispatch of interrupts and exceptions.
//!
//! # Frames and stacks
//!
//! A trap saves the complete interrupted context — all 31 integer registers,
//! all 32 floating-point registers, `fcsr`, `sepc`, `sstatus` — in a
//! [`TrapFrame`]. The outermost trap puts it at the top of the hart's own
//! interrupt stack and runs the handler there, so an interrupt never writes
//! to the interrupted stack: a coroutine's stack needs no room for traps.
//! A nested trap (only a fault inside a handler, since handlers run with
//! interrupts off) pushes its frame on the interrupt stack in use.
//!
//! ```text
//!  __trap_entry ──> handle_trap(frame) ──> 0 ──────────────> __trap_return: restore, sret
//!                                      └─> frame' on the ──> sret to __preempt_trampoline
//!                                          coroutine stack   (see crate::preempt)
//! ```
//!
//! The handler returns null to resume the interrupted code, or the address
//! of a copy of the frame placed on a preemptible coroutine's stack: the
//! entry then `sret`s to the preemption trampoline, with that copy as the
//! stack pointer and interrupts still disabled.

use crate::cpu::{self, scause, sstatus};
use crate::hart::HartLocal;
use crate::{plic, preempt, smp, timer};
use core::arch::global_asm;
use core::mem::offset_of;
use core::ptr;

/// The interrupted context, as the trap entry saves it.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct TrapFrame {
    /// Integer registers by number (`x[2]` is the interrupted `sp`; `x[0]`
    /// is unused).
    pub x: [usize; 32],
    /// Floating-point registers `f0`–`f31`, as raw bits.
    pub f: [u64; 32],
    /// The floating-point control and status register.
    pub fcsr: usize,
    /// Where the interrupted code resumes.
    pub sepc: usize,
    /// `sstatus` at the trap (`SPP`, `SPIE` say where and how to return).
    pub sstatus: usize,
    /// The trap cause.
    pub scause: usize,
    /// The trap value (faulting address or instruction).
    pub stval: usize,
    _pad: usize,
}

const _: () = assert!(
    size_of::<TrapFrame>().is_multiple_of(16),
    "frames keep sp 16-aligned"
);

// `.option arch, +d`: global assembly is not always assembled with the
// crate's target features (observed at opt-level 1).
global_asm!(
    r#"
    .option push
    .option arch, +d
    .pushsection .text.trap, "ax"
    .align 2
    .globl __trap_entry
__trap_entry:
    # Interrupts are off (the hardware cleared SIE). Find the frame.
    sd t0, {scratch}(tp)
    ld t0, {depth}(tp)
    bnez t0, 1f
    ld t0, {frame_at}(tp)          # outermost: the top of the IRQ stack
    j 2f
1:  addi t0, sp, -{frame_size}     # nested (a fault in a handler): push
    andi t0, t0, -16
2:  sd sp, 16(t0)                  # x2: the interrupted sp
    mv sp, t0
    ld t0, {scratch}(tp)
    sd x1, 8(sp)
    .irp i, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\i, \i*8(sp)
    .endr
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fsd f\i, {f}+\i*8(sp)
    .endr
    csrr t0, fcsr
    sd t0, {fcsr}(sp)
    csrr t0, sepc
    sd t0, {sepc}(sp)
    csrr t0, sstatus
    sd t0, {sstatus}(sp)
    csrr t0, scause
    sd t0, {scause}(sp)
    csrr t0, stval
    sd t0, {stval}(sp)
    ld t0, {depth}(tp)
    addi t0, t0, 1
    sd t0, {depth}(tp)

    mv a0, sp
    call {handle_trap}             # -> null, or a frame to preempt with

    ld t0, {depth}(tp)
    addi t0, t0, -1
    sd t0, {depth}(tp)
    beqz a0, __trap_return
    # Preempt: leave the IRQ stack for the frame's copy on the coroutine's
    # stack and "return" into the trampoline, in S-mode, interrupts off.
    mv sp, a0
    la t0, __preempt_trampoline
    csrw sepc, t0
    li t0, {spp}
    csrs sstatus, t0
    li t0, {spie}
    csrc sstatus, t0
    sret

    # Resumes the context saved in the frame at sp. Interrupts must be off.
    .globl __trap_return
__trap_return:
    ld t0, {sepc}(sp)
    csrw sepc, t0
    ld t0, {sstatus}(sp)
    csrw sstatus, t0
    ld t0, {fcsr}(sp)
    csrw fcsr, t0
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fld f\i, {f}+\i*8(sp)
    .endr
    ld x1, 8(sp)
    # x4 (tp) is this hart's constant: not restored.
    .irp i, 3,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\i, \i*8(sp)
    .endr
    ld sp, 16(sp)
    sret

    # Entered by the `sret` above on a preemptible coroutine's stack, sp at
    # a copy of the frame, interrupts off: suspends the coroutine, and once
    # it is resumed, resumes the interrupted code from the frame.
    .align 2
__preempt_trampoline:
    mv a0, sp
    call {preempt_switch}
    j __trap_return
    .popsection
    .option pop
    "#,
    scratch = const offset_of!(HartLocal, trap_scratch),
    depth = const offset_of!(HartLocal, trap_depth),
    frame_at = const offset_of!(HartLocal, trap_frame),
    frame_size = const size_of::<TrapFrame>(),
    f = const offset_of!(TrapFrame, f),
    fcsr = const offset_of!(TrapFrame, fcsr),
    sepc = const offset_of!(TrapFrame, sepc),
    sstatus = const offset_of!(TrapFrame, sstatus),
    scause = const offset_of!(TrapFrame, scause),
    stval = const offset_of!(TrapFrame, stval),
    spp = const sstatus::SPP,
    spie = const sstatus::SPIE,
    handle_trap = sym handle_trap,
    preempt_switch = sym preempt::preempt_switch,
);

unsafe extern "C" {
    /// The trap vector above.
    fn __trap_entry();
}

/// Installs the trap vector on the calling hart and enables IPIs (other
/// sources are enabled by their modules). Interrupts stay disabled.
///
/// # Safety
///
/// Called once per hart boot, after [`crate::hart::init`].
pub(crate) unsafe fn init() {
    // SAFETY: `__trap_entry` is `.align 2` and handles every trap.
    unsafe { cpu::set_trap_vector(__trap_entry as *const () as usize) };
    cpu::enable_sources(cpu::interrupt::SSI);
}

/// Handles the trap saved in `frame`, on the interrupt stack with
/// interrupts disabled; returns null, or where a copy of the frame was put
/// to preempt the running coroutine.
extern "C" fn handle_trap(frame: &mut TrapFrame) -> *mut TrapFrame {
    let cause = frame.scause;
    if cause & scause::INTERRUPT == 0 {
        exception(frame);
    }
    match cause & !scause::INTERRUPT {
        scause::SUPERVISOR_TIMER => timer::on_interrupt(),
        scause::SUPERVISOR_SOFTWARE => smp::on_ipi(),
        scause::SUPERVISOR_EXTERNAL => plic::on_interrupt(),
        code => panic!("unexpected interrupt {code} at sepc {:#x}", frame.sepc),
    }
    preempt::on_interrupt_exit(frame).unwrap_or(ptr::null_mut())
}

/// Reports an exception and stops: the kernel has no exception it can
/// recover from.
#[cold]
fn exception(frame: &TrapFrame) -> ! {
    let name = match frame.scause {
        0 => "instruction address misaligned",
        1 => "instruction access fault",
        2 => "illegal instruction",
        3 => "breakpoint",
        4 => "load address misaligned",
        5 => "load access fault",
        6 => "store address misaligned",
        7 => "store access fault",
        8 => "environment call from U-mode",
        9 => "environment call from S-mode",
        12 => "instruction page fault",
        13 => "load page fault",
        15 => "store page fault",
        _ => "unknown exception",
    };
    panic!(
        "{name} (scause {}) at sepc {:#x}, stval {:#x}, sp {:#x}, ra {:#x}",
        frame.scause, frame.sepc, frame.stval, frame.x[2], frame.x[1]
    )
}
