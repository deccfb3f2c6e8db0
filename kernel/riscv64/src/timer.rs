//! Time, the periodic timer interrupt and the one-shot alarm.
//!
//! Time is the `time` CSR ([`now`]), counting at [`TIMEBASE_HZ`] on QEMU
//! virt (the DTB's `timebase-frequency`). Each hart has one SBI timer,
//! which this module shares between two users:
//!
//! * a **periodic tick** ([`start_periodic`]) for preemption and tick
//!   hooks — deadlines are `start + k * period`, so ticks do not drift, and
//!   a late tick is followed by the next future one;
//! * a **one-shot alarm** ([`set_alarm`]), which is what an executor asks
//!   for before it idles (the kernel's `Alarm` for xasync-core).
//!
//! The SBI timer is always programmed for the earlier of the two.
use crate::cpu::{self, interrupt};
use crate::hart::{self, HartLocal, TimerState};
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

/// Converts a duration to timebase units, rounding up (for deadlines that
/// must not come early), saturating at `u64::MAX`.
pub const fn cycles_ceil(duration: Duration) -> u64 {
    let cycles = (duration.as_nanos() * TIMEBASE_HZ as u128).div_ceil(1_000_000_000);
    if cycles > u64::MAX as u128 {
        u64::MAX
    } else {
        cycles as u64
    }
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

/// Programs the SBI timer for the earlier of the tick and the alarm.
/// Interrupts must be off.
fn program(timer: &TimerState) {
    let tick = timer.deadline.load(Ordering::Relaxed);
    let alarm = timer.alarm.load(Ordering::Relaxed);
    sbi::set_timer(tick.min(alarm));
}

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
        timer.period.store(period, Ordering::Relaxed);
        timer.deadline.store(now() + period, Ordering::Relaxed);
        program(timer);
        cpu::enable_sources(interrupt::STI);
    });
}

/// Stops the calling hart's periodic tick (the alarm stays armed).
pub fn stop() {
    crate::irq::without(|| {
        let timer = &hart::this().timer;
        timer.period.store(0, Ordering::Relaxed);
        timer.deadline.store(u64::MAX, Ordering::Relaxed);
        program(timer);
    });
}

/// Arms the calling hart's one-shot alarm for when `time` reaches
/// `deadline` (at once if it has passed), or disarms it with `None`, and
/// enables the timer interrupt source. The interrupt only ends a `wfi`
/// (and counts in [`alarms`]); it calls no hook.
pub fn set_alarm(deadline: Option<u64>) {
    crate::irq::without(|| {
        let timer = &hart::this().timer;
        timer
            .alarm
            .store(deadline.unwrap_or(u64::MAX), Ordering::Relaxed);
        program(timer);
        cpu::enable_sources(interrupt::STI);
    });
}

/// Periodic ticks taken by the calling hart.
pub fn ticks() -> u64 {
    hart::this().ticks()
}

/// Alarm interrupts taken by the calling hart.
pub fn alarms() -> u64 {
    hart::this().timer.alarms.load(Ordering::Relaxed)
}

/// Sets (or clears, with `None`) the calling hart's tick hook.
pub fn set_tick_hook(hook: Option<TickHook>) {
    let raw = hook.map_or(core::ptr::null_mut(), |f| f as *mut ());
    hart::this().timer.hook.store(raw, Ordering::Release);
}

/// The timer interrupt: consumes the alarm if it is due; if the tick is
/// due, counts it, schedules the next one, asks for a reschedule and calls
/// the hook; then programs the timer for what is left.
pub(crate) fn on_interrupt() {
    let hart: &HartLocal = hart::this();
    let timer = &hart.timer;
    let now = now();
    if timer.alarm.load(Ordering::Relaxed) <= now {
        timer.alarm.store(u64::MAX, Ordering::Relaxed);
        timer.alarms.fetch_add(1, Ordering::Relaxed);
    }
    let deadline = timer.deadline.load(Ordering::Relaxed);
    if deadline <= now {
        tick(hart, deadline, now);
    }
    // Also silences a stale interrupt (the timer was stopped or moved).
    program(timer);
}

/// A periodic tick that was due at `deadline`.
fn tick(hart: &HartLocal, deadline: u64, now: u64) {
    let timer = &hart.timer;
    let period = timer.period.load(Ordering::Relaxed);
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
