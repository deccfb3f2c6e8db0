//! A tour of xasync: `cargo run --release --example tour`.
//!
//! Each section is one of the seed's scenarios, written against the public
//! API only.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use xasync::coroutine::{Coroutine, CoroutineOn, CoroutineResult, Fiber, Group};
use xasync::stack::{GuardPolicy, StackConfig, StackPool};
use xasync::sync::channel;
use xasync::time::sleep;
use xasync::{spawn, xasync, xawait};

fn main() {
    xasync_then_xawait();
    a_coroutine_and_a_future_share_a_channel();
    the_poll_style_counter_chained_to_a_printer();
    sleepers_wake_in_order();
    symmetric_switching();
    counter_that_suspends();
    panics_cross_back();
    a_hundred_thousand_coroutines();
}

/// The seed's promise: a plain function that waits, started with `xasync`
/// and awaited only when its result is needed.
fn xasync_then_xawait() {
    println!("== xasync(long_time_action) ... xawait(frame)");
    fn long_time_action() -> u64 {
        sleep(Duration::from_millis(50)); // suspends the coroutine, not the thread
        42
    }
    let start = Instant::now();
    let frame = xasync(long_time_action);
    let other: u64 = (1..=10).sum(); // other_action() runs meanwhile
    let result = xawait(frame);
    println!(
        "   other_action = {other}, long_time_action = {result}, after {:?}",
        start.elapsed()
    );
}

/// A coroutine (plain blocking-style code) sends; an async task receives.
fn a_coroutine_and_a_future_share_a_channel() {
    println!("== a coroutine sends, an async task receives");
    let (tx, rx) = channel::bounded(2);
    let producer = xasync(move || {
        for i in 1..=5 {
            tx.send(i * i).unwrap(); // suspends while the channel is full
        }
    });
    let consumer = spawn(async move {
        let mut got = Vec::new();
        while let Ok(v) = rx.recv_async().await {
            got.push(v);
        }
        got
    });
    producer.join().unwrap();
    println!("   the future received {:?}", xawait(consumer));
}

/// The seed's future mechanism: `poll` answers "wait" until the count is
/// done, and `then` chains a printing step.
fn the_poll_style_counter_chained_to_a_printer() {
    println!("== a poll-style counter chained to a printer");
    struct Counter {
        num: u32,
        max: u32,
    }
    impl Future for Counter {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.num < self.max {
                println!("   counter num = {}", self.num);
                self.num += 1;
                cx.waker().wake_by_ref(); // wait: poll me again
                Poll::Pending
            } else {
                Poll::Ready(self.num) // done
            }
        }
    }
    let chain = spawn(Counter { num: 0, max: 5 }).then(|n| println!("   printer got {n}"));
    xawait(chain);
}

/// Timers: coroutines sleeping different durations wake in order.
fn sleepers_wake_in_order() {
    println!("== sleepers wake in deadline order");
    let (tx, rx) = channel::unbounded();
    for ms in [40u64, 10, 30, 20] {
        let tx = tx.clone();
        xasync(move || {
            sleep(Duration::from_millis(ms));
            tx.send(ms).unwrap();
        })
        .detach();
    }
    drop(tx);
    println!("   woke: {:?} ms", rx.iter().collect::<Vec<_>>());
}

/// The seed's green-thread test: `count` and `base` hand control back and
/// forth directly, and the shared counter reads 2, 3, 4.
fn symmetric_switching() {
    println!("== symmetric switching (the seed's count/base coroutines)");
    let group = Group::new();
    let count = Rc::new(Cell::new(1));
    let (base, c) = (group.base().clone(), count.clone());
    let count_coro = group.spawn(xasync::stack::PooledStack::new(), move |me: &Fiber| {
        for _ in 0..3 {
            c.set(c.get() + 1);
            base.resume_from(me);
        }
    });
    for _ in 0..3 {
        count_coro.resume_from(group.base());
        println!("   base sees count = {}", count.get());
    }
}

/// A counter that suspends between increments, resumed from outside.
fn counter_that_suspends() {
    println!("== a counter that suspends between increments");
    let mut counter = Coroutine::new(|yielder, max: u32| {
        for n in 1..=max {
            yielder.suspend(n);
        }
        "counted"
    });
    let mut input = 5;
    loop {
        match counter.resume(input) {
            CoroutineResult::Yield(n) => println!("   counter num = {n}"),
            CoroutineResult::Return(msg) => {
                println!("   {msg}");
                break;
            }
        }
        input = 0; // ignored after the first resume
    }
}

/// A panic inside a coroutine surfaces in the code that resumed it.
fn panics_cross_back() {
    println!("== a panic travels back to the resumer");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut co: Coroutine<(), (), ()> = Coroutine::new(|_, ()| panic!("inside the coroutine"));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume(())));
    std::panic::set_hook(hook);
    let message = caught
        .unwrap_err()
        .downcast::<&str>()
        .map(|m| *m)
        .unwrap_or("?");
    println!("   resume re-raised: {message:?}; finished = {}", co.done());
}

/// Slab stacks: a hundred thousand suspended coroutines in one process.
fn a_hundred_thousand_coroutines() {
    println!("== 100,000 suspended coroutines on slab stacks");
    let pool = StackPool::new(StackConfig {
        // Guarded where the kernel makes guard regions (Linux 6.13+); on
        // older kernels, canary-checked slab stacks past the mapping budget.
        // SAFETY: these coroutines are a frame or two deep.
        guard: unsafe { GuardPolicy::default().unguarded_beyond() },
        ..StackConfig::default()
    });
    let start = Instant::now();
    let mut all: Vec<_> = (0..100_000u64)
        .map(|i| {
            let mut co = CoroutineOn::with_stack(pool.get().expect("stack"), move |y, ()| {
                y.suspend(());
                i
            });
            co.resume(());
            co
        })
        .collect();
    let created = start.elapsed();
    let sum: u64 = all
        .iter_mut()
        .map(|co| co.resume(()).as_return().unwrap_or(0))
        .sum();
    println!(
        "   created and suspended in {created:?}, resumed to completion in {:?}; sum = {sum}",
        start.elapsed() - created
    );
}
