//! riscv64 (LP64D, or LP64 without the `d` extension) context switch.
//!
//! Callee-saved state: `ra`, `s0`–`s11` and, when the `d` extension is
//! present, `fs0`–`fs11`. A suspended context's stack, at its saved stack
//! pointer (higher addresses first):
//!
//! ```text
//!            +------------------------+  <- sp before `call switch` (16-aligned)
//!            | (8 bytes padding)      |
//!   sp + 192 | fs11                   |  \
//!            | ...                    |   } only with the `d` extension
//!   sp + 104 | fs0                    |  /
//!   sp +  96 | s11                    |
//!            | ...                    |
//!   sp +   8 | s0                     |
//!   sp +   0 | ra (resume address)    |  <- saved stack pointer (16-aligned)
//!            +------------------------+
//! ```
//!
//! A fresh stack gets the same frame from [`init_stack`] with `ra` pointing
//! into [`trampoline`], the data in `s1` and the entry function in `s2`.
//!
//! The call frame information (CFI) of every switch follows the plan
//! described in the [parent module](super).
//!
//! Kernels: with the `d` extension (detected by `build.rs`: `riscv64g*`
//! targets) the switches execute `fsd`/`fld` (or make the compiler do so), so the
//! FPU must be enabled (`sstatus.FS != Off`) before the first switch.

use super::{EntryFn, put};
use core::arch::{asm, naked_asm};
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (the RISC-V psABI's stack alignment).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` saves.
#[cfg(riscv_fpu)]
const FRAME: usize = 208;
#[cfg(not(riscv_fpu))]
const FRAME: usize = 112;

/// Where a context starts in its trampoline: past the never-executed
/// `unimp` that keeps "return address minus one" inside the trampoline (see
/// the parent module).
const TRAMPOLINE_ENTRY: usize = 4;

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register; no memory, stack or flags are touched.
    unsafe { asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Makes a valgrind client request; here always answers `default`, as
/// when the program does not run under valgrind. Valgrind 3.19 (what CI
/// installs, see `.ci/sanitize.sh`) has no riscv64 port, so no sequence
/// could be checked against it.
#[inline(always)]
pub(crate) fn client_request(default: usize, _args: &[usize; 6]) -> usize {
    default
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
            put(sp, word, 0); // s0 = 0 ends the frame-pointer chain
        }
        put(sp, 0, trampoline as *const () as usize + TRAMPOLINE_ENTRY); // ra
        put(sp, 2, data as usize); // s1
        put(sp, 3, entry as usize); // s2
        sp
    }
}

/// Expands `$line!(register, offset)` for `ra` and `s0`–`s11` at their
/// offsets from the saved stack pointer, in the layout drawn in the module
/// documentation.
macro_rules! int_regs {
    ($line:ident) => {
        concat!(
            $line!(ra, 0),
            $line!(s0, 8),
            $line!(s1, 16),
            $line!(s2, 24),
            $line!(s3, 32),
            $line!(s4, 40),
            $line!(s5, 48),
            $line!(s6, 56),
            $line!(s7, 64),
            $line!(s8, 72),
            $line!(s9, 80),
            $line!(s10, 88),
            $line!(s11, 96),
        )
    };
}

/// Expands `$line!(register, offset)` for `fs0`–`fs11`; nothing without
/// the `d` extension.
#[cfg(riscv_fpu)]
macro_rules! float_regs {
    ($line:ident) => {
        concat!(
            $line!(fs0, 104),
            $line!(fs1, 112),
            $line!(fs2, 120),
            $line!(fs3, 128),
            $line!(fs4, 136),
            $line!(fs5, 144),
            $line!(fs6, 152),
            $line!(fs7, 160),
            $line!(fs8, 168),
            $line!(fs9, 176),
            $line!(fs10, 184),
            $line!(fs11, 192),
        )
    };
}
#[cfg(not(riscv_fpu))]
macro_rules! float_regs {
    ($line:ident) => {
        ""
    };
}

/// Stores an integer register in its slot of the `switch` frame at sp.
macro_rules! store {
    ($reg:ident, $offset:literal) => {
        concat!("sd ", stringify!($reg), ", ", $offset, "(sp)\n")
    };
}
/// Loads an integer register from its slot of the `switch` frame at sp.
macro_rules! load {
    ($reg:ident, $offset:literal) => {
        concat!("ld ", stringify!($reg), ", ", $offset, "(sp)\n")
    };
}
/// Stores a floating-point register in its slot of the `switch` frame.
macro_rules! store_float {
    ($reg:ident, $offset:literal) => {
        concat!("fsd ", stringify!($reg), ", ", $offset, "(sp)\n")
    };
}
/// Loads a floating-point register from its slot of the `switch` frame.
macro_rules! load_float {
    ($reg:ident, $offset:literal) => {
        concat!("fld ", stringify!($reg), ", ", $offset, "(sp)\n")
    };
}
/// Tells the unwinder where a register is saved: its slot in the `switch`
/// frame at sp, whose CFA is sp + FRAME.
macro_rules! cfi_saved {
    ($reg:ident, $offset:literal) => {
        concat!(
            ".cfi_offset ",
            stringify!($reg),
            ", ",
            $offset,
            " - {frame}\n"
        )
    };
}
/// Tells the unwinder that a register holds the caller's value again.
macro_rules! cfi_restored {
    ($reg:ident, $offset:literal) => {
        concat!(".cfi_restore ", stringify!($reg), "\n")
    };
}

/// Lets the assembler accept `fsd`/`fld` in a naked function, which is
/// assembled without the crate's target features.
#[cfg(riscv_fpu)]
macro_rules! enable_fpu_asm {
    () => {
        ".option push\n.option arch, +d"
    };
}
#[cfg(riscv_fpu)]
macro_rules! restore_asm_options {
    () => {
        ".option pop"
    };
}
#[cfg(not(riscv_fpu))]
macro_rules! enable_fpu_asm {
    () => {
        ""
    };
}
#[cfg(not(riscv_fpu))]
macro_rules! restore_asm_options {
    () => {
        ""
    };
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
        enable_fpu_asm!(),
        // On entry the CFA is sp and the return address is in ra.
        ".cfi_startproc",
        // Save the callee-saved registers below the current stack pointer,
        // each at its place below the CFA.
        "addi sp, sp, -{frame}",
        ".cfi_def_cfa_offset {frame}",
        int_regs!(store),
        int_regs!(cfi_saved),
        float_regs!(store_float),
        float_regs!(cfi_saved),
        // Publish our stack pointer and adopt the target's. Its stack holds
        // the same frame, so from here on the same rules describe the
        // target, whose `switch` caller an unwinder now finds.
        "sd sp, 0(a1)",
        "mv sp, a2",
        // Restore the target's registers (their slots stay valid until the
        // frame is dropped).
        int_regs!(load),
        float_regs!(load_float),
        // Drop the frame: every register holds the caller's value again.
        "addi sp, sp, {frame}",
        ".cfi_def_cfa_offset 0",
        int_regs!(cfi_restored),
        float_regs!(cfi_restored),
        // `a0` still holds `arg`: it is the target's return value.
        "ret",
        ".cfi_endproc",
        restore_asm_options!(),
        frame = const FRAME,
    )
}

/// First code run on a fresh stack (entered [`TRAMPOLINE_ENTRY`] bytes in):
/// calls `entry(arg, data)`.
///
/// `a0` holds the `arg` of the `switch` that got here; `s1` and `s2` hold the
/// data and entry function stored by [`init_stack`]. The CFI marks the return
/// address undefined so unwinders stop here.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        // The bottom frame of the stack: there is no caller.
        ".cfi_undefined ra",
        // Never runs: the frame starts at the next instruction, 4 bytes on
        // (no compressed encoding).
        ".option push",
        ".option norvc",
        "unimp",
        ".option pop",
        // entry(arg, data); `arg` is already in a0.
        "mv a1, s1",
        "jalr s2",
        // `entry` never returns.
        "unimp",
        ".cfi_endproc",
    )
}

// ---------------------------------------------------------------------------
// Asymmetric switching (coroutines)
//
// `resume` enters the coroutine with a call and `suspend`/`finish` leave
// with the matching `ret`, keeping the return-address stack in step. They
// are inline asm inlined into their callers, so the compiler saves only the
// live callee-saved registers (`s2`–`s11` and `fs0`–`fs11` are declared
// clobbered); `s0` and `s1`, which LLVM reserves, are saved by the naked
// functions `enter`, `suspend_tail` and `leave`, which do all the stack
// switching (see the parent module).
//
// A suspended coroutine's stack, at its saved stack pointer:
//
//            +------------------------+
//   sp + 16  | s1, (pad)              |
//   sp +  0  | continuation, s0       |  <- `enter` jumps to it
//            +------------------------+
//
// While it runs, its link slot holds the resumer's stack pointer, where
// `enter` left the resumer's registers:
//
//            +------------------------+
//   link + 16| s0, ra (return addr)   |  <- `suspend` / `finish` `ret` to ra
//   link +  0| (pad), s1              |
//            +------------------------+
//
// A fresh coroutine's stack holds the same frame with the trampoline as
// continuation, the entry function as s0 and its data as s1, and two more
// words above, where the trampoline keeps the link slot's address.
// ---------------------------------------------------------------------------

/// Expands to an `asm!` with the given template and operands plus the
/// callee-saved registers the compiler must preserve around a switch.
#[cfg(riscv_fpu)]
macro_rules! switch_asm {
    ($($args:tt)*) => {
        asm!(
            $($args)*
            lateout("s2") _, lateout("s3") _, lateout("s4") _, lateout("s5") _,
            lateout("s6") _, lateout("s7") _, lateout("s8") _, lateout("s9") _,
            lateout("s10") _, lateout("s11") _,
            lateout("fs0") _, lateout("fs1") _, lateout("fs2") _, lateout("fs3") _,
            lateout("fs4") _, lateout("fs5") _, lateout("fs6") _, lateout("fs7") _,
            lateout("fs8") _, lateout("fs9") _, lateout("fs10") _, lateout("fs11") _,
            clobber_abi("C"),
        )
    };
}
#[cfg(not(riscv_fpu))]
macro_rules! switch_asm {
    ($($args:tt)*) => {
        asm!(
            $($args)*
            lateout("s2") _, lateout("s3") _, lateout("s4") _, lateout("s5") _,
            lateout("s6") _, lateout("s7") _, lateout("s8") _, lateout("s9") _,
            lateout("s10") _, lateout("s11") _,
            clobber_abi("C"),
        )
    };
}

/// A suspended coroutine's frame: continuation, s0, s1 and padding.
const COROUTINE_FRAME: usize = 32;

/// What `enter` leaves on the resumer's stack: s1, s0, ra and padding. The
/// link slot plus this is the resumer's CFA.
const RESUMER_FRAME: usize = 32;

/// Where the resumer's registers lie below its CFA, in what `enter` left
/// on its stack.
macro_rules! cfi_resumer_registers {
    () => {
        concat!(
            ".cfi_offset ra, -8\n",
            ".cfi_offset s0, -16\n",
            ".cfi_offset s1, -24",
        )
    };
}

/// Restores the resumer's registers from the frame `enter` left at sp and
/// returns into its `resume` (`suspend_tail`, `leave`).
macro_rules! return_to_resumer {
    () => {
        concat!(
            "ld s1, 8(sp)\n",
            ".cfi_restore s1\n",
            "ld s0, 16(sp)\n",
            ".cfi_restore s0\n",
            "ld ra, 24(sp)\n",
            ".cfi_restore ra\n",
            "addi sp, sp, 32\n",
            ".cfi_def_cfa_offset 0\n",
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
        put(sp, 1, entry as usize); // s0
        put(sp, 2, data as usize); // s1
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
    // SAFETY: `enter` saves our s0, s1 and ra on our stack, publishes our
    // stack pointer through `link`, and the coroutine returns here with
    // `ret` after restoring them; all other registers are declared
    // clobbered.
    unsafe {
        switch_asm!(
            // Everything else happens in `enter`, in the coroutine and in
            // its way back: the stack pointer is the same after this call.
            "call {enter}",
            enter = sym enter,
            inlateout("a0") arg => arg_out,
            inlateout("a1") link => sp_out,
            in("a2") sp.as_ptr(),
        );
    }
    (arg_out, sp_out)
}

/// Enters a coroutine, called by [`resume`] with the argument in a0, the
/// link slot's address in a1 and the coroutine's stack pointer in a2;
/// jumps to the coroutine's continuation with a0 and a1 unchanged.
#[unsafe(naked)]
unsafe extern "C" fn enter() {
    naked_asm!(
        // Entered by `resume`'s call: CFA = sp, return address in ra.
        ".cfi_startproc",
        // Save the resumer's ra, s0 and s1.
        "addi sp, sp, -32",
        ".cfi_def_cfa_offset 32",
        "sd ra, 24(sp)",
        ".cfi_offset ra, -8",
        "sd s0, 16(sp)",
        ".cfi_offset s0, -16",
        "sd s1, 8(sp)",
        ".cfi_offset s1, -24",
        // Publish the resumer's stack pointer for `suspend` and `finish`.
        "sd sp, 0(a1)",
        // Load the coroutine's continuation and registers. The CFI still
        // finds the resumer's s0 and s1 in their slots.
        "ld t0, 0(a2)",
        "ld s0, 8(a2)",
        "ld s1, 16(a2)",
        // Adopt the coroutine's stack: the frame is now the coroutine's, at
        // its continuation (held in t0), with its own s0 and s1. ra is dead
        // there (`suspend` declares it clobbered, the trampoline's CFI does
        // not read it), so it can stand for the continuation.
        "addi sp, a2, {frame}",
        ".cfi_def_cfa sp, 0",
        ".cfi_register ra, t0",
        ".cfi_restore s0",
        ".cfi_restore s1",
        // Continue the coroutine: `suspend`'s continuation or the trampoline.
        "jr t0",
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
    // our s0 and s1; every other register is declared clobbered.
    unsafe {
        switch_asm!(
            // Our continuation, where `enter` jumps when we are resumed.
            "la t0, 2f",
            // Save our registers and return into the resumer (`tail` may
            // use t1).
            "tail {tail}",
            // Resumed: sp, s0 and s1 are ours again, a0 is the argument.
            "2:",
            tail = sym suspend_tail,
            inlateout("a0") arg => arg_out,
            in("a1") link,
        );
    }
    arg_out
}

/// Saves the running coroutine's frame and returns into its resumer:
/// jumped to by [`suspend`] with the argument in a0, the link slot's
/// address in a1 and the continuation in t0; the resumer's `resume` gets
/// the coroutine's new stack pointer in a1.
#[unsafe(naked)]
unsafe extern "C" fn suspend_tail() {
    naked_asm!(
        // Jumped to, not called: the caller is the coroutine's function at
        // the continuation (in t0), with the CFA at the current sp. Its own
        // ra is dead there (`suspend` declares it clobbered), so ra can
        // stand for the continuation.
        ".cfi_startproc",
        ".cfi_register ra, t0",
        // Our frame goes just below our stack pointer, once we have left
        // this stack (nothing can overwrite it then).
        "addi a2, sp, -{frame}",
        // Adopt the resumer's stack: the frame is now its `resume` call's.
        "ld sp, 0(a1)",
        ".cfi_def_cfa sp, {resumer}",
        cfi_resumer_registers!(),
        // Save the continuation, s0 and s1 in our frame.
        "sd t0, 0(a2)",
        "sd s0, 8(a2)",
        "sd s1, 16(a2)",
        // Hand our stack pointer to `resume`.
        "mv a1, a2",
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
            // Restore the resumer's registers and return into it (`tail`
            // may use t1).
            "tail {leave}",
            leave = sym leave,
            in("a0") arg,
            in("a1") link,
            options(noreturn),
        )
    }
}

/// Returns into the resumer of a finished coroutine: jumped to by
/// [`finish`] with the argument in a0 and the link slot's address in a1.
#[unsafe(naked)]
unsafe extern "C" fn leave() {
    naked_asm!(
        // Nothing is left to unwind on a finished coroutine's stack (and
        // its function, which may never have saved its own ra, cannot be
        // described without clobbering it): from the first instruction on,
        // the caller is the resumer, at the `resume` call. CFA = [a1] +
        // RESUMER_FRAME: DW_CFA_def_cfa_expression (0x0f), 5 bytes:
        // DW_OP_breg11 (a1) 0, DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_startproc",
        ".cfi_escape 0x0f, 5, 0x7b, 0x00, 0x06, 0x23, {resumer}",
        cfi_resumer_registers!(),
        // Adopt the resumer's stack: the same CFA, now relative to sp.
        "ld sp, 0(a1)",
        ".cfi_def_cfa sp, {resumer}",
        // The null stack pointer that tells `resume` we finished.
        "li a1, 0",
        // Restore the resumer's registers and return into it.
        return_to_resumer!(),
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}

/// First code of a fresh coroutine, jumped to by `enter`
/// ([`TRAMPOLINE_ENTRY`] bytes in) with the entry function in s0, the data
/// in s1, the link slot's address in a1 and the argument in a0; calls
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
        // CFA = [a1] + RESUMER_FRAME: DW_CFA_def_cfa_expression (0x0f),
        // 5 bytes: DW_OP_breg11 (a1) 0, DW_OP_deref, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 5, 0x7b, 0x00, 0x06, 0x23, {resumer}",
        // The resumer's registers, as `enter` saved them.
        cfi_resumer_registers!(),
        // Never runs: the frame starts at the next instruction, 4 bytes on
        // (no compressed encoding).
        ".option push",
        ".option norvc",
        "unimp",
        ".option pop",
        // Keep the link slot's address in our frame, for the unwinder.
        "sd a1, 0(sp)",
        // CFA = [[sp]] + RESUMER_FRAME: DW_CFA_def_cfa_expression, 6 bytes:
        // DW_OP_breg2 (sp) 0, DW_OP_deref twice, DW_OP_plus_uconst.
        ".cfi_escape 0x0f, 6, 0x72, 0x00, 0x06, 0x06, 0x23, {resumer}",
        // entry(arg, data); `arg` is already in a0.
        "mv a1, s1",
        "mv t0, s0",
        // End the frame-pointer chain here.
        "li s0, 0",
        "jalr t0",
        // `entry` never returns.
        "unimp",
        ".cfi_endproc",
        resumer = const RESUMER_FRAME,
    )
}
