//! aarch64 (AAPCS64) context switch.
//!
//! Callee-saved state: `x19`–`x28`, the frame pointer `x29`, the link
//! register `x30` and the low halves `d8`–`d15` of `v8`–`v15`. A suspended
//! context's stack, at its saved stack pointer (higher addresses first):
//!
//! ```text
//!            +------------------------+  <- sp before `bl switch` (16-aligned)
//!   sp + 144 | d14, d15               |
//!   sp + 128 | d12, d13               |
//!   sp + 112 | d10, d11               |
//!   sp +  96 | d8,  d9                |
//!   sp +  80 | x29, x30 (resume addr) |
//!   sp +  64 | x27, x28               |
//!   sp +  48 | x25, x26               |
//!   sp +  32 | x23, x24               |
//!   sp +  16 | x21, x22               |
//!   sp +   0 | x19, x20               |  <- saved stack pointer (16-aligned)
//!            +------------------------+
//! ```
//!
//! A fresh stack gets the same frame from [`init_stack`] with `x30` pointing
//! at [`trampoline`], the data in `x19` and the entry function in `x20`.

use super::{EntryFn, put};
use core::arch::naked_asm;
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (AAPCS64 requires `sp % 16 == 0`).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` saves.
const FRAME: usize = 160;

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
        for word in 0..FRAME / 8 {
            put(sp, word, 0);
        }
        put(sp, 0, data as usize); // x19
        put(sp, 1, entry as usize); // x20
        put(sp, 11, trampoline as *const () as usize); // x30; x29 = 0 ends the frame chain
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
        // Save the callee-saved registers below the current stack pointer.
        "sub sp, sp, #160",
        "stp x19, x20, [sp, #0]",
        "stp x21, x22, [sp, #16]",
        "stp x23, x24, [sp, #32]",
        "stp x25, x26, [sp, #48]",
        "stp x27, x28, [sp, #64]",
        "stp x29, x30, [sp, #80]",
        "stp d8, d9, [sp, #96]",
        "stp d10, d11, [sp, #112]",
        "stp d12, d13, [sp, #128]",
        "stp d14, d15, [sp, #144]",
        // Publish our stack pointer and adopt the target's.
        "mov x3, sp",
        "str x3, [x1]",
        "mov sp, x2",
        // Restore the target's registers.
        "ldp x19, x20, [sp, #0]",
        "ldp x21, x22, [sp, #16]",
        "ldp x23, x24, [sp, #32]",
        "ldp x25, x26, [sp, #48]",
        "ldp x27, x28, [sp, #64]",
        "ldp x29, x30, [sp, #80]",
        "ldp d8, d9, [sp, #96]",
        "ldp d10, d11, [sp, #112]",
        "ldp d12, d13, [sp, #128]",
        "ldp d14, d15, [sp, #144]",
        "add sp, sp, #160",
        // `x0` still holds `arg`: it is the target's return value.
        "ret",
        ".cfi_endproc",
    )
}

/// First code run on a fresh stack: calls `entry(arg, data)`.
///
/// `x0` holds the `arg` of the `switch` that got here; `x19` and `x20` hold
/// the data and entry function stored by [`init_stack`]. The CFI marks the
/// return address undefined so unwinders stop here.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined x30",
        "mov x1, x19",
        "blr x20",
        // `entry` never returns.
        "brk #1",
        ".cfi_endproc",
    )
}
