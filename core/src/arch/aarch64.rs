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
use core::arch::{asm, naked_asm};
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (AAPCS64 requires `sp % 16 == 0`).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` saves.
const FRAME: usize = 160;

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register; no memory, stack or flags are touched.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
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

// ---------------------------------------------------------------------------
// Asymmetric switching (coroutines)
//
// `resume` enters the coroutine with `blr` and `suspend`/`finish` leave with
// the matching `ret`, keeping the return-address predictor in step. They are
// inline asm inlined into their callers, so the compiler saves only the live
// callee-saved registers (`x20`–`x28` are declared clobbered, `v8`–`v15` by
// `clobber_abi`); `x19` and `x29`, which LLVM reserves, are saved by hand.
//
// A suspended coroutine's stack, at its saved stack pointer:
//
//            +------------------------+
//   sp + 16  | x19, x29               |
//   sp +  0  | resume address, (pad)  |  <- `resume` loads it and does `blr`
//            +------------------------+
//
// While it runs, its link slot holds the resumer's stack pointer:
//
//            +------------------------+
//            | x19, x29 (resumer's)   |
//   link ->  | x29, x30 (return addr) |  <- `suspend` / `finish` `ret` to x30
//            +------------------------+
//
// A fresh coroutine's stack holds [trampoline, pad, data, entry].
// ---------------------------------------------------------------------------

/// Prepares a fresh coroutine stack whose top is `top` for [`resume`];
/// returns its initial stack pointer.
///
/// # Safety
///
/// `top` must be `STACK_ALIGNMENT`-aligned with 32 writable bytes below it,
/// and `entry` must accept `data`.
pub(crate) unsafe fn init_coroutine(
    top: NonNull<u8>,
    entry: EntryFn,
    data: *mut u8,
) -> NonNull<u8> {
    // SAFETY: the caller guarantees the room.
    unsafe {
        let sp = top.sub(32);
        put(sp, 0, coroutine_trampoline as *const () as usize);
        put(sp, 1, 0);
        put(sp, 2, data as usize);
        put(sp, 3, entry as usize);
        sp
    }
}

/// Runs the suspended (or fresh) coroutine at `sp`, handing it `arg`;
/// stores our stack pointer in `*link` for it.
///
/// Returns the `arg` of its next [`suspend`] or [`finish`] and its new
/// stack pointer, or null if it finished.
///
/// # Safety
///
/// `sp` must come from [`init_coroutine`] or a previous `resume`, be resumed
/// once, and `link` must be the slot the coroutine's `suspend` reads.
#[inline(always)]
pub(crate) unsafe fn resume(arg: usize, link: *mut *mut u8, sp: NonNull<u8>) -> (usize, *mut u8) {
    let (arg_out, sp_out): (usize, *mut u8);
    // SAFETY: the coroutine side saves our x29/x30, publishes our stack
    // pointer through `link` and returns here with `ret`; all other
    // registers are declared clobbered.
    unsafe {
        asm!(
            "stp x19, x29, [sp, #-16]!",
            "ldr x3, [x2]",
            "blr x3",
            "ldp x19, x29, [sp], #16",
            inlateout("x0") arg => arg_out,
            inlateout("x1") link => sp_out,
            in("x2") sp.as_ptr(),
            lateout("x20") _, lateout("x21") _, lateout("x22") _, lateout("x23") _,
            lateout("x24") _, lateout("x25") _, lateout("x26") _, lateout("x27") _,
            lateout("x28") _,
            clobber_abi("C"),
        );
    }
    (arg_out, sp_out)
}

/// Suspends the running coroutine, handing `arg` to the `resume` that ran
/// it (whose stack pointer is in `*link`); returns the `arg` of the next
/// `resume`.
///
/// # Safety
///
/// Must run on a coroutine's stack, with `link` filled by the `resume` that
/// is running it.
#[inline(always)]
pub(crate) unsafe fn suspend(arg: usize, link: *mut *mut u8) -> usize {
    let arg_out: usize;
    // SAFETY: we leave a frame `resume` knows how to re-enter, return into
    // the resumer with `ret`, and on re-entry rebuild our registers.
    unsafe {
        asm!(
            "stp x19, x29, [sp, #-16]!",
            "adr x3, 2f",
            "str x3, [sp, #-16]!",
            // Hand our stack pointer to `resume`, adopt the resumer's.
            "ldr x3, [x1]",
            "mov x1, sp",
            "mov sp, x3",
            "ldp x29, x30, [sp], #16",
            "ret",
            // Re-entered by `resume`'s `blr`: sp is the resumer's stack, x30
            // its return address, x1 its link slot, x2 our stack pointer.
            "2:",
            "stp x29, x30, [sp, #-16]!",
            "mov x3, sp",
            "str x3, [x1]",
            "add sp, x2, #16",
            "ldp x19, x29, [sp], #16",
            inlateout("x0") arg => arg_out,
            in("x1") link,
            lateout("x20") _, lateout("x21") _, lateout("x22") _, lateout("x23") _,
            lateout("x24") _, lateout("x25") _, lateout("x26") _, lateout("x27") _,
            lateout("x28") _,
            clobber_abi("C"),
        );
    }
    arg_out
}

/// Leaves a finished coroutine for good, handing `arg` to its resumer; its
/// `resume` returns a null stack pointer.
///
/// # Safety
///
/// As for [`suspend`]; nothing on this stack may be used afterwards.
#[inline(always)]
pub(crate) unsafe fn finish(arg: usize, link: *mut *mut u8) -> ! {
    // SAFETY: returns into `resume` exactly as `suspend` does.
    unsafe {
        asm!(
            "ldr x3, [x1]",
            "mov sp, x3",
            "ldp x29, x30, [sp], #16",
            "mov x1, #0",
            "ret",
            in("x0") arg,
            in("x1") link,
            options(noreturn),
        )
    }
}

/// First code of a fresh coroutine, entered by `resume`'s `blr` with the
/// same registers as `suspend`'s re-entry point; calls `entry(arg, data)`.
#[unsafe(naked)]
unsafe extern "C" fn coroutine_trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined x30",
        "stp x29, x30, [sp, #-16]!",
        "mov x3, sp",
        "str x3, [x1]",
        "add sp, x2, #16",
        // End the frame-pointer chain here.
        "mov x29, #0",
        "ldp x1, x3, [sp]",
        "blr x3",
        "brk #1",
        ".cfi_endproc",
    )
}
