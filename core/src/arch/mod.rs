//! Per-architecture context switching.
//!
//! Every architecture file implements the same small contract, so adding a CPU
//! means writing one file:
//!
//! * `STACK_ALIGNMENT`: the alignment a stack top must have.
//!
//! Symmetric switching (fibers: any context to any other):
//!
//! * `init_stack`: writes an initial frame below a stack top so that the
//!   first `switch` to it calls an [`EntryFn`].
//! * `switch`: a naked function that saves every callee-saved register
//!   (integer *and* floating point) of the running context on its own stack,
//!   stores the resulting stack pointer, loads another context's stack
//!   pointer and restores its registers. The `arg` passed to `switch` becomes
//!   the return value of the `switch` call that suspended the target (or the
//!   first argument of its entry function).
//!
//! Asymmetric switching (coroutines: resumer ⇄ coroutine), the fast path:
//!
//! * `init_coroutine`: the initial frame for `resume`.
//! * `resume(arg, link, sp)`: enters the coroutine with a call instruction,
//!   leaving the resumer's stack pointer in `*link`; returns the coroutine's
//!   `arg` and its new stack pointer (null once it finished).
//! * `suspend(arg, link)` / `finish(arg, link)`: return to the resumer with
//!   the matching return instruction.
//!
//! Pairing call with return keeps the CPU's return-address predictor right;
//! a naked `switch` ends in a return to another stack and mispredicts every
//! time (measured: 11 ns against 3.8 ns per round trip on AMD EPYC). These
//! three are inline asm inlined into their callers, so the compiler saves
//! only the callee-saved registers that are live across the switch.
//!
//! Assembly lives only here (DESIGN.md §2.5).

use core::ptr::NonNull;

/// First function run on a fresh stack.
///
/// `arg` is the value passed to the first [`switch`] into the context, `data`
/// the pointer given to [`init_stack`]. It must never return: a context ends by
/// switching away for the last time.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: usize, data: *mut u8) -> !;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use self::x86_64::{
    STACK_ALIGNMENT, finish, init_coroutine, init_stack, resume, stack_pointer, suspend, switch,
};

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub(crate) use self::aarch64::{
    STACK_ALIGNMENT, finish, init_coroutine, init_stack, resume, stack_pointer, suspend, switch,
};

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub(crate) use self::riscv64::{
    STACK_ALIGNMENT, finish, init_coroutine, init_stack, resume, stack_pointer, suspend, switch,
};

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!("xasync-core supports x86_64, aarch64 and riscv64 only");

/// Writes `value` at `sp + offset` words. Helper for the `init_stack`s.
///
/// # Safety
///
/// The word must lie inside writable stack memory.
#[inline(always)]
unsafe fn put(sp: NonNull<u8>, word: usize, value: usize) {
    // SAFETY: the caller guarantees the word is inside the stack; `sp` is
    // aligned to `STACK_ALIGNMENT`, hence to a word.
    unsafe { sp.cast::<usize>().add(word).write(value) }
}
