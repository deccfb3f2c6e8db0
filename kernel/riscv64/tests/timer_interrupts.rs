//! The SBI timer drives the executor:
//!
//! * 48 coroutines and 48 async tasks sleep different durations, three
//!   times each, on the executor's timing wheel; the hart idles in `wfi`
//!   and each wake-up comes from the one-shot SBI timer (the executor's
//!   `Alarm`). They wake in deadline order, never early.
//! * 1000 sleeps of 0–20 µs: the alarm often fires while the executor is
//!   deciding to idle; a lost wake-up would hang (nothing else would end
//!   the `wfi`, and the runner's timeout fails the test).
//! * A periodic 5 ms tick runs beside the alarm: its hook wakes a task
//!   from the interrupt handler (through an [`IrqEvent`]), ticks are never
//!   early and never drift, and a sleep in between still ends on time.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_kernel_riscv64::event::IrqEvent;
use xasync_kernel_riscv64::platform::{self, Executor};
use xasync_kernel_riscv64::timer::{self, Tick};
use xasync_kernel_riscv64::{BootInfo, entry, irq, println};

entry!(main);

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    sleepers_wake_in_deadline_order(&executor);
    short_sleeps_lose_no_wakeup(&executor);
    periodic_tick_beside_the_alarm(&executor);
    let _ = irq::disable();
}

/// (who, deadline, woke at) in wake order.
type Log = Rc<RefCell<Vec<(usize, Duration, Duration)>>>;

fn sleepers_wake_in_deadline_order(executor: &Executor) {
    const SLEEPERS: usize = 96;
    const ROUNDS: usize = 3;
    let spawner = executor.spawner();
    let log: Log = Rc::default();
    let (alarms, idles) = (timer::alarms(), executor.stats().idles);
    let start = timer::uptime();
    let handles: Vec<_> = (0..SLEEPERS)
        .map(|id| {
            // 1.0–48.5 ms, a different duration for each pair.
            let duration =
                Duration::from_micros(1000 + (id as u64 / 2) * 1000 + (id as u64 % 2) * 500);
            let (spawner, log) = (spawner.clone(), log.clone());
            if id % 2 == 0 {
                executor.spawn(async move {
                    for _ in 0..ROUNDS {
                        let sleep = spawner.sleep(duration);
                        let deadline = sleep.deadline();
                        sleep.await;
                        log.borrow_mut().push((id, deadline, timer::uptime()));
                    }
                })
            } else {
                executor.spawn_coroutine(move |s| {
                    for _ in 0..ROUNDS {
                        let sleep = spawner.sleep(duration);
                        let deadline = sleep.deadline();
                        s.wait(sleep);
                        log.borrow_mut().push((id, deadline, timer::uptime()));
                    }
                })
            }
        })
        .collect();
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let elapsed = timer::uptime() - start;
    let (alarms, idles) = (timer::alarms() - alarms, executor.stats().idles - idles);
    let log = log.borrow();
    let worst = log
        .iter()
        .map(|&(_, deadline, woke)| woke.saturating_sub(deadline))
        .max()
        .unwrap_or_default();
    println!(
        "timer_interrupts: {SLEEPERS} sleepers (half coroutines) x {ROUNDS} sleeps in {} ms: \
         {alarms} alarm interrupts, {idles} idle waits, worst lateness {} us",
        elapsed.as_millis(),
        worst.as_micros()
    );
    assert_eq!(log.len(), SLEEPERS * ROUNDS, "every sleep ended");
    for &(id, deadline, woke) in log.iter() {
        assert!(
            woke >= deadline,
            "sleeper {id} woke early: {woke:?} < {deadline:?}"
        );
    }
    assert!(
        log.windows(2).all(|w| w[0].1 <= w[1].1),
        "sleepers woke out of deadline order"
    );
    // Loose: QEMU's timing stalls on a loaded host. A timer that was not
    // armed shows as a hang (nothing else ends the wfi), not as lateness.
    assert!(
        worst < Duration::from_millis(200),
        "a sleeper woke {worst:?} late"
    );
    assert!(alarms >= 10, "the SBI timer ended the waits");
    assert!(idles >= 10, "the hart idled in wfi between deadlines");
}

fn short_sleeps_lose_no_wakeup(executor: &Executor) {
    const ROUNDS: u64 = 1000;
    let spawner = executor.spawner();
    let (alarms, idles) = (timer::alarms(), executor.stats().idles);
    let start = timer::uptime();
    for round in 0..ROUNDS {
        executor.block_on(spawner.sleep(Duration::from_nanos((round % 40) * 500)));
    }
    println!(
        "timer_interrupts: {ROUNDS} sleeps of 0-20 us in {} ms ({} alarms, {} idle waits), \
         no wake-up lost",
        (timer::uptime() - start).as_millis(),
        timer::alarms() - alarms,
        executor.stats().idles - idles
    );
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
