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
//! Kernels: with the `d` extension the switch executes `fsd`/`fld`, so the
//! FPU must be enabled (`sstatus.FS != Off`) before the first switch.

use super::{EntryFn, put};
use core::arch::naked_asm;
use core::ptr::NonNull;

/// Stack tops must be 16-byte aligned (the RISC-V psABI's stack alignment).
pub(crate) const STACK_ALIGNMENT: usize = 16;

/// Size of the register frame `switch` saves.
#[cfg(target_feature = "d")]
const FRAME: usize = 208;
#[cfg(not(target_feature = "d"))]
const FRAME: usize = 112;

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
#[cfg(target_feature = "d")]
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
#[cfg(not(target_feature = "d"))]
macro_rules! float_regs {
    ($op:literal) => {
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
