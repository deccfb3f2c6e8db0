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
//! into [`trampoline`], the data in `x19` and the entry function in `x20`.
//!
//! The call frame information (CFI) of every switch follows the plan
//! described in the [parent module](super).

use super::{EntryFn, put};
use core::arch::{asm, naked_asm};
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (AAPCS64 requires `sp % 16 == 0`).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` saves.
const FRAME: usize = 160;

/// Where a context starts in its trampoline: past the never-executed `udf`
/// that keeps "return address minus one" inside the trampoline (see the
/// parent module).
const TRAMPOLINE_ENTRY: usize = 4;

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register; no memory, stack or flags are touched.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Makes a valgrind client request: `args` holds the request's code and its
/// five arguments. Returns valgrind's answer, or `default` when the program
/// does not run under valgrind, to which the sequence is a no-op: the four
/// rotations of x12 add up to 128 bits and leave it as it was, and
/// `orr x10, x10, x10` changes nothing. Valgrind recognises the sequence
/// when it translates the code and carries out the request instead
/// (`VALGRIND_DO_CLIENT_REQUEST_EXPR` in valgrind.h, arm64).
#[inline(always)]
pub(crate) fn client_request(default: usize, args: &[usize; 6]) -> usize {
    let answer: usize;
    // SAFETY: natively the sequence changes nothing (`ror` by an immediate
    // sets no flags). Under valgrind the request reads `args` through x4
    // and writes its answer to x3; it may read or change client memory
    // (the default, no `nomem`) but never the stack.
    unsafe {
        asm!(
            // The preamble valgrind looks for: x12 rotated by 3, 13, 51 and
            // 61 bits, 128 in all, so x12 keeps its value.
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            // The request: x3 = request(x4). A no-op on the CPU.
            "orr x10, x10, x10",
            in("x4") args.as_ptr(),
            inlateout("x3") default => answer,
            options(nostack, preserves_flags),
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
        for word in 0..FRAME / 8 {
            put(sp, word, 0);
        }
        put(sp, 0, data as usize); // x19
        put(sp, 1, entry as usize); // x20
        // x30; x29 = 0 ends the frame chain.
        put(sp, 11, trampoline as *const () as usize + TRAMPOLINE_ENTRY);
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
        // On entry the CFA is sp and the return address is in x30.
        ".cfi_startproc",
        // Save the callee-saved registers below the current stack pointer,
        // each at its place below the CFA.
        "sub sp, sp, #160",
        ".cfi_def_cfa_offset 160",
        "stp x19, x20, [sp, #0]",
        ".cfi_offset x19, -160",
        ".cfi_offset x20, -152",
        "stp x21, x22, [sp, #16]",
        ".cfi_offset x21, -144",
        ".cfi_offset x22, -136",
        "stp x23, x24, [sp, #32]",
        ".cfi_offset x23, -128",
        ".cfi_offset x24, -120",
        "stp x25, x26, [sp, #48]",
        ".cfi_offset x25, -112",
        ".cfi_offset x26, -104",
        "stp x27, x28, [sp, #64]",
        ".cfi_offset x27, -96",
        ".cfi_offset x28, -88",
        "stp x29, x30, [sp, #80]",
        ".cfi_offset x29, -80",
        ".cfi_offset x30, -72",
        "stp d8, d9, [sp, #96]",
        ".cfi_offset d8, -64",
        ".cfi_offset d9, -56",
        "stp d10, d11, [sp, #112]",
        ".cfi_offset d10, -48",
        ".cfi_offset d11, -40",
        "stp d12, d13, [sp, #128]",
        ".cfi_offset d12, -32",
        ".cfi_offset d13, -24",
        "stp d14, d15, [sp, #144]",
        ".cfi_offset d14, -16",
        ".cfi_offset d15, -8",
        // Publish our stack pointer and adopt the target's. Its stack holds
        // the same frame, so from here on the same rules describe the
        // target, whose `switch` caller an unwinder now finds.
        "mov x3, sp",
        "str x3, [x1]",
        "mov sp, x2",
        // Restore the target's registers (their slots stay valid until the
        // frame is dropped).
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
        // Drop the frame: every register holds the caller's value again.
        "add sp, sp, #160",
        ".cfi_def_cfa_offset 0",
        ".cfi_restore x19",
        ".cfi_restore x20",
        ".cfi_restore x21",
        ".cfi_restore x22",
        ".cfi_restore x23",
        ".cfi_restore x24",
        ".cfi_restore x25",
        ".cfi_restore x26",
        ".cfi_restore x27",
        ".cfi_restore x28",
        ".cfi_restore x29",
        ".cfi_restore x30",
        ".cfi_restore d8",
        ".cfi_restore d9",
        ".cfi_restore d10",
        ".cfi_restore d11",
        ".cfi_restore d12",
        ".cfi_restore d13",
        ".cfi_restore d14",
        ".cfi_restore d15",
        // `x0` still holds `arg`: it is the target's return value.
        "ret",
        ".cfi_endproc",
    )
}

/// First code run on a fresh stack (entered [`TRAMPOLINE_ENTRY`] bytes in):
/// calls `entry(arg, data)`.
///
/// `x0` holds the `arg` of the `switch` that got here; `x19` and `x20` hold
/// the data and entry function stored by [`init_stack`]. The CFI marks the
/// return address undefined so unwinders stop here.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        // The bottom frame of the stack: there is no caller.
        ".cfi_undefined x30",
        // Never runs: the frame starts at the next instruction.
        "udf #0",
        // entry(arg, data); `arg` is already in x0.
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
// `resume` enters the coroutine with `bl` and `suspend`/`finish` leave with
// the matching `ret`, keeping the return-address predictor in step. They are
// inline asm inlined into their callers, so the compiler saves only the live
// callee-saved registers (`x20`–`x28` are declared clobbered, `v8`–`v15` by
// `clobber_abi`); `x19` and `x29`, which LLVM reserves, are saved by the
// naked functions `enter`, `suspend_tail` and `leave`, which do all the
// stack switching (see the parent module).
//
// A suspended coroutine's stack, at its saved stack pointer:
//
//            +------------------------+
//   sp + 16  | x29, (pad)             |
//   sp +  0  | continuation, x19      |  <- `enter` branches to it
//            +------------------------+
//
// While it runs, its link slot holds the resumer's stack pointer, where
// `enter` left the resumer's registers (x29 and x30 form a frame record):
//
//            +------------------------+
//   link + 16| x19, (pad)             |
//   link +  0| x29, x30 (return addr) |  <- `suspend` / `finish` `ret` to x30
//            +------------------------+
//
// A fresh coroutine's stack holds the same frame with the trampoline as
// continuation, its data as x19 and the entry function as x29, and two
// more words above, where the trampoline keeps the link slot's address.
// ---------------------------------------------------------------------------

/// A suspended coroutine's frame: continuation, x19, x29 and padding.
const COROUTINE_FRAME: usize = 32;

/// What `enter` leaves on the resumer's stack: x29, x30, x19 and padding.
/// The link slot plus this is the resumer's CFA.
const RESUMER_FRAME: usize = 32;

/// Where the resumer's registers lie below its CFA, in what `enter` left
/// on its stack.
macro_rules! cfi_resumer_registers {
    () => {
        concat!(
            ".cfi_offset x29, -32\n",
            ".cfi_offset x30, -24\n",
            ".cfi_offset x19, -16",
        )
    };
}

/// Restores the resumer's registers from the frame `enter` left at sp and
/// returns into its `resume` (`suspend_tail`, `leave`).
macro_rules! return_to_resumer {
    () => {
        concat!(
            "ldr x19, [sp, #16]\n",
            ".cfi_restore x19\n",
            "ldp x29, x30, [sp], #32\n",
            ".cfi_def_cfa_offset 0\n",
            ".cfi_restore x29\n",
            ".cfi_restore x30\n",
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
    // SAFETY: the caller guarantees the room; the trampoline's sp, top - 16,
    // is 16-aligned.
    unsafe {
        let sp = top.sub(COROUTINE_FRAME + 16);
        put(
            sp,
            0,
            coroutine_trampoline as *const () as usize + TRAMPOLINE_ENTRY,
        );
        put(sp, 1, data as usize); // x19
        put(sp, 2, entry as usize); // x29
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
    // SAFETY: `enter` saves our x19, x29 and x30 on our stack, publishes
    // our stack pointer through `link`, and the coroutine returns here with
    // `ret` after restoring them; all other registers are declared
    // clobbered.
    unsafe {
        asm!(
            // Everything else happens in `enter`, in the coroutine and in
            // its way back: the stack pointer is the same after this call.
            "bl {enter}",
            enter = sym enter,
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

/// Enters a coroutine, called by [`resume`] with the argument in x0, the
/// link slot's address in x1 and the coroutine's stack pointer in x2;
/// branches to the coroutine's continuation with x0 and x1 unchanged.
#[unsafe(naked)]
unsafe extern "C" fn enter() {
    naked_asm!(
        // Entered by `resume`'s `bl`: CFA = sp, return address in x30.
        ".cfi_startproc",
        // Save the resumer's x29, x30 and x19.
        "stp x29, x30, [sp, #-32]!",
        ".cfi_def_cfa_offset 32",
        ".cfi_offset x29, -32",
        ".cfi_offset x30, -24",
        "str x19, [sp, #16]",
        ".cfi_offset x19, -16",
        // Publish the resumer's stack pointer for `suspend` and `finish`.
        "mov x3, sp",
        "str x3, [x1]",
        // Load the coroutine's continuation and registers. The CFI still
        // finds the resumer's x19 and x29 in their slots.
        "ldp x3, x19, [x2]",
        "ldr x29, [x2, #16]",
        // Adopt the coroutine's stack: the frame is now the coroutine's, at
        // its continuation (held in x3), with its own x19 and x29. x30 is
        // dead there (`suspend` declares it clobbered, the trampoline's CFI
        // does not read it), so it can stand for the continuation.
        "add sp, x2, #{frame}",
        ".cfi_def_cfa sp, 0",
        ".cfi_register x30, x3",
        ".cfi_restore x19",
        ".cfi_restore x29",
        // Continue the coroutine: `suspend`'s continuation or the trampoline.
        "br x3",
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
    // our x19 and x29; every other register is declared clobbered.
    unsafe {
        asm!(
            // Our continuation, where `enter` branches when we are resumed.
            "adr x3, 2f",
            // Save our registers and return into the resumer.
            "b {tail}",
            // Resumed: sp, x19 and x29 are ours again, x0 is the argument.
            "2:",
            tail = sym suspend_tail,
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

/// Saves the running coroutine's frame and returns into its resumer:
/// branched to by [`suspend`] with the argument in x0, the link slot's
/// address in x1 and the continuation in x3; the resumer's `resume` gets
/// the coroutine's new stack pointer in x1.
#[unsafe(naked)]
unsafe extern "C" fn suspend_tail() {
    naked_asm!(
        // Branched to, not called: the caller is the coroutine's function
        // at the continuation (in x3), with the CFA at the current sp. Its
        // own x30 is dead there (`suspend` declares it clobbered), so x30
        // can stand for the continuation.
        ".cfi_startproc",
        ".cfi_register x30, x3",
        // Our frame goes just below our stack pointer, once we have left
        // this stack (nothing can overwrite it then).
        "sub x4, sp, #{frame}",
        // Adopt the resumer's stack: the frame is now its `resume` call's.
        "ldr x5, [x1]",
        "mov sp, x5",
        ".cfi_def_cfa sp, {resumer}",
        cfi_resumer_registers!(),
        // Save the continuation, x19 and x29 in our frame.
        "stp x3, x19, [x4]",
        "str x29, [x4, #16]",
        // Hand our stack pointer to `resume`.
        "mov x1, x4",
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
            "b {leave}",
            leave = sym leave,
            in("x0") arg,
            in("x1") link,
            options(noreturn),
        )
    }
}

/// Returns into the resumer of a finished coroutine: branched to by
/// [`finish`] with the argument in x0 and the link slot's address in x1.
#[unsafe(naked)]
unsafe extern "C" fn leave() {
    naked_asm!(
        // Nothing is left to unwind on a finished coroutine's stack (and
        // its function, which may never have saved its own x30, cannot be
        // described without clobbering it): from the first instruction on,
        // the caller is the resumer, at the `resume` call. CFA = [x1] +
        // RESUMER_FRAME: DW_CFA_def_cfa_expression (0x0f), 5 bytes:
        // DW_OP_breg1 (x1) 0, DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_startproc",
        ".cfi_escape 0x0f, 5, 0x71, 0x00, 0x06, 0x23, {resumer}",
        cfi_resumer_registers!(),
        // Adopt the resumer's stack: the same CFA, now relative to sp.
        "ldr x5, [x1]",
        "mov sp, x5",
        ".cfi_def_cfa sp, {resumer}",
        // The null stack pointer that tells `resume` we finished.
        "mov x1, #0",
        // Restore the resumer's registers and return into it.
        return_to_resumer!(),
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}

/// First code of a fresh coroutine, branched to by `enter`
/// ([`TRAMPOLINE_ENTRY`] bytes in) with the data in x19, the entry function
/// in x29, the link slot's address in x1 and the argument in x0; calls
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
        // CFA = [x1] + RESUMER_FRAME: DW_CFA_def_cfa_expression (0x0f),
        // 5 bytes: DW_OP_breg1 (x1) 0, DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 5, 0x71, 0x00, 0x06, 0x23, {resumer}",
        // The resumer's registers, as `enter` saved them.
        ".cfi_offset x29, -32",
        ".cfi_offset x30, -24",
        ".cfi_offset x19, -16",
        // Never runs: the frame starts at the next instruction.
        "udf #0",
        // Keep the link slot's address in our frame, for the unwinder.
        "str x1, [sp]",
        // CFA = [[sp]] + RESUMER_FRAME: DW_CFA_def_cfa_expression, 6 bytes:
        // DW_OP_breg31 (sp) 0, DW_OP_deref twice, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 6, 0x8f, 0x00, 0x06, 0x06, 0x23, {resumer}",
        // entry(arg, data); `arg` is already in x0.
        "mov x1, x19",
        "mov x3, x29",
        // End the frame-pointer chain here.
        "mov x29, #0",
        "blr x3",
        // `entry` never returns.
        "brk #1",
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}
