//! What things cost under QEMU (TCG emulation: the numbers are for
//! information only, and this image checks nothing but that the runs end):
//! a coroutine switch, a fiber switch, a task poll, a channel ping-pong
//! between a coroutine and a task, a spawn, and how late timers fire.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use core::cell::Cell;
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::fiber::{Fiber, Group};
use xasync_core::stack::HeapStack;
use xasync_core::sync::channel;
use xasync_kernel_riscv64::platform::{self, Executor};
use xasync_kernel_riscv64::{BootInfo, entry, irq, println, timer};

entry!(main);

const N: u64 = 20_000;

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    report("coroutine resume + suspend", N, coroutine_switch());
    report("fiber switch there and back", N, fiber_switch());
    report("task poll (a yield)", N, task_yield(&executor));
    report(
        "channel ping-pong, coroutine <-> task",
        N / 4,
        ping_pong(&executor),
    );
    report("spawn, run and join a task", N / 4, spawn_join(&executor));
    let (average, worst) = timer_lateness(&executor);
    println!(
        "measure: 20 sleeps of 1 ms ended {} us late on average, {} us at worst",
        average.as_micros(),
        worst.as_micros()
    );
    let _ = irq::disable();
}

fn report(what: &str, ops: u64, elapsed: Duration) {
    println!(
        "measure: {what}: {} ns per op ({ops} in {} us)",
        elapsed.as_nanos() as u64 / ops,
        elapsed.as_micros()
    );
}

/// Times `f`.
fn time(f: impl FnOnce()) -> Duration {
    let start = timer::uptime();
    f();
    timer::uptime() - start
}

fn coroutine_switch() -> Duration {
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut co = Coroutine::with_stack(unsafe { HeapStack::new(16 * 1024) }, |yielder, ()| {
        for _ in 0..N {
            yielder.suspend(());
        }
    });
    let elapsed = time(|| {
        for _ in 0..N {
            assert_eq!(co.resume(()), CoroutineResult::Yield(()));
        }
    });
    assert_eq!(co.resume(()), CoroutineResult::Return(()));
    elapsed
}

fn fiber_switch() -> Duration {
    let group = Group::new();
    let base = group.base().clone();
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let fiber = group.spawn(unsafe { HeapStack::new(16 * 1024) }, move |me: &Fiber| {
        for _ in 0..N {
            base.resume_from(me);
        }
    });
    let elapsed = time(|| {
        for _ in 0..N {
            fiber.resume_from(group.base());
        }
    });
    fiber.resume_from(group.base());
    assert!(fiber.is_finished());
    elapsed
}

fn task_yield(executor: &Executor) -> Duration {
    let task = executor.spawn_coroutine(|s| {
        for _ in 0..N {
            s.yield_now();
        }
    });
    time(|| executor.block_on(task).unwrap())
}

fn ping_pong(executor: &Executor) -> Duration {
    let (ping_tx, ping_rx) = channel::bounded::<u64>(0);
    let (pong_tx, pong_rx) = channel::bounded::<u64>(0);
    let pinger = executor.spawn_coroutine(move |s| {
        for i in 0..N / 4 {
            s.wait(ping_tx.send_async(i)).unwrap();
            assert_eq!(s.wait(pong_rx.recv_async()), Ok(i));
        }
    });
    let ponger = executor.spawn(async move {
        while let Ok(i) = ping_rx.recv_async().await {
            pong_tx.send_async(i).await.unwrap();
        }
    });
    time(|| {
        executor.block_on(pinger).unwrap();
        executor.block_on(ponger).unwrap();
    })
}

fn spawn_join(executor: &Executor) -> Duration {
    let sum = Rc::new(Cell::new(0));
    let elapsed = time(|| {
        for i in 0..N / 4 {
            let sum = sum.clone();
            let task = executor.spawn(async move { sum.set(sum.get() + i) });
            executor.block_on(task).unwrap();
        }
    });
    assert_eq!(sum.get(), (0..N / 4).sum::<u64>());
    elapsed
}

fn timer_lateness(executor: &Executor) -> (Duration, Duration) {
    let spawner = executor.spawner();
    let (mut total, mut worst) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..20 {
        let sleep = spawner.sleep(Duration::from_millis(1));
        let deadline = sleep.deadline();
        executor.block_on(sleep);
        let late = timer::uptime() - deadline;
        total += late;
        worst = worst.max(late);
    }
    (total / 20, worst)
}
