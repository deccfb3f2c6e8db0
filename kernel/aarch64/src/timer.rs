//! Time and the one-shot alarm, on the generic timer's virtual counter and
//! virtual timer (`CNTVCT_EL0`, `CNTV_CVAL_EL0`, `CNTV_CTL_EL0`; its
//! interrupt is PPI 27).
//!
//! The alarm's interrupt handler only silences the timer and counts: the
//! executor the interrupt woke reads the clock itself.

use crate::gic;
use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

/// The virtual timer's interrupt (a PPI: one per CPU).
pub const VIRTUAL_TIMER_IRQ: u32 = 27;

/// `CNTV_CTL_EL0.ENABLE`.
const ENABLE: u64 = 1;

/// Alarm interrupts taken so far, on all CPUs.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

/// Lets this CPU's timer interrupt through the GIC (the timer stays off).
pub(crate) fn init() {
    set_control(0);
    gic::enable(VIRTUAL_TIMER_IRQ);
}

fn count() -> u64 {
    let count: u64;
    // SAFETY: reading the virtual count at EL1; the `isb` keeps the read
    // from being hoisted.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) count, options(nomem, nostack)) };
    count
}

fn frequency() -> u64 {
    let frequency: u64;
    // SAFETY: reading the counter frequency has no side effect.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) frequency, options(nomem, nostack)) };
    frequency.max(1)
}

fn set_control(value: u64) {
    // SAFETY: CNTV_CTL_EL0 only controls this CPU's virtual timer.
    unsafe { asm!("msr cntv_ctl_el0, {}", "isb", in(reg) value, options(nomem, nostack)) };
}

/// Time since the counter started.
pub fn uptime() -> Duration {
    let nanos = u128::from(count()) * 1_000_000_000 / u128::from(frequency());
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Arms this CPU's timer to interrupt at `deadline` (rounded up to a
/// count, so never early), or turns it off.
pub fn set_alarm(deadline: Option<Duration>) {
    match deadline {
        Some(deadline) => {
            let ticks = (deadline.as_nanos() * u128::from(frequency())).div_ceil(1_000_000_000);
            let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
            // SAFETY: CNTV_CVAL_EL0 is this CPU's timer compare value.
            unsafe { asm!("msr cntv_cval_el0, {}", in(reg) ticks, options(nomem, nostack)) };
            set_control(ENABLE);
        }
        None => set_control(0),
    }
}

/// Alarm interrupts taken so far.
pub fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::Relaxed)
}

/// The timer interrupt: turn the timer off (its level-triggered line
/// drops) and count.
pub(crate) fn on_interrupt() {
    set_control(0);
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
}
