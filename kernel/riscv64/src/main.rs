//! The demo kernel (`cargo run`): boots, then runs the seed's counter as an
//! asymmetric coroutine next to two preemptible busy loops.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::stack::HeapStack;
use xasync_kernel_riscv64::preempt::Preemptible;
use xasync_kernel_riscv64::{BootInfo, entry, println, timer};

entry!(main);

static SPINS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn main(_: &BootInfo) {
    let mut counter = Coroutine::with_stack(HeapStack::new(16 * 1024), |yielder, max: u32| {
        for n in 1..=max {
            yielder.suspend(n);
        }
        "done"
    });
    let mut step = counter.resume(3);
    while let CoroutineResult::Yield(n) = step {
        println!("demo: the counter coroutine yielded {n}");
        step = counter.resume(0);
    }
    println!(
        "demo: the counter coroutine returned {:?}",
        step.as_return()
    );

    timer::start_periodic(Duration::from_millis(5));
    let mut spinners: [_; 2] = core::array::from_fn(|i| {
        Preemptible::new(HeapStack::new(16 * 1024), move || {
            while SPINS[i].load(Ordering::Relaxed) < 2_000_000 {
                SPINS[i].fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let mut slices = 0;
    while spinners.iter().any(|s| !s.done()) {
        for spinner in spinners.iter_mut().filter(|s| !s.done()) {
            spinner.resume();
            slices += 1;
        }
    }
    timer::stop();
    println!("demo: two busy loops that never yield shared the CPU in {slices} time slices");
}
