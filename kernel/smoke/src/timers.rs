//! Scenarios for a kernel whose `Alarm` is a real one-shot timer
//! interrupt and whose `Idle` waits for interrupts (`wfi`): run by the
//! riscv64 and aarch64 `timer_interrupts` images.
//!
//! * [`sleepers_wake_in_deadline_order`]: 48 coroutines and 48 async tasks
//!   sleep different durations, three times each; the CPU idles between
//!   deadlines and each wake-up comes from the alarm. They wake in deadline
//!   order, never early.
//! * [`short_sleeps_lose_no_wakeup`]: 1000 sleeps of 0–20 µs: the alarm
//!   often fires while the executor is deciding to idle; a lost wake-up
//!   hangs (nothing else ends the `wfi`; the runner's timeout fails it).
//!
//! `interrupts` counts the kernel's alarm interrupts so far; `tick` is the
//! executor's timer resolution (deadlines in one tick fire in unspecified
//! order).

use crate::sleepers::{self, Log};
use crate::{Out, in_deadline_order};
use core::time::Duration;
use xasync_core::executor::{LocalExecutor, Platform};

/// 96 sleepers × 3 sleeps wake in deadline order, never early, from the
/// alarm interrupt (see the module documentation).
pub fn sleepers_wake_in_deadline_order<P: Platform>(
    executor: &LocalExecutor<P>,
    tick: Duration,
    interrupts: fn() -> u64,
    out: Out<'_>,
) {
    const SLEEPERS: usize = 96;
    const ROUNDS: usize = 3;
    let spawner = executor.spawner();
    let log = Log::default();
    let (alarms, idles) = (interrupts(), executor.stats().idles);
    let start = spawner.now();
    // 1.0–48.5 ms, a different duration for each pair.
    let durations =
        (0..SLEEPERS as u64).map(|id| Duration::from_micros(1000 + id / 2 * 1000 + id % 2 * 500));
    sleepers::run_all(executor, durations, ROUNDS, &log);
    let elapsed = spawner.now() - start;
    let (alarms, idles) = (interrupts() - alarms, executor.stats().idles - idles);
    let log = log.borrow();
    let worst = log
        .iter()
        .map(|&(_, deadline, woke)| woke.saturating_sub(deadline))
        .max()
        .unwrap_or_default();
    out(format_args!(
        "timer_interrupts: {SLEEPERS} sleepers (half coroutines) x {ROUNDS} sleeps in {} ms: \
         {alarms} alarm interrupts, {idles} idle waits, worst lateness {} us\n",
        elapsed.as_millis(),
        worst.as_micros()
    ));
    assert_eq!(log.len(), SLEEPERS * ROUNDS, "every sleep ended");
    for &(id, deadline, woke) in log.iter() {
        assert!(
            woke >= deadline,
            "sleeper {id} woke early: {woke:?} < {deadline:?}"
        );
    }
    assert!(
        in_deadline_order(&log, tick),
        "sleepers woke out of deadline order"
    );
    // Loose: QEMU's timing stalls on a loaded host. A timer that was not
    // armed shows as a hang (nothing else ends the wfi), not as lateness.
    assert!(
        worst < Duration::from_millis(200),
        "a sleeper woke {worst:?} late"
    );
    assert!(alarms >= 10, "the timer interrupt ended the waits");
    assert!(idles >= 10, "the CPU idled between deadlines");
}

/// 1000 sleeps of 0–20 µs lose no wake-up (see the module documentation).
pub fn short_sleeps_lose_no_wakeup<P: Platform>(
    executor: &LocalExecutor<P>,
    interrupts: fn() -> u64,
    out: Out<'_>,
) {
    const ROUNDS: u64 = 1000;
    let spawner = executor.spawner();
    let (alarms, idles) = (interrupts(), executor.stats().idles);
    let start = spawner.now();
    for round in 0..ROUNDS {
        executor.block_on(spawner.sleep(Duration::from_nanos((round % 40) * 500)));
    }
    out(format_args!(
        "timer_interrupts: {ROUNDS} sleeps of 0-20 us in {} ms ({} alarms, {} idle waits), \
         no wake-up lost\n",
        (spawner.now() - start).as_millis(),
        interrupts() - alarms,
        executor.stats().idles - idles
    ));
}
