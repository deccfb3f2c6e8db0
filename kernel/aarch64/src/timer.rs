//! Time and the one-shot alarm, on the generic timer's virtual counter and
//! virtual timer (`CNTVCT_EL0`, `CNTV_CVAL_EL0`, `CNTV_CTL_EL0`; its
//! interrupt is PPI 27).
//!
//! The alarm's interrupt handler only silences the timer and counts: the
//! executor the interrupt woke reads the clock itself.
//!
//! Instead of the alarm, the timer can run a periodic tick
//! ([`start_periodic`]), which asks for a preemption at each tick (see
//! [`crate::preempt`]). The two are not multiplexed: the `preemption`
//! image runs no executor.

use crate::{gic, preempt};
use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

/// The virtual timer's interrupt (a PPI: one per CPU).
pub const VIRTUAL_TIMER_IRQ: u32 = 27;

/// `CNTV_CTL_EL0.ENABLE`.
const ENABLE: u64 = 1;

/// Alarm interrupts taken so far, on all CPUs.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);
/// The tick's period in counts; 0 while it is stopped.
static TICK_PERIOD: AtomicU64 = AtomicU64::new(0);
/// Ticks so far.
static TICKS: AtomicU64 = AtomicU64::new(0);

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
            set_compare_value(u64::try_from(ticks).unwrap_or(u64::MAX));
            set_control(ENABLE);
        }
        None => set_control(0),
    }
}

/// Alarm interrupts taken so far.
pub fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::Relaxed)
}

fn compare_value() -> u64 {
    let value: u64;
    // SAFETY: reading this CPU's timer compare value.
    unsafe { asm!("mrs {}, cntv_cval_el0", out(reg) value, options(nomem, nostack)) };
    value
}

fn set_compare_value(value: u64) {
    // SAFETY: CNTV_CVAL_EL0 is this CPU's timer compare value.
    unsafe { asm!("msr cntv_cval_el0, {}", in(reg) value, options(nomem, nostack)) };
}

/// Starts a periodic tick of `period` on this CPU (instead of the alarm).
pub fn start_periodic(period: Duration) {
    let counts = (period.as_nanos() * u128::from(frequency())).div_ceil(1_000_000_000);
    let counts = u64::try_from(counts).unwrap_or(u64::MAX).max(1);
    TICK_PERIOD.store(counts, Ordering::Relaxed);
    set_compare_value(count() + counts);
    set_control(ENABLE);
}

/// Stops the periodic tick.
pub fn stop() {
    TICK_PERIOD.store(0, Ordering::Relaxed);
    set_control(0);
}

/// Ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The timer interrupt. For the alarm: turn the timer off (its
/// level-triggered line drops) and count. For the tick: move the compare
/// value on by whole periods (no drift) and ask for a preemption.
pub(crate) fn on_interrupt() {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    let period = TICK_PERIOD.load(Ordering::Relaxed);
    if period == 0 {
        set_control(0);
        return;
    }
    let now = count();
    let mut next = compare_value() + period;
    while next <= now {
        next += period;
    }
    set_compare_value(next);
    TICKS.fetch_add(1, Ordering::Relaxed);
    preempt::request_resched();
}
