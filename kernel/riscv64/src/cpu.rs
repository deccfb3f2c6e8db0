//! Supervisor CSRs and the few privileged instructions the kernel uses.
//!
//! Every CSR write here is an `asm!` without `nomem`, so it is also a
//! compiler barrier: memory accesses are not moved across it.

use core::arch::asm;

/// Bits of `sstatus`.
pub mod sstatus {
    /// Supervisor interrupt enable.
    pub const SIE: usize = 1 << 1;
    /// SIE before the last trap; `sret` copies it back to SIE.
    pub const SPIE: usize = 1 << 5;
    /// Privilege before the last trap (1: supervisor); `sret` returns to it.
    pub const SPP: usize = 1 << 8;
    /// Floating-point unit state, two bits (0: off, FPU instructions trap).
    pub const FS: usize = 3 << 13;
    /// `FS` = Initial: the FPU is on.
    pub const FS_INITIAL: usize = 1 << 13;
}

/// Bits of `sie` and `sip` (interrupt enable / pending).
pub mod interrupt {
    /// Supervisor software interrupt (an IPI sent through SBI).
    pub const SSI: usize = 1 << 1;
    /// Supervisor timer interrupt (the SBI timer).
    pub const STI: usize = 1 << 5;
    /// Supervisor external interrupt (the PLIC: device interrupts).
    pub const SEI: usize = 1 << 9;
}

/// Values of `scause`.
pub mod scause {
    /// Set for interrupts, clear for exceptions.
    pub const INTERRUPT: usize = 1 << 63;
    /// Interrupt code: supervisor software interrupt.
    pub const SUPERVISOR_SOFTWARE: usize = 1;
    /// Interrupt code: supervisor timer interrupt.
    pub const SUPERVISOR_TIMER: usize = 5;
    /// Interrupt code: supervisor external interrupt.
    pub const SUPERVISOR_EXTERNAL: usize = 9;
}

/// The `time` CSR: a counter at [`TIMEBASE_HZ`](crate::timer::TIMEBASE_HZ)
/// shared by all harts, zero at machine reset.
#[inline]
pub fn time() -> u64 {
    let value: u64;
    // SAFETY: reading `time` has no side effect (QEMU implements it in the
    // CPU; OpenSBI lets S-mode read it).
    unsafe { asm!("csrr {}, time", out(reg) value, options(nomem, nostack)) };
    value
}

/// The `sstatus` CSR.
#[inline]
pub fn read_sstatus() -> usize {
    let value: usize;
    // SAFETY: reading a CSR of our own privilege level has no side effect.
    unsafe { asm!("csrr {}, sstatus", out(reg) value, options(nostack)) };
    value
}

/// Enables the interrupt sources `bits` (of [`interrupt`]) in `sie`. They
/// are taken once `sstatus.SIE` is set too.
#[inline]
pub fn enable_sources(bits: usize) {
    // SAFETY: the trap vector is installed before any Rust code runs on a
    // hart (see `boot`), so an enabled interrupt is always handled.
    unsafe { asm!("csrs sie, {}", in(reg) bits, options(nostack)) };
}

/// Disables the interrupt sources `bits` (of [`interrupt`]) in `sie`.
#[inline]
pub fn disable_sources(bits: usize) {
    // SAFETY: masking interrupt sources cannot break any invariant.
    unsafe { asm!("csrc sie, {}", in(reg) bits, options(nostack)) };
}

/// Clears pending bits (of [`interrupt`]) in `sip`; only `SSI` is writable
/// from S-mode.
#[inline]
pub fn clear_pending(bits: usize) {
    // SAFETY: acknowledging a pending interrupt cannot break any invariant.
    unsafe { asm!("csrc sip, {}", in(reg) bits, options(nostack)) };
}

/// Waits for an interrupt: returns when one of the sources enabled in `sie`
/// is pending, *even with `sstatus.SIE` clear* (the privileged spec makes
/// `wfi` independent of the global enable). See [`crate::irq`]
/// for the lost-wake-up-free way to use it.
#[inline]
pub fn wfi() {
    // SAFETY: `wfi` is a hint; at worst it returns at once. OpenSBI does not
    // set mstatus.TW, so it does not trap.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

/// Points `stvec` at `entry` in direct mode.
///
/// # Safety
///
/// `entry` must be 4-byte aligned code that handles every trap (see
/// [`crate::trap`]).
pub(crate) unsafe fn set_trap_vector(entry: usize) {
    debug_assert_eq!(entry % 4, 0, "stvec needs a 4-byte aligned entry");
    // SAFETY: forwarded from the caller.
    unsafe { asm!("csrw stvec, {}", in(reg) entry, options(nostack)) };
}
