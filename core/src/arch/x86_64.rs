//! x86_64 System V context switch.
//!
//! Callee-saved state: `rbx`, `rbp`, `r12`–`r15`, the MXCSR control bits and
//! the x87 control word. A suspended context's stack, at its saved stack
//! pointer, looks like this (higher addresses first):
//!
//! ```text
//!            +------------------------+  <- sp before the `call switch` (16-aligned)
//!   sp + 56  | return address         |
//!   sp + 48  | rbp                    |
//!   sp + 40  | rbx                    |
//!   sp + 32  | r12                    |
//!   sp + 24  | r13                    |
//!   sp + 16  | r14                    |
//!   sp +  8  | r15                    |
//!   sp +  4  | x87 control word       |
//!   sp +  0  | MXCSR                  |  <- saved stack pointer (16-aligned)
//!            +------------------------+
//! ```
//!
//! A fresh stack gets the same frame from [`init_stack`], with the trampoline
//! as "return address", the entry function in `r12` and its data in `rbx`, so
//! the first [`switch`] into it "returns" into [`trampoline`].

use super::{EntryFn, put};
use core::arch::naked_asm;
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (SysV: `rsp + 8` is a multiple of 16 at
/// function entry).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` pushes, return address included.
const FRAME: usize = 64;
/// MXCSR with every exception masked, round to nearest (the ABI's initial value).
const MXCSR_DEFAULT: usize = 0x1f80;
/// x87 control word: all exceptions masked, extended precision, round to nearest.
const FPCW_DEFAULT: usize = 0x037f;

/// Saves MXCSR and the x87 control word into the 8-byte slot at `rsp`.
/// Targets without SSE (e.g. `x86_64-unknown-none` kernels, which may not
/// enable the FPU) keep the slot but skip the instructions.
#[cfg(target_feature = "sse")]
macro_rules! save_fp_control {
    () => {
        "stmxcsr [rsp]\nfnstcw [rsp + 4]"
    };
}
#[cfg(target_feature = "sse")]
macro_rules! restore_fp_control {
    () => {
        "ldmxcsr [rsp]\nfldcw [rsp + 4]"
    };
}
#[cfg(not(target_feature = "sse"))]
macro_rules! save_fp_control {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "sse"))]
macro_rules! restore_fp_control {
    () => {
        ""
    };
}

/// Prepares a fresh stack whose top is `top`; returns its initial stack pointer.
///
/// # Safety
///
/// `top` must be `STACK_ALIGNMENT`-aligned with at least `FRAME` writable bytes
/// below it, and `entry` must accept `data`.
pub(crate) unsafe fn init_stack(top: NonNull<u8>, entry: EntryFn, data: *mut u8) -> NonNull<u8> {
    // SAFETY: the caller guarantees FRAME writable, aligned bytes below `top`.
    unsafe {
        let sp = top.sub(FRAME);
        put(sp, 0, MXCSR_DEFAULT | (FPCW_DEFAULT << 32));
        put(sp, 1, 0); // r15
        put(sp, 2, 0); // r14
        put(sp, 3, 0); // r13
        put(sp, 4, entry as usize); // r12
        put(sp, 5, data as usize); // rbx
        put(sp, 6, 0); // rbp: ends the frame-pointer chain
        put(sp, 7, trampoline as *const () as usize);
        sp
    }
}

/// Switches from the running context to the one whose stack pointer is `to`.
///
/// Saves the callee-saved registers on the current stack, stores the stack
/// pointer in `*save`, restores the target's registers and returns `arg` to
/// it. Returns when another context switches back, with that switch's `arg`.
///
/// # Safety
///
/// `to` must be the stack pointer of a suspended context (saved by `switch` or
/// made by `init_stack`) that is resumed at most once, and `save` must be
/// valid for a pointer-sized write.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch(arg: usize, save: *mut *mut u8, to: *mut u8) -> usize {
    naked_asm!(
        ".cfi_startproc",
        // Save the callee-saved integer registers.
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        // Save MXCSR and the x87 control word in one 8-byte slot.
        "sub rsp, 8",
        save_fp_control!(),
        // Publish our stack pointer and adopt the target's.
        "mov [rsi], rsp",
        "mov rsp, rdx",
        // Restore the target's floating-point control state.
        restore_fp_control!(),
        "add rsp, 8",
        // Restore its integer registers.
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        // Hand `arg` over as the return value of the target's `switch`.
        "mov rax, rdi",
        "ret",
        ".cfi_endproc",
    )
}

/// First code run on a fresh stack: calls `entry(arg, data)`.
///
/// `rdi` still holds the `arg` of the `switch` that got here, `rbx` the data
/// and `r12` the entry function stored by [`init_stack`]. The CFI marks the
/// return address as undefined, so unwinders and debuggers stop here instead
/// of walking into whatever lies above the stack.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined rip",
        "mov rsi, rbx",
        "call r12",
        // `entry` never returns.
        "ud2",
        ".cfi_endproc",
    )
}
