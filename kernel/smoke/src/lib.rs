//! The smoke checks a bare-metal kernel runs to show that xasync-core works
//! on its architecture: the kernel supplies a console (`out`) and its
//! [`Platform`]; [`run`] panics on the first failed check (the kernel's
//! panic handler turns that into a failing exit status).
//!
//! 1. An asymmetric coroutine counts, suspending with each value.
//! 2. The executor: coroutines and tasks sleeping different durations on
//!    the executor's timers, woken in deadline order; round-robin yields.
//! 3. What a switch and a poll cost (for information).
//!
//! The scenarios every kernel runs in an image of the same name: [`seed`]
//! (the seed's four), [`timers`] (timer interrupts), [`smp`] (two CPUs),
//! [`preempt`] (preemption).

#![no_std]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::executor::{LocalExecutor, Platform};
use xasync_core::stack::HeapStack;

pub mod preempt;
pub mod seed;
mod sleepers;
pub mod smp;
pub mod timers;

/// The executor's timer resolution in [`run`].
const TICK: Duration = Duration::from_micros(100);

/// Lateness that only a stall of the emulated CPU explains (QEMU's thread
/// descheduled on a loaded host); a timely alarm is late by microseconds.
const STALL: Duration = Duration::from_millis(1);

/// Whether `(who, deadline, woke)` entries, in wake order, are in deadline
/// order as far as an executor with timer resolution `tick` orders them:
/// deadlines in the same tick fire in unspecified order. A pair out of
/// order counts only if the sleeper logged second was on time: after a
/// stall of the emulated CPU longer than the gap between two deadlines, a
/// sleep whose deadline passed before its first poll completes at once,
/// ahead of an earlier one still waiting for the timer to fire — both are
/// late, and their order says nothing about the timers (1 run in ~40 of
/// the x86_64 image under a loaded host, before this allowance).
pub fn in_deadline_order(log: &[(usize, Duration, Duration)], tick: Duration) -> bool {
    log.windows(2).all(|w| {
        let (first, second) = (w[0], w[1]);
        first.1 <= second.1 + tick || second.2.saturating_sub(second.1) > STALL
    })
}

/// Where the checks print their lines.
pub type Out<'a> = &'a dyn Fn(fmt::Arguments<'_>);

/// Runs every check on an executor over `platform`, printing a line per
/// check through `out`; panics on a failure.
pub fn run<P: Platform>(platform: P, out: Out<'_>) {
    coroutine_counts(out);
    let executor = LocalExecutor::with_tick(platform, TICK);
    sleepers_wake_in_order(&executor, out);
    yields_take_turns(&executor, out);
    costs(&executor, out);
    out(format_args!(
        "smoke: executor stats {:?}\n",
        executor.stats()
    ));
}

fn coroutine_counts(out: Out<'_>) {
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut counter =
        Coroutine::with_stack(unsafe { HeapStack::new(16 * 1024) }, |yielder, max: u32| {
            for n in 1..=max {
                yielder.suspend(n);
            }
            "done"
        });
    let mut seen = Vec::new();
    let mut step = counter.resume(5);
    while let CoroutineResult::Yield(n) = step {
        seen.push(n);
        step = counter.resume(0);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(step, CoroutineResult::Return("done"));
    out(format_args!(
        "smoke: a coroutine yielded {seen:?} and returned \"done\"\n"
    ));
}

fn sleepers_wake_in_order<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let spawner = executor.spawner();
    let log = sleepers::Log::default();
    let start = spawner.now();
    // 16 different durations, 1.5–9 ms, in a scrambled order.
    let durations = (0..16).map(|id| Duration::from_micros(1500 + (id * 7 % 16) * 500));
    sleepers::run_all(executor, durations, 1, &log);
    let elapsed = executor.platform().now() - start;
    let log = log.borrow();
    assert_eq!(log.len(), 16);
    for &(id, deadline, woke) in log.iter() {
        assert!(woke >= deadline, "sleeper {id} woke early");
    }
    assert!(
        in_deadline_order(&log, TICK),
        "sleepers woke out of deadline order"
    );
    let order: Vec<usize> = log.iter().map(|&(id, ..)| id).collect();
    out(format_args!(
        "smoke: 16 sleepers (half coroutines) woke in deadline order {order:?} within {} us\n",
        elapsed.as_micros()
    ));
}

fn yields_take_turns<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let order = Rc::new(RefCell::new(Vec::new()));
    let handles: Vec<_> = (0..3)
        .map(|id| {
            let order = order.clone();
            executor.spawn_coroutine(move |s| {
                for _ in 0..3 {
                    order.borrow_mut().push(id);
                    s.yield_now();
                }
            })
        })
        .collect();
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), [0, 1, 2].repeat(3));
    out(format_args!(
        "smoke: three yielding coroutines took turns\n"
    ));
}

fn costs<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    const N: u32 = 10_000;
    let clock = executor.platform();
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut co = Coroutine::with_stack(unsafe { HeapStack::new(16 * 1024) }, |yielder, ()| {
        for _ in 0..N {
            yielder.suspend(());
        }
    });
    let start = clock.now();
    for _ in 0..N {
        co.resume(());
    }
    let switch = (clock.now() - start) / N;
    assert_eq!(co.resume(()), CoroutineResult::Return(()));
    let task = executor.spawn_coroutine(|s| {
        for _ in 0..N {
            s.yield_now();
        }
    });
    let start = clock.now();
    executor.block_on(task).unwrap();
    let poll = (clock.now() - start) / N;
    out(format_args!(
        "smoke: under emulation, a coroutine resume + suspend took {} ns, a task poll {} ns\n",
        switch.as_nanos(),
        poll.as_nanos()
    ));
}
