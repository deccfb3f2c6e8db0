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
//!
//! The call frame information (CFI) of every switch follows the plan
//! described in the [parent module](super).

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

/// Where a context starts in its trampoline: past the never-executed
/// `int3` that keeps "return address minus one" inside the trampoline (see
/// the parent module).
const TRAMPOLINE_ENTRY: usize = 1;

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

/// Makes a valgrind client request: `args` holds the request's code and its
/// five arguments. Returns valgrind's answer, or `default` when the program
/// does not run under valgrind, to which the sequence is a no-op: the four
/// rotations of rdi add up to 128 bits and leave it as it was, and
/// `xchg rbx, rbx` changes nothing. Valgrind recognises the sequence when
/// it translates the code and carries out the request instead
/// (`VALGRIND_DO_CLIENT_REQUEST_EXPR` in valgrind.h, amd64).
#[inline(always)]
pub(crate) fn client_request(default: usize, args: &[usize; 6]) -> usize {
    let answer: usize;
    // SAFETY: natively the sequence changes only the flags (the rotations
    // set CF and OF), which are not declared preserved. Under valgrind the
    // request reads `args` through rax and writes its answer to rdx; it
    // may read or change client memory (the default, no `nomem`) but never
    // the stack.
    unsafe {
        asm!(
            // The preamble valgrind looks for: rdi rotated by 3, 13, 61 and
            // 51 bits, 128 in all, so rdi keeps its value.
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            // The request: rdx = request(rax). A no-op on the CPU.
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inlateout("rdx") default => answer,
            options(nostack),
        );
    }
    answer
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
        put(sp, 7, trampoline as *const () as usize + TRAMPOLINE_ENTRY);
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
        // On entry the CFA is rsp + 8 and the return address is at CFA - 8.
        ".cfi_startproc",
        // Save the callee-saved integer registers, each at its place below
        // the CFA.
        "push rbp",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset rbp, -16",
        "push rbx",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset rbx, -24",
        "push r12",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset r12, -32",
        "push r13",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset r13, -40",
        "push r14",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset r14, -48",
        "push r15",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset r15, -56",
        // Save MXCSR and the x87 control word in one 8-byte slot.
        "sub rsp, 8",
        ".cfi_adjust_cfa_offset 8",
        save_fp_control!(),
        // Publish our stack pointer and adopt the target's. Its stack holds
        // the same frame, so from here on the same rules describe the
        // target, whose `switch` caller an unwinder now finds.
        "mov [rsi], rsp",
        "mov rsp, rdx",
        // Restore the target's floating-point control state.
        restore_fp_control!(),
        "add rsp, 8",
        ".cfi_adjust_cfa_offset -8",
        // Restore its integer registers: each one, once popped, holds the
        // caller's value again.
        "pop r15",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore r15",
        "pop r14",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore r14",
        "pop r13",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore r13",
        "pop r12",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore r12",
        "pop rbx",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore rbx",
        "pop rbp",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_restore rbp",
        // Hand `arg` over as the return value of the target's `switch`.
        "mov rax, rdi",
        "ret",
        ".cfi_endproc",
    )
}

/// First code run on a fresh stack (entered [`TRAMPOLINE_ENTRY`] bytes in):
/// calls `entry(arg, data)`.
///
/// `rdi` still holds the `arg` of the `switch` that got here, `rbx` the data
/// and `r12` the entry function stored by [`init_stack`]. The CFI marks the
/// return address as undefined, so unwinders and debuggers stop here instead
/// of walking into whatever lies above the stack.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        // The bottom frame of the stack: there is no caller.
        ".cfi_undefined rip",
        // Never runs: the frame starts at the next byte (TRAMPOLINE_ENTRY).
        "int3",
        // entry(arg, data); `arg` is already in rdi.
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
// mispredicts every time). `resume`, `suspend` and `finish` are inline asm
// inlined into their callers: the compiler then saves only the callee-saved
// registers that are live, which `clobber_abi` plus `r12`–`r15` tell it
// about; `rbx` and `rbp`, which LLVM reserves, are saved by the naked
// functions `enter`, `suspend_tail` and `leave`, which do all the stack
// switching (see the parent module).
//
// A suspended coroutine's stack, at its saved stack pointer (the MXCSR
// slot exists only with the `fp-env` feature):
//
//            +------------------------+
//   sp + 24  | x87 CW | MXCSR         |
//   sp + 16  | rbp                    |
//   sp +  8  | rbx                    |
//   sp +  0  | continuation           |  <- `enter` jumps there
//            +------------------------+
//
// While the coroutine runs, the link slot (in its Yielder) holds the
// resumer's stack pointer, where `enter` left its registers (again with an
// MXCSR slot only with `fp-env`):
//
//            +------------------------+
//            | return address         |  <- `suspend` / `finish` `ret` here
//            | rbp                    |
//            | rbx                    |
//   link ->  | x87 CW | MXCSR         |
//            +------------------------+
//
// A fresh coroutine's stack holds the same frame with the trampoline as
// continuation, its data as rbx and the entry function as rbp, and two
// more words above, where the trampoline keeps the link slot's address.
// ---------------------------------------------------------------------------

/// Bytes of floating-point control state each side of a coroutine switch
/// keeps: an MXCSR + x87 control word slot with `fp-env`, nothing without.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
const FP_SLOT: usize = 8;
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
const FP_SLOT: usize = 0;

/// A suspended coroutine's frame: continuation, rbx, rbp and the FP slot.
const COROUTINE_FRAME: usize = 24 + FP_SLOT;

/// What `enter` leaves on the resumer's stack: the FP slot, rbx, rbp and the
/// return address. The link slot plus this is the resumer's CFA.
const RESUMER_FRAME: usize = 24 + FP_SLOT;

/// Saves the resumer's floating-point control state in a new slot on its
/// stack (`enter`), with `fp-env`.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! push_resumer_fp {
    () => {
        concat!(
            "sub rsp, 8\n",
            ".cfi_adjust_cfa_offset 8\n",
            "stmxcsr [rsp]\n",
            "fnstcw [rsp + 4]",
        )
    };
}
/// Restores the resumer's floating-point control state and drops its slot
/// (`suspend_tail`, `leave`), with `fp-env`.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! pop_resumer_fp {
    () => {
        concat!(
            "ldmxcsr [rsp]\n",
            "fldcw [rsp + 4]\n",
            "add rsp, 8\n",
            ".cfi_adjust_cfa_offset -8",
        )
    };
}
/// Saves the coroutine's floating-point control state in its frame, whose
/// address is in rsi (`suspend_tail`), with `fp-env`.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! save_coroutine_fp {
    () => {
        "stmxcsr [rsi + 24]\nfnstcw [rsi + 28]"
    };
}
/// Restores the coroutine's floating-point control state from its frame,
/// whose address is in rdx (`enter`), with `fp-env`.
#[cfg(all(feature = "fp-env", target_feature = "sse"))]
macro_rules! restore_coroutine_fp {
    () => {
        "ldmxcsr [rdx + 24]\nfldcw [rdx + 28]"
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! push_resumer_fp {
    () => {
        ""
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! pop_resumer_fp {
    () => {
        ""
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! save_coroutine_fp {
    () => {
        ""
    };
}
#[cfg(not(all(feature = "fp-env", target_feature = "sse")))]
macro_rules! restore_coroutine_fp {
    () => {
        ""
    };
}

/// Where the resumer's registers lie below its CFA, in what `enter` left
/// on its stack.
macro_rules! cfi_resumer_registers {
    () => {
        concat!(
            ".cfi_offset rip, -8\n",
            ".cfi_offset rbp, -16\n",
            ".cfi_offset rbx, -24",
        )
    };
}

/// Restores the resumer's registers from the frame `enter` left at rsp and
/// returns into its `resume` (`suspend_tail`, `leave`).
macro_rules! return_to_resumer {
    () => {
        concat!(
            pop_resumer_fp!(),
            "\n",
            "pop rbx\n",
            ".cfi_adjust_cfa_offset -8\n",
            ".cfi_restore rbx\n",
            "pop rbp\n",
            ".cfi_adjust_cfa_offset -8\n",
            ".cfi_restore rbp\n",
            "ret",
        )
    };
}

/// Prepares a fresh coroutine stack whose top is `top` for [`resume`];
/// returns its initial stack pointer.
///
/// # Safety
///
/// `top` must be `STACK_ALIGNMENT`-aligned with 48 writable bytes below it,
/// and `entry` must accept `data`.
pub(crate) unsafe fn init_coroutine(
    top: NonNull<u8>,
    entry: EntryFn,
    data: *mut u8,
) -> NonNull<u8> {
    // SAFETY: the caller guarantees the room; the trampoline's rsp, top - 16,
    // is 16-aligned as its `call` requires.
    unsafe {
        let sp = top.sub(COROUTINE_FRAME + 16);
        put(
            sp,
            0,
            coroutine_trampoline as *const () as usize + TRAMPOLINE_ENTRY,
        );
        put(sp, 1, data as usize); // rbx
        put(sp, 2, entry as usize); // rbp
        if FP_SLOT != 0 {
            put(sp, 3, MXCSR_DEFAULT | (FPCW_DEFAULT << 32));
        }
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
    // SAFETY: `enter` saves our rbx and rbp on our stack, publishes our
    // stack pointer through `link`, and the coroutine returns here with
    // `ret` after restoring them; all other registers are declared
    // clobbered.
    unsafe {
        asm!(
            // Everything else happens in `enter`, in the coroutine and in
            // its way back: the stack pointer is the same after this call.
            "call {enter}",
            enter = sym enter,
            inlateout("rdi") arg => arg_out,
            inlateout("rsi") link => sp_out,
            in("rdx") sp.as_ptr(),
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
        );
    }
    (arg_out, sp_out)
}

/// Enters a coroutine, called by [`resume`] with the argument in rdi, the
/// link slot's address in rsi and the coroutine's stack pointer in rdx;
/// jumps to the coroutine's continuation with rdi and rsi unchanged.
#[unsafe(naked)]
unsafe extern "C" fn enter() {
    naked_asm!(
        // Entered by `resume`'s call: CFA = rsp + 8, return address at
        // CFA - 8.
        ".cfi_startproc",
        // Save the resumer's rbp and rbx below its return address.
        "push rbp",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset rbp, -16",
        "push rbx",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset rbx, -24",
        // And its floating-point control state, with `fp-env`.
        push_resumer_fp!(),
        // Publish the resumer's stack pointer for `suspend` and `finish`.
        "mov [rsi], rsp",
        // Load the coroutine's continuation and registers. The CFI still
        // finds the resumer's rbx and rbp in their slots.
        "mov rax, [rdx]",
        "mov rbx, [rdx + 8]",
        "mov rbp, [rdx + 16]",
        restore_coroutine_fp!(),
        // Adopt the coroutine's stack: the frame is now the coroutine's, at
        // its continuation (held in rax), with its own rbx and rbp.
        "lea rsp, [rdx + {frame}]",
        ".cfi_def_cfa rsp, 0",
        ".cfi_register rip, rax",
        ".cfi_restore rbx",
        ".cfi_restore rbp",
        // Continue the coroutine: `suspend`'s continuation or the trampoline.
        "jmp rax",
        ".cfi_endproc",
        frame = const COROUTINE_FRAME,
    )
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
    // SAFETY: `suspend_tail` leaves a frame `enter` knows how to re-enter
    // and returns into the resumer with `ret`; on re-entry `enter` rebuilds
    // our rbx and rbp; every other register is declared clobbered.
    unsafe {
        asm!(
            // Our continuation, where `enter` jumps when we are resumed.
            "lea rax, [rip + 2f]",
            // Save our registers and return into the resumer.
            "jmp {tail}",
            // Resumed: rsp, rbx and rbp are ours again, rdi is the argument.
            "2:",
            tail = sym suspend_tail,
            inlateout("rdi") arg => arg_out,
            in("rdx") link,
            lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
            clobber_abi("sysv64"),
        );
    }
    arg_out
}

/// Saves the running coroutine's frame and returns into its resumer:
/// jumped to by [`suspend`] with the argument in rdi, the link slot's
/// address in rdx and the continuation in rax; the resumer's `resume`
/// gets the coroutine's new stack pointer in rsi.
#[unsafe(naked)]
unsafe extern "C" fn suspend_tail() {
    naked_asm!(
        // Jumped to, not called: the caller is the coroutine's function at
        // the continuation (in rax), with the CFA at the current rsp.
        ".cfi_startproc",
        ".cfi_def_cfa rsp, 0",
        ".cfi_register rip, rax",
        // Our frame goes just below our stack pointer, once we have left
        // this stack (nothing can overwrite it then).
        "lea rsi, [rsp - {frame}]",
        // Adopt the resumer's stack: the frame is now its `resume` call's.
        "mov rsp, [rdx]",
        ".cfi_def_cfa rsp, {resumer}",
        cfi_resumer_registers!(),
        // Save the continuation, rbx, rbp (and the FP state) in our frame.
        "mov [rsi], rax",
        "mov [rsi + 8], rbx",
        "mov [rsi + 16], rbp",
        save_coroutine_fp!(),
        // Restore the resumer's registers and return into it.
        return_to_resumer!(),
        ".cfi_endproc",
        frame = const COROUTINE_FRAME,
        resumer = const RESUMER_FRAME,
    )
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
            // Restore the resumer's registers and return into it.
            "jmp {leave}",
            leave = sym leave,
            in("rdi") arg,
            in("rsi") 0usize,
            in("rdx") link,
            options(noreturn),
        )
    }
}

/// Returns into the resumer of a finished coroutine: jumped to by
/// [`finish`] with the argument in rdi, null in rsi and the link slot's
/// address in rdx.
#[unsafe(naked)]
unsafe extern "C" fn leave() {
    naked_asm!(
        // Nothing is left to unwind on a finished coroutine's stack: from
        // the first instruction on, the caller is the resumer, at the
        // `resume` call. CFA = [rdx] + RESUMER_FRAME:
        // DW_CFA_def_cfa_expression (0x0f), 5 bytes: DW_OP_breg1 (rdx) 0,
        // DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_startproc",
        ".cfi_escape 0x0f, 5, 0x71, 0x00, 0x06, 0x23, {resumer}",
        cfi_resumer_registers!(),
        // Adopt the resumer's stack: the same CFA, now relative to rsp.
        "mov rsp, [rdx]",
        ".cfi_def_cfa rsp, {resumer}",
        // Restore the resumer's registers and return into it.
        return_to_resumer!(),
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}

/// First code of a fresh coroutine, jumped to by `enter`
/// ([`TRAMPOLINE_ENTRY`] bytes in) with the data in rbx, the entry function
/// in rbp, the link slot's address in rsi and the argument in rdi; calls
/// `entry(arg, data)`.
///
/// Its CFI links the coroutine's stack to its resumer's (see the parent
/// module): the CFA is the resumer's stack pointer, read from the link
/// slot, plus what `enter` left there.
#[unsafe(naked)]
unsafe extern "C" fn coroutine_trampoline() {
    naked_asm!(
        ".cfi_startproc",
        // The resumer's stack may lie below ours (see the parent module).
        ".cfi_signal_frame",
        // CFA = [rsi] + RESUMER_FRAME: DW_CFA_def_cfa_expression (0x0f),
        // 5 bytes: DW_OP_breg4 (rsi) 0, DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 5, 0x74, 0x00, 0x06, 0x23, {resumer}",
        // The resumer's registers, as `enter` saved them (the return
        // address is at CFA - 8, as in every frame).
        ".cfi_offset rbp, -16",
        ".cfi_offset rbx, -24",
        // Never runs: the frame starts at the next byte (TRAMPOLINE_ENTRY).
        "int3",
        // Keep the link slot's address in our frame, for the unwinder.
        "mov [rsp], rsi",
        // CFA = [[rsp]] + RESUMER_FRAME: DW_CFA_def_cfa_expression, 6 bytes:
        // DW_OP_breg7 (rsp) 0, DW_OP_deref twice, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 6, 0x77, 0x00, 0x06, 0x06, 0x23, {resumer}",
        // entry(arg, data); `arg` is already in rdi.
        "mov rsi, rbx",
        "mov rax, rbp",
        // End the frame-pointer chain here.
        "xor ebp, ebp",
        "call rax",
        // `entry` never returns.
        "ud2",
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}
