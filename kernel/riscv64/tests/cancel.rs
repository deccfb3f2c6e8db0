//! Cancelling stackful coroutines without unwinding (`panic = "abort"`):
//! a coroutine waiting in `Suspender::try_wait` is handed `Err(Cancelled)`
//! when its task is cancelled or its executor is dropped, and returns by
//! ordinary code, on its hart: the destructors on its stack run and the
//! stack goes back to the heap.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use core::cell::Cell;
use core::time::Duration;
use xasync_core::coroutine::Cancelled;
use xasync_core::sync::oneshot;
use xasync_kernel_riscv64::{BootInfo, entry, heap, irq, platform, println};

entry!(main);

/// Counts its drops.
struct Probe(Rc<Cell<u32>>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn main(_: &BootInfo) {
    irq::enable();
    let drops = Rc::new(Cell::new(0));
    let cleanups = Rc::new(Cell::new(0));
    let heap_before = heap::stats();
    {
        let executor = platform::executor();
        let spawner = executor.spawner();

        // A JoinHandle::cancel reaches a coroutine waiting on a channel.
        let (_never, rx) = oneshot::channel::<u32>();
        let (probe, c) = (Probe(drops.clone()), cleanups.clone());
        let task = executor.spawn_coroutine(move |s| {
            let _probe = probe;
            match s.try_wait(rx) {
                Ok(_) => unreachable!("nobody sends"),
                Err(Cancelled) => {
                    c.set(c.get() + 1);
                    "cancelled"
                }
            }
        });
        executor.run_until_idle();
        assert_eq!(drops.get(), 0, "suspended, alive");
        task.cancel();
        executor.run_until_idle();
        assert!(executor.block_on(task).unwrap_err().is_cancelled());
        assert_eq!((drops.get(), cleanups.get()), (1, 1));
        println!("cancel: a cancelled coroutine got Err(Cancelled), cleaned up and returned");

        // Dropping the executor reaches coroutines sleeping on its timers.
        for _ in 0..10 {
            let (probe, c, spawner) = (Probe(drops.clone()), cleanups.clone(), spawner.clone());
            executor
                .spawn_coroutine(move |s| {
                    let _probe = probe;
                    if s.try_wait(spawner.sleep(Duration::from_secs(3600)))
                        .is_err()
                    {
                        c.set(c.get() + 1);
                    }
                })
                .detach();
        }
        executor.run_until_idle();
        assert_eq!(drops.get(), 1);
    }
    assert_eq!((drops.get(), cleanups.get()), (11, 11));
    let heap_after = heap::stats();
    println!(
        "cancel: dropping the executor cancelled 10 sleeping coroutines the same way; heap in \
         use before {} B, after {} B",
        heap_before.used, heap_after.used
    );
    assert_eq!(heap_after, heap_before, "a cancelled coroutine leaked");
    let _ = irq::disable();
}
