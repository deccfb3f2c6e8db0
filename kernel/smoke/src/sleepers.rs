//! Sleepers that log when they wake, for the scenarios that check timers
//! wake them in deadline order and never early: half are async tasks, half
//! coroutines, so both ways of waiting on a sleep are checked.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;
use xasync_core::executor::{LocalExecutor, Platform};

/// (who, deadline, woke at) in wake order.
pub type Log = Rc<RefCell<Vec<(usize, Duration, Duration)>>>;

/// Spawns sleeper `id`, which sleeps `duration` `rounds` times and logs
/// each wake-up in `log`: an async task if `id` is even, a coroutine if it
/// is odd.
pub fn spawn<P: Platform>(
    executor: &LocalExecutor<P>,
    id: usize,
    duration: Duration,
    rounds: usize,
    log: &Log,
) -> xasync_core::task::JoinHandle<()> {
    let (spawner, log) = (executor.spawner(), log.clone());
    if id.is_multiple_of(2) {
        executor.spawn(async move {
            for _ in 0..rounds {
                let sleep = spawner.sleep(duration);
                let deadline = sleep.deadline();
                sleep.await;
                log.borrow_mut().push((id, deadline, spawner.now()));
            }
        })
    } else {
        executor.spawn_coroutine(move |s| {
            for _ in 0..rounds {
                let sleep = spawner.sleep(duration);
                let deadline = sleep.deadline();
                s.wait(sleep);
                log.borrow_mut().push((id, deadline, spawner.now()));
            }
        })
    }
}

/// Spawns a sleeper for each of `durations` (their ids are their indexes)
/// and runs them all to the end.
pub fn run_all<P: Platform>(
    executor: &LocalExecutor<P>,
    durations: impl Iterator<Item = Duration>,
    rounds: usize,
    log: &Log,
) {
    let handles: Vec<_> = durations
        .enumerate()
        .map(|(id, duration)| spawn(executor, id, duration, rounds, log))
        .collect();
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}
