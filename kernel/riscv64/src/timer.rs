//! Time and the periodic timer interrupt.
//!
//! Time is the `time` CSR ([`now`]), counting at [`TIMEBASE_HZ`] on QEMU
//! virt (the DTB's `timebase-frequency`). Each hart can run a periodic
//! interrupt through SBI `set_timer` — deadlines are `start + k * period`,
//! so ticks do not drift, and a late tick is followed by the next future
//! one — or a one-shot interrupt. Every timer interrupt counts as a tick.

use crate::cpu::{self, interrupt};
use crate::hart::{self, HartLocal};
use crate::sbi;
use core::sync::atomic::Ordering;
use core::time::Duration;

/// Frequency of the `time` CSR on QEMU virt: 10 MHz.
pub const TIMEBASE_HZ: u64 = 10_000_000;

/// The `time` CSR: timebase units since machine reset.
#[inline]
pub fn now() -> u64 {
    cpu::time()
}

/// Converts a duration to timebase units (rounding down).
pub const fn cycles(duration: Duration) -> u64 {
    duration.as_secs() * TIMEBASE_HZ + duration.subsec_nanos() as u64 * TIMEBASE_HZ / 1_000_000_000
}

/// Converts timebase units to a duration.
pub const fn duration(cycles: u64) -> Duration {
    Duration::from_nanos(cycles * (1_000_000_000 / TIMEBASE_HZ))
}

/// Time since machine reset.
pub fn uptime() -> Duration {
    duration(now())
}

/// What a tick hook is told.
#[derive(Clone, Copy, Debug)]
pub struct Tick {
    /// The hart that took the interrupt.
    pub hart: usize,
    /// The tick's number on that hart, from 1.
    pub count: u64,
    /// When it was due (`time` units).
    pub deadline: u64,
    /// When the handler ran (`time` units); never before `deadline`.
    pub now: u64,
}

/// A function the timer interrupt calls on each tick, in the handler
/// (interrupts off, on the interrupt stack). It must be short; it may
/// allocate (the allocator disables interrupts) but must not block.
pub type TickHook = fn(&Tick);

/// Starts a timer interrupt every `period` on the calling hart, and enables
/// the timer interrupt source. Interrupts are taken once `sstatus.SIE` is
/// set ([`crate::irq::enable`]).
///
/// # Panics
///
/// If `period` is shorter than one timebase unit.
pub fn start_periodic(period: Duration) {
    let period = cycles(period);
    assert!(period > 0, "a timer period must be at least 100 ns");
    crate::irq::without(|| {
        let timer = &hart::this().timer;
        let deadline = now() + period;
        timer.period.store(period, Ordering::Relaxed);
        timer.deadline.store(deadline, Ordering::Relaxed);
        sbi::set_timer(deadline);
        cpu::enable_sources(interrupt::STI);
    });
}

/// Arms a single timer interrupt on the calling hart for when `time`
/// reaches `deadline` (at once if it has passed), replacing a periodic
/// timer, and enables the timer interrupt source.
pub fn oneshot_at(deadline: u64) {
    crate::irq::without(|| {
        let timer = &hart::this().timer;
        timer.period.store(0, Ordering::Relaxed);
        timer.deadline.store(deadline, Ordering::Relaxed);
        sbi::set_timer(deadline);
        cpu::enable_sources(interrupt::STI);
    });
}

/// Stops the calling hart's timer (periodic or one-shot).
pub fn stop() {
    crate::irq::without(|| {
        let timer = &hart::this().timer;
        cpu::disable_sources(interrupt::STI);
        timer.period.store(0, Ordering::Relaxed);
        timer.deadline.store(u64::MAX, Ordering::Relaxed);
        sbi::set_timer(u64::MAX);
    });
}

/// Timer interrupts taken by the calling hart.
pub fn ticks() -> u64 {
    hart::this().ticks()
}

/// Sets (or clears, with `None`) the calling hart's tick hook.
pub fn set_tick_hook(hook: Option<TickHook>) {
    let raw = hook.map_or(core::ptr::null_mut(), |f| f as *mut ());
    hart::this().timer.hook.store(raw, Ordering::Release);
}

/// The timer interrupt: counts the tick, programs the next one (periodic
/// mode), asks for a reschedule and calls the hook.
pub(crate) fn on_interrupt() {
    let hart: &HartLocal = hart::this();
    let timer = &hart.timer;
    let now = now();
    let deadline = timer.deadline.load(Ordering::Relaxed);
    let period = timer.period.load(Ordering::Relaxed);
    if deadline == u64::MAX {
        // Stale (the timer was stopped): silence it.
        sbi::set_timer(u64::MAX);
        return;
    }
    if now < deadline {
        // Not due yet (not expected from the SBI): re-arm.
        sbi::set_timer(deadline);
        return;
    }
    let count = timer.ticks.fetch_add(1, Ordering::Relaxed) + 1;
    let next = if period == 0 {
        u64::MAX
    } else if deadline + period > now {
        deadline + period
    } else {
        // Late by more than a period: skip to the next future deadline.
        now + period - (now - deadline) % period
    };
    timer.deadline.store(next, Ordering::Relaxed);
    sbi::set_timer(next);
    crate::preempt::request_resched(hart);
    let hook = timer.hook.load(Ordering::Acquire);
    if !hook.is_null() {
        // SAFETY: only `set_tick_hook` stores into `hook`, from a `TickHook`.
        let hook: TickHook = unsafe { core::mem::transmute::<*mut (), TickHook>(hook) };
        hook(&Tick {
            hart: hart.id(),
            count,
            deadline,
            now,
        });
    }
}
