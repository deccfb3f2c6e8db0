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
//! Valgrind:
//!
//! * `client_request(default, args)`: the instruction sequence valgrind
//!   recognises as a client request (valgrind.h), a no-op on the CPU, where
//!   it answers `default`. The core uses it to tell valgrind's memcheck
//!   which memory is a stack ([`crate::stack::StackRegistration`]).
//!
//! # Call frame information
//!
//! Debuggers, sampling profilers and backtraces find a function's caller
//! through its DWARF call frame information (CFI): for every instruction,
//! where the canonical frame address (CFA, the stack pointer before the
//! call) is and where each register of the caller was saved. Every switch
//! keeps it exact at every instruction, so that a walk from any of them
//! reaches the caller (`.ci/cfi.sh` checks it by single-stepping each one
//! under gdb, on all three CPUs):
//!
//! * The naked functions describe each push, pop and stack-pointer move.
//!   Once the stack pointer is another context's, the rules describe that
//!   context (the resumer, or the coroutine at its continuation), so the
//!   walk continues into its frames.
//! * The inline asm never moves the stack pointer. It cannot describe a
//!   move: it does not know how its function defines the CFA (from the
//!   stack pointer, or from the frame pointer), nor whether the function
//!   has CFI at all (a `.cfi_*` directive outside any is an assembler
//!   error, e.g. in `panic = "abort"` kernels). So `resume` only calls the
//!   naked `enter`, which saves the resumer's reserved registers on its
//!   stack and jumps to the coroutine; `suspend` only jumps to the naked
//!   `suspend_tail` with its continuation in a register, and `finish` to
//!   `leave`; both return into `resume`. The round trip got no slower; a
//!   coroutine's first resume and its finish pay one jump each, about
//!   0.6 ns (docs/BENCHMARKS.md).
//! * A jumped-to function has no return address of its own. `enter` and
//!   `suspend_tail` name the register holding the continuation as their
//!   caller's; on aarch64 and riscv64 that takes over the return-address
//!   register's rule, which the coroutine's function has saved since
//!   `suspend` declares it clobbered. `leave` instead describes the
//!   resumer from its first instruction: a finishing coroutine's function
//!   may never have saved its return-address register (LLVM omits that in
//!   functions that never return), and nothing on its stack matters any
//!   more.
//! * A fresh context starts one instruction into its trampoline, past one
//!   that never runs: unwinders look up the caller of a frame at its return
//!   address minus one, which must still lie in the trampoline.
//! * The fiber trampoline ends the walk (its return address is undefined).
//!   The coroutine trampoline links it to the resumer instead: its CFA is
//!   read, through a DWARF expression, from the link slot where `enter`
//!   published the resumer's stack pointer. It is marked a signal frame:
//!   debuggers reject a caller frame that lies below its callee on the
//!   stack ("previous frame inner to this frame"), as the resumer's stack
//!   may, unless the callee is a signal frame, whose handler may run on
//!   another stack. Unwinders then look up the resumer at its return
//!   address itself, right after the call in `resume`, where its CFI is the
//!   same as at the call. Panics still never unwind across a switch: the
//!   entry function catches them (or aborts) before the walk gets there.
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
    STACK_ALIGNMENT, client_request, finish, init_coroutine, init_stack, resume, stack_pointer,
    suspend, switch,
};

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub(crate) use self::aarch64::{
    STACK_ALIGNMENT, client_request, finish, init_coroutine, init_stack, resume, stack_pointer,
    suspend, switch,
};

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub(crate) use self::riscv64::{
    STACK_ALIGNMENT, client_request, finish, init_coroutine, init_stack, resume, stack_pointer,
    suspend, switch,
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
