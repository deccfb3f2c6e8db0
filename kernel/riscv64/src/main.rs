//! The demo kernel (`cargo run`): boots, runs the seed's counter future and
//! a sleeping coroutine on the hart's executor, then two preemptible busy
//! loops that share the CPU through the timer interrupt.

#![no_std]
#![no_main]

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll};
use core::time::Duration;
use xasync_core::stack::HeapStack;
use xasync_kernel_riscv64::preempt::Preemptible;
use xasync_kernel_riscv64::{BootInfo, entry, irq, platform, println, timer};

entry!(main);

static SPINS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Pending until it counted to 3, waking itself each time.
struct Counter(u32);

impl Future for Counter {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.0 += 1;
        println!("demo: the counter future counted {}", self.0);
        if self.0 < 3 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(self.0)
        }
    }
}

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    let counter = executor.spawn(Counter(0));
    let spawner = executor.spawner();
    let sleeper = executor.spawn_coroutine(move |s| {
        s.wait(spawner.sleep(Duration::from_millis(20)));
        println!("demo: the coroutine slept 20 ms on the timer interrupt");
    });
    let printer = executor.spawn(async move {
        println!("demo: the printer got {}", counter.await.unwrap());
    });
    executor.block_on(async {
        printer.await.unwrap();
        sleeper.await.unwrap();
    });

    timer::start_periodic(Duration::from_millis(5));
    let mut spinners: [_; 2] = core::array::from_fn(|i| {
        // SAFETY: this kernel maps no guard pages; the code run on this
        // stack is its own, a few small frames deep.
        Preemptible::new(unsafe { HeapStack::new(16 * 1024) }, move || {
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
    let _ = irq::disable();
    println!("demo: two busy loops that never yield shared the CPU in {slices} time slices");
}
