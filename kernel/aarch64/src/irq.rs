//! Interrupts: the IRQ vector, the dispatch of GIC interrupts, and the
//! `DAIF.I` mask.
//!
//! The vector saves what the handler may change — the caller-saved
//! registers `x0`–`x18`, `x29`, `x30`, all of `q0`–`q31` (code may hold
//! live values in the upper halves of `v8`–`v15`, which calls preserve
//! only partly), `FPCR`, `FPSR`, `ELR_EL1`, `SPSR_EL1` — on the interrupted
//! stack, runs the handler with interrupts masked, and returns with `eret`.

use crate::{gic, preempt, timer};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

/// The software-generated interrupt executors kick each other with.
pub const KICK_SGI: u32 = 0;
/// CPUs whose kicks are counted.
const MAX_CPUS: usize = 8;
/// Kicks received, per CPU.
static KICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// This CPU's id: `MPIDR_EL1.Aff0`.
pub fn cpu_id() -> usize {
    let mpidr: u64;
    // SAFETY: reading MPIDR_EL1 has no side effect.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    (mpidr & 0xff) as usize
}

/// Kicks CPU `cpu` has received so far.
pub fn kicks(cpu: usize) -> u64 {
    KICKS.get(cpu).map_or(0, |k| k.load(Ordering::Relaxed))
}

global_asm!(
    r#"
    .pushsection .text, "ax"
    .globl __irq_entry
__irq_entry:
    sub sp, sp, #720
    stp x0, x1, [sp, #0]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x29, [sp, #144]
    mrs x0, elr_el1
    stp x30, x0, [sp, #160]
    mrs x0, spsr_el1
    mrs x1, fpcr
    stp x0, x1, [sp, #176]
    mrs x0, fpsr
    str x0, [sp, #192]
    add x0, sp, #208
    stp q0, q1, [x0, #0]
    stp q2, q3, [x0, #32]
    stp q4, q5, [x0, #64]
    stp q6, q7, [x0, #96]
    stp q8, q9, [x0, #128]
    stp q10, q11, [x0, #160]
    stp q12, q13, [x0, #192]
    stp q14, q15, [x0, #224]
    stp q16, q17, [x0, #256]
    stp q18, q19, [x0, #288]
    stp q20, q21, [x0, #320]
    stp q22, q23, [x0, #352]
    stp q24, q25, [x0, #384]
    stp q26, q27, [x0, #416]
    stp q28, q29, [x0, #448]
    stp q30, q31, [x0, #480]

    bl {handle}

    add x0, sp, #208
    ldp q0, q1, [x0, #0]
    ldp q2, q3, [x0, #32]
    ldp q4, q5, [x0, #64]
    ldp q6, q7, [x0, #96]
    ldp q8, q9, [x0, #128]
    ldp q10, q11, [x0, #160]
    ldp q12, q13, [x0, #192]
    ldp q14, q15, [x0, #224]
    ldp q16, q17, [x0, #256]
    ldp q18, q19, [x0, #288]
    ldp q20, q21, [x0, #320]
    ldp q22, q23, [x0, #352]
    ldp q24, q25, [x0, #384]
    ldp q26, q27, [x0, #416]
    ldp q28, q29, [x0, #448]
    ldp q30, q31, [x0, #480]
    ldr x0, [sp, #192]
    msr fpsr, x0
    ldp x0, x1, [sp, #176]
    msr spsr_el1, x0
    msr fpcr, x1
    ldp x30, x0, [sp, #160]
    msr elr_el1, x0
    ldp x18, x29, [sp, #144]
    ldp x16, x17, [sp, #128]
    ldp x14, x15, [sp, #112]
    ldp x12, x13, [sp, #96]
    ldp x10, x11, [sp, #80]
    ldp x8, x9, [sp, #64]
    ldp x6, x7, [sp, #48]
    ldp x4, x5, [sp, #32]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp, #0]
    add sp, sp, #720
    eret
    .popsection
    "#,
    handle = sym handle,
);

/// Dispatches the GIC's pending interrupts.
extern "C" fn handle() {
    gic::on_interrupt(|id| match id {
        timer::VIRTUAL_TIMER_IRQ => timer::on_interrupt(),
        // A kick only has to end the `wfi` of the executor it woke.
        KICK_SGI => {
            if let Some(kicks) = KICKS.get(cpu_id()) {
                kicks.fetch_add(1, Ordering::Relaxed);
            }
        }
        id => panic!("unexpected interrupt {id}"),
    });
    preempt::on_interrupt_exit();
}

/// Unmasks IRQs on this CPU.
#[inline]
pub fn enable() {
    // SAFETY: the vectors are installed before any Rust code runs, and the
    // GIC only forwards interrupts that have a handler above.
    unsafe { asm!("msr daifclr, #2", options(nostack)) };
}

/// Masks IRQs on this CPU; returns the previous `DAIF`.
#[inline]
pub fn disable() -> u64 {
    let daif: u64;
    // SAFETY: masking only defers interrupts. Not `nomem`: a compiler
    // barrier, so protected accesses stay inside.
    unsafe { asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack)) };
    daif
}

/// Puts back the `DAIF` that [`disable`] returned.
#[inline]
pub fn restore(daif: u64) {
    // SAFETY: restores a mask read from this CPU.
    unsafe { asm!("msr daif, {}", in(reg) daif, options(nostack)) };
}
