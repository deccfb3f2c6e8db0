//! Starting other harts (SBI HSM) and kicking them (SBI IPIs).
//!
//! OpenSBI boots one hart (any of them: a lottery) into the kernel and keeps
//! the others stopped. [`start_hart`] starts one at `_start_secondary`
//! (boot.rs), which gives it a stack, `tp` and the trap vector, then runs
//! the closure passed here; when the closure returns, the hart stops.

use crate::hart::{self, MAX_HARTS};
use crate::sbi::{self, HartState, SbiError};
use crate::{cpu, irq};
use alloc::boxed::Box;
use core::sync::atomic::{Ordering, fence};

/// What a secondary hart runs.
type Start = Box<dyn FnOnce() + Send>;

/// The hart ids present on the machine (started or not), in order.
pub fn present_harts() -> impl Iterator<Item = usize> {
    (0..MAX_HARTS).filter(|&id| sbi::hart_status(id).is_ok())
}

/// The calling hart's id.
pub fn hart_id() -> usize {
    hart::this().id()
}

/// Starts the stopped hart `hart_id`, running `f` there; the hart stops
/// when `f` returns. `f` starts with interrupts disabled.
///
/// # Errors
///
/// The SBI's answer if the hart does not exist or is not stopped.
pub fn start_hart<F>(hart_id: usize, f: F) -> Result<(), SbiError>
where
    F: FnOnce() + Send + 'static,
{
    if hart_id >= MAX_HARTS {
        return Err(SbiError::INVALID_PARAM);
    }
    if sbi::hart_status(hart_id)? != HartState::Stopped {
        return Err(SbiError::ALREADY_AVAILABLE);
    }
    let start: Box<Start> = Box::new(Box::new(f));
    let opaque = Box::into_raw(start);
    // Publish the closure before the other hart can run.
    fence(Ordering::Release);
    let entry = crate::boot::secondary_entry();
    sbi::hart_start(hart_id, entry, opaque as usize).inspect_err(|_| {
        // SAFETY: the hart did not start, so the box is still ours.
        drop(unsafe { Box::from_raw(opaque) });
    })
}

/// Runs a secondary hart's start closure, then stops the hart.
///
/// # Safety
///
/// `opaque` is the pointer `start_hart` passed for this hart.
pub(crate) unsafe fn run_secondary(opaque: usize) -> ! {
    fence(Ordering::Acquire);
    // SAFETY: `start_hart` leaked this box for us alone.
    let start = unsafe { Box::from_raw(opaque as *mut Start) };
    start();
    let _ = irq::disable();
    hart::this().set_online(false);
    sbi::hart_stop()
}

/// Sends an IPI (a supervisor software interrupt) to hart `hart_id`,
/// ending its `wfi`.
///
/// # Panics
///
/// If the SBI rejects the request (no such hart).
pub fn send_ipi(hart_id: usize) {
    let base = hart_id & !(usize::BITS as usize - 1);
    sbi::send_ipi(1 << (hart_id - base), base).expect("SBI send_ipi failed");
}

/// The IPI interrupt: acknowledges and counts it. Whoever sent it left the
/// work to do in memory (an executor's inbox); the woken hart's idle loop
/// re-checks (see [`crate::platform`]).
pub(crate) fn on_ipi() {
    cpu::clear_pending(cpu::interrupt::SSI);
    hart::this().count_ipi();
}
