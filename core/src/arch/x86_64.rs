//! x86_64 System V context switch.
//!
//! Callee-saved state: `rbx`, `rbp`, `r12`–`r15`, and, with the `fp-env`
//! feature, the MXCSR control bits and the x87 control word (see
//! `save_fp_control!`). A suspended context's stack, at its saved stack
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
use core::arch::{asm, naked_asm};
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

/// Saves MXCSR and the x87 control word into the 8-byte slot at `rsp`, with
/// the `fp-env` feature. Without it (the default) the slot is kept but the
/// floating-point environment is treated as thread state: Rust code must
/// run with the default environment anyway (changing it is undefined
/// behaviour, see `_mm_setcsr`), and `stmxcsr` alone costs ~3 ns on AMD
/// Zen, more than the rest of a coroutine switch.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! save_fp_control {
    () => {
        "stmxcsr [rsp]\nfnstcw [rsp + 4]"
    };
}
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! restore_fp_control {
    () => {
        "ldmxcsr [rsp]\nfldcw [rsp + 4]"
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! save_fp_control {
    () => {
        ""
    };
}

/// Pushes an 8-byte slot holding MXCSR and the x87 control word, with the
/// `fp-env` feature; nothing without it (coroutine switches only).
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! push_fp_control {
    () => {
        "sub rsp, 8\nstmxcsr [rsp]\nfnstcw [rsp + 4]"
    };
}
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! pop_fp_control {
    () => {
        "ldmxcsr [rsp]\nfldcw [rsp + 4]\nadd rsp, 8"
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! push_fp_control {
    () => {
        ""
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! pop_fp_control {
    () => {
        ""
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! restore_fp_control {
    () => {
        ""
    };
}

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register; no memory, stack or flags are touched.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
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

// ---------------------------------------------------------------------------
// Asymmetric switching (coroutines)
//
// `resume` enters the coroutine with a `call`, and `suspend`/`finish` leave it
// with the matching `ret`, so the CPU's return-address predictor stays in
// step with the control flow (a `ret` into another stack, as `switch` does,
// mispredicts every time). Both are inline asm inlined into their callers:
// the compiler then saves only the callee-saved registers that are live,
// which `clobber_abi` plus `r12`–`r15` tell it about; `rbx` and `rbp`, which
// LLVM reserves, are saved by hand.
//
// A suspended coroutine's stack, at its saved stack pointer (the MXCSR
// slot exists only with the `fp-env` feature):
//
//            +------------------------+
//            | rbp                    |
//            | rbx                    |
//            | x87 CW | MXCSR         |
//   sp + 0   | resume address         |  <- `resume` does `call [sp]`
//            +------------------------+
//
// While the coroutine runs, the link slot (in its Yielder) holds the
// resumer's stack pointer, where `resume` left:
//
//            +------------------------+
//            | rbx                    |
//            | x87 CW | MXCSR         |
//            | return address         |  <- `suspend` / `finish` do `ret` here
//   link ->  | rbp                    |
//            +------------------------+
//
// A fresh coroutine's stack holds [trampoline, data, entry] from its initial
// stack pointer up, so the first `resume` calls `coroutine_trampoline`.
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
    // SAFETY: the caller guarantees the room; sp + 8 ends up 16-aligned, as
    // the trampoline's `call` requires.
    unsafe {
        let sp = top.sub(24);
        put(sp, 0, coroutine_trampoline as *const () as usize);
        put(sp, 1, data as usize);
        put(sp, 2, entry as usize);
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
    // SAFETY: the coroutine side (trampoline or `suspend`) saves our rbp,
    // publishes our stack pointer through `link` and returns here with `ret`
    // after restoring it; all other registers are declared clobbered.
    unsafe {
        asm!(
            "push rbx",
            push_fp_control!(),
            "call [rdx]",
            pop_fp_control!(),
            "pop rbx",
            inlateout("rdi") arg => arg_out,
            inlateout("rsi") link => sp_out,
            in("rdx") sp.as_ptr(),
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
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
    // the resumer with `ret`, and on re-entry rebuild our registers; every
    // other register is declared clobbered.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            push_fp_control!(),
            "lea rax, [rip + 2f]",
            "push rax",
            // Hand our stack pointer to `resume`, adopt the resumer's.
            "mov rsi, rsp",
            "mov rsp, [rdx]",
            "pop rbp",
            "ret",
            // Re-entered by `resume`'s `call`: rsp is the resumer's stack,
            // rsi its link slot, rdx our stack pointer, rdi the argument.
            "2:",
            "push rbp",
            "mov [rsi], rsp",
            "lea rsp, [rdx + 8]",
            pop_fp_control!(),
            "pop rbx",
            "pop rbp",
            inlateout("rdi") arg => arg_out,
            in("rdx") link,
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
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
            "mov rsp, [rdx]",
            "pop rbp",
            "ret",
            in("rdi") arg,
            in("rsi") 0usize,
            in("rdx") link,
            options(noreturn),
        )
    }
}

/// First code of a fresh coroutine, entered by `resume`'s `call` with the
/// same registers as `suspend`'s re-entry point; calls `entry(arg, data)`.
#[unsafe(naked)]
unsafe extern "C" fn coroutine_trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined rip",
        "push rbp",
        "mov [rsi], rsp",
        "lea rsp, [rdx + 8]",
        // End the frame-pointer chain here.
        "xor ebp, ebp",
        "mov rsi, [rsp]",
        "call [rsp + 8]",
        "ud2",
        ".cfi_endproc",
    )
}
