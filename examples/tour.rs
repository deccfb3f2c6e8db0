//! A tour of xasync: `cargo run --release --example tour`.
//!
//! Each section is one of the seed's scenarios, written against the public
//! API only.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;
use xasync::coroutine::{Coroutine, CoroutineOn, CoroutineResult, Fiber, Group};
use xasync::stack::{GuardPolicy, StackConfig, StackPool};

fn main() {
    symmetric_switching();
    counter_that_suspends();
    panics_cross_back();
    a_hundred_thousand_coroutines();
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
        guard: GuardPolicy::Never,
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
