//! The seed's four scenarios on xasync-core's executor, run by every
//! kernel's `seed` image:
//!
//! (a) the poll-style `Counter` future (pending until it counted to 5,
//!     waking itself each time) chained to a printer task;
//! (b) two coroutines switching symmetrically, inside a stackful task;
//! (c) a coroutine sleeping on timer interrupts through the executor's
//!     timers (`xasync(delay); other_action(); xawait(frame)`);
//! (d) a coroutine and an async task exchanging values through a
//!     `core::sync::channel`.
//!
//! `interrupts` counts the kernel's alarm interrupts so far.

use crate::Out;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use xasync_core::executor::{LocalExecutor, Platform, Spawner};
use xasync_core::fiber::{Fiber, Group};
use xasync_core::stack::HeapStack;
use xasync_core::sync::channel;
use xasync_core::task::stackful::Suspender;

/// Runs the four scenarios on `executor` (interrupts enabled); panics on
/// a failure.
pub fn run<P: Platform>(executor: &LocalExecutor<P>, interrupts: fn() -> u64, out: Out<'_>) {
    counter_then_printer(executor, out);
    symmetric_coroutines(executor, out);
    sleeping_coroutine(executor, interrupts, out);
    coroutine_and_task_exchange_values(executor, out);
    out(format_args!(
        "seed: executor stats {:?}\n",
        executor.stats()
    ));
}

/// The seed's `Counter`: each poll counts one step; until it reaches 5 it
/// asks to be polled again (wakes itself) and answers "wait".
struct Counter {
    count: u32,
    polls: Rc<Cell<u32>>,
}

impl Future for Counter {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls.set(self.polls.get() + 1);
        self.count += 1;
        if self.count < 5 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(self.count)
        }
    }
}

/// (a) Two counters joined, then chained to a printer task.
fn counter_then_printer<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let polls = Rc::new(Cell::new(0));
    let counter = |polls: &Rc<Cell<u32>>| Counter {
        count: 0,
        polls: polls.clone(),
    };
    let first = executor.spawn(counter(&polls));
    let second = executor.spawn(counter(&polls));
    // Then: the printer runs once both counters are done (join). It hands
    // its line back (tasks are `'static`; the console is borrowed here).
    let printer = executor.spawn(async move {
        let (a, b) = (first.await.unwrap(), second.await.unwrap());
        (a, b)
    });
    let (a, b) = executor.block_on(printer).unwrap();
    out(format_args!(
        "seed (a): the counters counted to {a} and {b}; the printer ran after them\n"
    ));
    assert_eq!(a + b, 10);
    assert_eq!(polls.get(), 10, "each counter is polled 5 times");
}

/// (b) The seed's symmetric test, run by a stackful task: a `count` fiber
/// and the base switch back and forth, the counter going 1 → 2 → 3 → 4.
fn symmetric_coroutines<P: Platform>(executor: &LocalExecutor<P>, out: Out<'_>) {
    let task = executor.spawn_coroutine(|_| {
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
        let mut seen = Vec::new();
        for _ in 0..3 {
            counter.resume_from(group.base());
            seen.push(count.get());
        }
        counter.resume_from(group.base());
        assert!(counter.is_finished());
        seen
    });
    let seen = executor.block_on(task).unwrap();
    out(format_args!(
        "seed (b): base and count fiber switched symmetrically: count went 1 -> {seen:?}\n"
    ));
    assert_eq!(seen, [2, 3, 4]);
}

/// A plain function that sleeps without blocking the CPU: it runs on a
/// coroutine's stack and suspends it on the executor's timer.
fn delay<P: Platform>(suspender: &Suspender<'_>, spawner: &Spawner<P>) {
    suspender.wait(spawner.sleep(Duration::from_millis(10)));
}

/// (c) `xasync(delay); other_action(); xawait(frame)`: five 10 ms sleeps,
/// each ended by the timer interrupt while the CPU idles.
fn sleeping_coroutine<P: Platform>(
    executor: &LocalExecutor<P>,
    interrupts: fn() -> u64,
    out: Out<'_>,
) {
    let spawner = executor.spawner();
    let now = spawner.clone();
    let (alarms, idles) = (interrupts(), executor.stats().idles);
    let start = spawner.now();
    let frame = executor.spawn_coroutine(move |s| {
        let mut slept = Vec::new();
        for _ in 0..5 {
            let before = spawner.now();
            delay(s, &spawner);
            slept.push(spawner.now() - before);
        }
        slept
    });
    // other_action(): runs while the coroutine sleeps.
    let other = executor.spawn(async { 6 * 7 });
    assert_eq!(executor.block_on(other).unwrap(), 42);
    let slept = executor.block_on(frame).unwrap();
    let elapsed = now.now() - start;
    let (alarms, idles) = (interrupts() - alarms, executor.stats().idles - idles);
    out(format_args!(
        "seed (c): a coroutine slept 5 x 10 ms in {} us: {:?} us each; {alarms} timer \
         interrupts, {idles} idle waits\n",
        elapsed.as_micros(),
        slept.iter().map(Duration::as_micros).collect::<Vec<_>>()
    ));
    for d in &slept {
        assert!(*d >= Duration::from_millis(10), "woke early: {d:?}");
        assert!(*d < Duration::from_millis(200), "woke very late: {d:?}");
    }
    assert!(alarms >= 5, "the timer interrupt ended each sleep");
    assert!(idles >= 5, "the CPU idled while the coroutine slept");
}

/// (d) A coroutine sends 1..=10 through a bounded channel; an async task
/// answers each with its square through a rendezvous channel.
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
        let mut served = 0;
        while let Ok(i) = from_coroutine.recv_async().await {
            to_coroutine.send_async(i * i).await.unwrap();
            served += 1;
        }
        served
    });
    let answers = executor.block_on(coroutine).unwrap();
    let served = executor.block_on(task).unwrap();
    out(format_args!(
        "seed (d): the coroutine sent 1..=10, the task answered {answers:?}\n"
    ));
    assert_eq!(served, 10);
    assert_eq!(answers, (1..=10).map(|i| i * i).collect::<Vec<u64>>());
}
