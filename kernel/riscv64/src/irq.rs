//! The hart's interrupt-enable state (`sstatus.SIE`).
//!
//! The interrupt state is part of each context's state: code that switches
//! contexts with interrupts in a given state restores its own state when it
//! is switched back to (see [`crate::preempt`] for why that matters).
//!
//! Idling without lost wake-ups is `disable → check → wfi → restore`: an
//! interrupt that arrives after the check stays pending, and a pending
//! enabled source ends `wfi` even with `SIE` clear, so its handler runs
//! right after the restore. The executors do exactly this (see
//! [`crate::platform`]).

use crate::cpu::{self, sstatus};
use core::arch::asm;

/// Interrupt state saved by [`disable`], to hand back to [`restore`].
#[derive(Debug)]
#[must_use = "hand it to irq::restore, or interrupts stay disabled"]
pub struct IrqState {
    was_enabled: bool,
}

impl IrqState {
    /// Whether interrupts were enabled when the state was saved.
    pub fn was_enabled(&self) -> bool {
        self.was_enabled
    }
}

/// Disables interrupts on this hart; returns the previous state.
#[inline]
pub fn disable() -> IrqState {
    let previous: usize;
    // SAFETY: clearing SIE only defers interrupts. No `nomem`: this is a
    // compiler barrier, so protected accesses stay after it.
    unsafe {
        asm!("csrrci {}, sstatus, {sie}", out(reg) previous, sie = const sstatus::SIE, options(nostack))
    };
    IrqState {
        was_enabled: previous & sstatus::SIE != 0,
    }
}

/// Enables interrupts on this hart.
///
/// Enabling interrupts while an [`IrqSpinLock`](crate::sync::IrqSpinLock) is
/// held, or in a preemptible coroutine's switch path, defeats their
/// protection (a deadlock, not undefined behaviour, for the lock; see
/// [`crate::preempt`]).
#[inline]
pub fn enable() {
    // SAFETY: the trap vector is installed before Rust code runs (see
    // `boot`). A compiler barrier, like `disable`.
    unsafe { asm!("csrsi sstatus, {sie}", sie = const sstatus::SIE, options(nostack)) };
}

/// Restores the state saved by [`disable`].
#[inline]
pub fn restore(state: IrqState) {
    if state.was_enabled {
        enable();
    }
}

/// Whether interrupts are enabled on this hart.
#[inline]
pub fn are_enabled() -> bool {
    cpu::read_sstatus() & sstatus::SIE != 0
}

/// Runs `f` with interrupts disabled.
#[inline]
pub fn without<R>(f: impl FnOnce() -> R) -> R {
    let state = disable();
    let result = f();
    restore(state);
    result
}
