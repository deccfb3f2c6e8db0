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

use crate::{Out, in_deadline_order};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;
use xasync_core::executor::{LocalExecutor, Platform};

/// (who, deadline, woke at) in wake order.
type Log = Rc<RefCell<Vec<(usize, Duration, Duration)>>>;

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
    let log: Log = Rc::default();
    let (alarms, idles) = (interrupts(), executor.stats().idles);
    let start = spawner.now();
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
                        log.borrow_mut().push((id, deadline, spawner.now()));
                    }
                })
            } else {
                executor.spawn_coroutine(move |s| {
                    for _ in 0..ROUNDS {
                        let sleep = spawner.sleep(duration);
                        let deadline = sleep.deadline();
                        s.wait(sleep);
                        log.borrow_mut().push((id, deadline, spawner.now()));
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
