//! The smoke checks a bare-metal kernel runs to show that xasync-core works
//! on its architecture: the kernel supplies a console (`out`) and its
//! [`Platform`]; [`run`] panics on the first failed check (the kernel's
//! panic handler turns that into a failing exit status).
//!
//! 1. An asymmetric coroutine counts, suspending with each value.
//! 2. Two fibers switch symmetrically (the seed's `resumeFrom` test).
//! 3. The executor: the seed's poll-style counter future chained to a
//!    printer task; a coroutine and a task exchanging values through a
//!    channel; coroutines and tasks sleeping different durations on the
//!    executor's timers, woken in deadline order; round-robin yields.
//! 4. What a switch and a poll cost (for information).
//!
//! [`timers`] holds the scenarios for kernels with timer interrupts,
//! [`smp`] those for two CPUs, [`preempt`] those for preemption.

#![no_std]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::executor::{LocalExecutor, Platform};
use xasync_core::fiber::{Fiber, Group};
use xasync_core::stack::HeapStack;
use xasync_core::sync::channel;

pub mod preempt;
pub mod smp;
pub mod timers;

/// Where the checks print their lines.
pub type Out<'a> = &'a dyn Fn(fmt::Arguments<'_>);

/// Runs every check on an executor over `platform`, printing a line per
/// check through `out`; panics on a failure.
pub fn run<P: Platform>(platform: P, out: Out<'_>) {
    coroutine_counts(out);
    fibers_switch_symmetrically(out);
    let executor = LocalExecutor::with_tick(platform, Duration::from_micros(100));
    counter_future_then_printer(&executor, out);
    coroutine_and_task_exchange_values(&executor, out);
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

fn fibers_switch_symmetrically(out: Out<'_>) {
    let count = Rc::new(Cell::new(1));
    let group = Group::new();
    let base = group.base().clone();
    let c = count.clone();
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let counter = group.spawn(unsafe { HeapStack::new(16 * 1024) }, move |me: &Fiber| {
        for _ in 0..3 {
            c.set(c.get() + 1);
            base.resume_from(me);
        }
    });
    for expected in 2..=4 {
        counter.resume_from(group.base());
        assert_eq!(count.get(), expected);
    }
    counter.resume_from(group.base());
    assert!(counter.is_finished());
    out(format_args!(
        "smoke: a fiber and the base switched symmetrically, count 1 -> 4\n"
    ));
}

/// The seed's poll-style task: pending until it counted to 5, waking
/// itself each time.
struct Counter(u32);

impl Future for Counter {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.0 += 1;
        if self.0 < 5 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(self.0)
        }
    }
}

fn counter_future_then_printer<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let polls = executor.stats().polls;
    let counter = executor.spawn(Counter(0));
    let printer = executor.spawn(async move { counter.await.unwrap() * 10 });
    assert_eq!(executor.block_on(printer).unwrap(), 50);
    let polls = executor.stats().polls - polls;
    assert_eq!(polls, 5 + 2, "five counter polls, two printer polls");
    out(format_args!(
        "smoke: the counter future counted to 5, then the printer task printed 50\n"
    ));
}

fn coroutine_and_task_exchange_values<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let (to_task, from_coroutine) = channel::bounded::<u64>(1);
    let (to_coroutine, from_task) = channel::bounded::<u64>(0);
    let coroutine = executor.spawn_coroutine(move |s| {
        let mut answers = Vec::new();
        for i in 1..=10 {
            s.wait(to_task.send_async(i)).unwrap();
            answers.push(s.wait(from_task.recv_async()).unwrap());
        }
        answers
    });
    let task = executor.spawn(async move {
        while let Ok(i) = from_coroutine.recv_async().await {
            to_coroutine.send_async(i * i).await.unwrap();
        }
    });
    let answers = executor.block_on(coroutine).unwrap();
    executor.block_on(task).unwrap();
    assert_eq!(answers, (1..=10).map(|i| i * i).collect::<Vec<u64>>());
    out(format_args!(
        "smoke: a coroutine and a task exchanged 10 values through channels\n"
    ));
}

fn sleepers_wake_in_order<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let spawner = executor.spawner();
    // (who, deadline, woke at)
    let log: Rc<RefCell<Vec<(usize, Duration, Duration)>>> = Rc::default();
    let start = spawner.now();
    let handles: Vec<_> = (0..16)
        .map(|id| {
            // 16 different durations, 1.5–9 ms, in a scrambled order.
            let duration = Duration::from_micros(1500 + (id as u64 * 7 % 16) * 500);
            let (spawner, log) = (spawner.clone(), log.clone());
            if id % 2 == 0 {
                executor.spawn(async move {
                    let sleep = spawner.sleep(duration);
                    let deadline = sleep.deadline();
                    sleep.await;
                    log.borrow_mut().push((id, deadline, spawner.now()));
                })
            } else {
                executor.spawn_coroutine(move |s| {
                    let sleep = spawner.sleep(duration);
                    let deadline = sleep.deadline();
                    s.wait(sleep);
                    log.borrow_mut().push((id, deadline, spawner.now()));
                })
            }
        })
        .collect();
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let elapsed = executor.platform().now() - start;
    let log = log.borrow();
    assert_eq!(log.len(), 16);
    for &(id, deadline, woke) in log.iter() {
        assert!(woke >= deadline, "sleeper {id} woke early");
    }
    assert!(
        log.windows(2).all(|w| w[0].1 <= w[1].1),
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
