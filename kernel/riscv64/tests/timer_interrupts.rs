//! The SBI timer drives the executor:
//!
//! * The scenarios of `xasync_kernel_smoke::timers`, shared with aarch64:
//!   96 sleepers × 3 sleeps woken in deadline order, never early, by the
//!   one-shot SBI timer (the executor's `Alarm`) while the hart idles in
//!   `wfi`; 1000 sleeps of 0–20 µs that lose no wake-up.
//! * A periodic 5 ms tick runs beside the alarm: its hook wakes a task
//!   from the interrupt handler (through an [`IrqEvent`]), ticks are never
//!   early and never drift, and a sleep in between still ends on time.

#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_kernel_riscv64::event::IrqEvent;
use xasync_kernel_riscv64::platform::{self, Executor};
use xasync_kernel_riscv64::timer::{self, Tick};
use xasync_kernel_riscv64::{BootInfo, entry, irq, print, println};
use xasync_kernel_smoke::{Out, timers};

entry!(main);

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    let out: Out<'_> = &|args| print!("{args}");
    timers::sleepers_wake_in_deadline_order(&executor, platform::TICK, timer::alarms, out);
    timers::short_sleeps_lose_no_wakeup(&executor, timer::alarms, out);
    periodic_tick_beside_the_alarm(&executor);
    let _ = irq::disable();
}

/// Signalled by the tick hook, from the timer interrupt handler.
static TICKED: IrqEvent = IrqEvent::new();
/// (deadline, handler time) of the first ticks.
static TICKS: [(AtomicU64, AtomicU64); 32] = [const { (AtomicU64::new(0), AtomicU64::new(0)) }; 32];

fn on_tick(tick: &Tick) {
    if let Some((deadline, now)) = TICKS.get(tick.count as usize - 1) {
        deadline.store(tick.deadline, Ordering::Relaxed);
        now.store(tick.now, Ordering::Relaxed);
    }
    TICKED.signal();
}

fn periodic_tick_beside_the_alarm(executor: &Executor) {
    const PERIOD: Duration = Duration::from_millis(5);
    const TICKS_WANTED: u64 = 20;
    let spawner = executor.spawner();
    let idles = executor.stats().idles;
    let start = timer::uptime();
    timer::set_tick_hook(Some(on_tick));
    timer::start_periodic(PERIOD);
    // Woken from the interrupt handler, once per tick.
    let ticker = executor.spawn(async {
        let mut wakes = 0;
        let mut seen = 0;
        while seen < TICKS_WANTED {
            seen = TICKED.wait_for(seen + 1).await;
            wakes += 1;
        }
        wakes
    });
    // A sleep between ticks: the alarm and the tick share the SBI timer.
    let sleeper = executor.spawn(async move {
        let before = timer::uptime();
        spawner.sleep(Duration::from_micros(12_300)).await;
        timer::uptime() - before
    });
    let slept = executor.block_on(sleeper).unwrap();
    let wakes = executor.block_on(ticker).unwrap();
    timer::stop();
    timer::set_tick_hook(None);
    let elapsed = timer::uptime() - start;
    let ticks = timer::ticks();
    println!(
        "timer_interrupts: {ticks} ticks of {} ms in {} ms woke a task {wakes} times from the \
         interrupt handler ({} idle waits); a 12.3 ms sleep between them took {} us",
        PERIOD.as_millis(),
        elapsed.as_millis(),
        executor.stats().idles - idles,
        slept.as_micros()
    );
    assert!(TICKED.signals() >= TICKS_WANTED);
    // Signals that land while the task is queued merge into one wake, so
    // only ask for more than one (a stalled host makes ticks bunch up).
    assert!(wakes >= 2, "the interrupt handler woke the task");
    assert!(
        slept >= Duration::from_micros(12_300),
        "the sleep ended early"
    );
    assert!(
        slept < Duration::from_millis(200),
        "the sleep ended late: {slept:?}"
    );
    assert!(elapsed >= PERIOD * (TICKS_WANTED as u32));
    // The ticks themselves: never early, spaced by whole periods.
    let period = timer::cycles(PERIOD);
    let recorded = (ticks as usize).min(TICKS.len());
    let mut worst = 0;
    for k in 0..recorded {
        let deadline = TICKS[k].0.load(Ordering::Relaxed);
        let now = TICKS[k].1.load(Ordering::Relaxed);
        assert!(now >= deadline, "tick {k} fired early");
        worst = worst.max(now - deadline);
        if k > 0 {
            let gap = deadline - TICKS[k - 1].0.load(Ordering::Relaxed);
            assert!(
                gap > 0 && gap.is_multiple_of(period),
                "tick {k} deadline drifted: gap {gap}"
            );
        }
    }
    println!(
        "timer_interrupts: ticks never early, no drift, worst tick latency {} us",
        timer::duration(worst).as_micros()
    );
}
