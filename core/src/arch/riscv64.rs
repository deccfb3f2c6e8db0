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
//! A fresh stack gets the same frame from [`init_stack`] with `ra` pointing at
//! [`trampoline`], the data in `s1` and the entry function in `s2`.
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

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads a register; no memory, stack or flags are touched.
    unsafe { asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
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
            put(sp, word, 0); // s0 = 0 ends the frame-pointer chain
        }
        put(sp, 0, trampoline as *const () as usize); // ra
        put(sp, 2, data as usize); // s1
        put(sp, 3, entry as usize); // s2
        sp
    }
}

/// Stores (`sd`) or loads (`ld`) `ra` and `s0`–`s11` at `sp`, in the layout
/// drawn in the module documentation.
macro_rules! int_regs {
    ($op:literal) => {
        concat!(
            $op,
            " ra, 0(sp)\n",
            $op,
            " s0, 8(sp)\n",
            $op,
            " s1, 16(sp)\n",
            $op,
            " s2, 24(sp)\n",
            $op,
            " s3, 32(sp)\n",
            $op,
            " s4, 40(sp)\n",
            $op,
            " s5, 48(sp)\n",
            $op,
            " s6, 56(sp)\n",
            $op,
            " s7, 64(sp)\n",
            $op,
            " s8, 72(sp)\n",
            $op,
            " s9, 80(sp)\n",
            $op,
            " s10, 88(sp)\n",
            $op,
            " s11, 96(sp)\n",
        )
    };
}

/// Stores (`fsd`) or loads (`fld`) `fs0`–`fs11` at `sp`; nothing without the
/// `d` extension.
#[cfg(riscv_fpu)]
macro_rules! float_regs {
    ($op:literal) => {
        concat!(
            $op,
            " fs0, 104(sp)\n",
            $op,
            " fs1, 112(sp)\n",
            $op,
            " fs2, 120(sp)\n",
            $op,
            " fs3, 128(sp)\n",
            $op,
            " fs4, 136(sp)\n",
            $op,
            " fs5, 144(sp)\n",
            $op,
            " fs6, 152(sp)\n",
            $op,
            " fs7, 160(sp)\n",
            $op,
            " fs8, 168(sp)\n",
            $op,
            " fs9, 176(sp)\n",
            $op,
            " fs10, 184(sp)\n",
            $op,
            " fs11, 192(sp)\n",
        )
    };
}
#[cfg(not(riscv_fpu))]
macro_rules! float_regs {
    ($op:literal) => {
        ""
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
        ".cfi_startproc",
        "addi sp, sp, -{frame}",
        int_regs!("sd"),
        float_regs!("fsd"),
        // Publish our stack pointer and adopt the target's.
        "sd sp, 0(a1)",
        "mv sp, a2",
        int_regs!("ld"),
        float_regs!("fld"),
        "addi sp, sp, {frame}",
        // `a0` still holds `arg`: it is the target's return value.
        "ret",
        ".cfi_endproc",
        restore_asm_options!(),
        frame = const FRAME,
    )
}

/// First code run on a fresh stack: calls `entry(arg, data)`.
///
/// `a0` holds the `arg` of the `switch` that got here; `s1` and `s2` hold the
/// data and entry function stored by [`init_stack`]. The CFI marks the return
/// address undefined so unwinders stop here.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined ra",
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
// `resume` enters the coroutine with `jalr` and `suspend`/`finish` leave with
// the matching `ret`, keeping the return-address stack in step. They are
// inline asm inlined into their callers, so the compiler saves only the live
// callee-saved registers (`s2`–`s11` and `fs0`–`fs11` are declared
// clobbered); `s0` and `s1`, which LLVM reserves, are saved by hand.
//
// A suspended coroutine's stack, at its saved stack pointer:
//
//            +------------------------+
//   sp + 16  | s0, s1                 |
//   sp +  0  | resume address, (pad)  |  <- `resume` loads it and `jalr`s
//            +------------------------+
//
// While it runs, its link slot holds the resumer's stack pointer:
//
//            +------------------------+
//            | s0, s1 (resumer's)     |
//   link ->  | ra (return), (pad)     |  <- `suspend` / `finish` `ret` to ra
//            +------------------------+
//
// A fresh coroutine's stack holds [trampoline, pad, data, entry].
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
    // SAFETY: the coroutine side saves our ra, publishes our stack pointer
    // through `link` and returns here with `ret`; all other registers are
    // declared clobbered.
    unsafe {
        switch_asm!(
            "addi sp, sp, -16",
            "sd s0, 0(sp)",
            "sd s1, 8(sp)",
            "ld t0, 0(a2)",
            "jalr t0",
            "ld s0, 0(sp)",
            "ld s1, 8(sp)",
            "addi sp, sp, 16",
            inlateout("a0") arg => arg_out,
            inlateout("a1") link => sp_out,
            in("a2") sp.as_ptr(),
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
        switch_asm!(
            "addi sp, sp, -32",
            "sd s0, 16(sp)",
            "sd s1, 24(sp)",
            "la t0, 2f",
            "sd t0, 0(sp)",
            // Hand our stack pointer to `resume`, adopt the resumer's.
            "ld t0, 0(a1)",
            "mv a1, sp",
            "mv sp, t0",
            "ld ra, 0(sp)",
            "addi sp, sp, 16",
            "ret",
            // Re-entered by `resume`'s `jalr`: sp is the resumer's stack, ra
            // its return address, a1 its link slot, a2 our stack pointer.
            "2:",
            "addi sp, sp, -16",
            "sd ra, 0(sp)",
            "sd sp, 0(a1)",
            "addi sp, a2, 16",
            "ld s0, 0(sp)",
            "ld s1, 8(sp)",
            "addi sp, sp, 16",
            inlateout("a0") arg => arg_out,
            in("a1") link,
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
            "ld t0, 0(a1)",
            "mv sp, t0",
            "ld ra, 0(sp)",
            "addi sp, sp, 16",
            "li a1, 0",
            "ret",
            in("a0") arg,
            in("a1") link,
            options(noreturn),
        )
    }
}

/// First code of a fresh coroutine, entered by `resume`'s `jalr` with the
/// same registers as `suspend`'s re-entry point; calls `entry(arg, data)`.
#[unsafe(naked)]
unsafe extern "C" fn coroutine_trampoline() {
    naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined ra",
        "addi sp, sp, -16",
        "sd ra, 0(sp)",
        "sd sp, 0(a1)",
        "addi sp, a2, 16",
        // End the frame-pointer chain here.
        "li s0, 0",
        "ld a1, 0(sp)",
        "ld t0, 8(sp)",
        "jalr t0",
        "unimp",
        ".cfi_endproc",
    )
}
