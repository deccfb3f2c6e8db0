//! Two harts (`-smp 2`), one executor each; work crosses between them
//! through `Spawner`s, and the kick is an IPI. The scenarios are
//! `xasync_kernel_smoke::smp`'s, shared with aarch64: jobs whose halves
//! cross the harts in batches, a stream between a coroutine here and a task
//! there, a sleep on the other hart's timer. The other hart has no timer
//! running: between batches it sleeps in `wfi` and only an IPI can wake it,
//! so a lost kick hangs the test (and the runner fails it); this image
//! checks it idled and was kicked.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use xasync_core::executor::Stats;
use xasync_core::sync::oneshot;
use xasync_kernel_riscv64::platform::{self, Spawner};
use xasync_kernel_riscv64::sync::IrqSpinLock;
use xasync_kernel_riscv64::{BootInfo, entry, hart, irq, print, println, smp as harts};
use xasync_kernel_smoke::Out;
use xasync_kernel_smoke::smp::{self, Cpus};

entry!(main, smp = 2);

/// What the two harts share.
struct Shared {
    /// The other hart's spawner, once its executor exists.
    spawner: IrqSpinLock<Option<Spawner>>,
    /// Tells the other hart's executor to return.
    stop: IrqSpinLock<Option<oneshot::Sender<()>>>,
    /// The other hart's executor stats, when it is done.
    stats: IrqSpinLock<Option<Stats>>,
    done: AtomicBool,
}

fn main(info: &BootInfo) {
    let me = info.hart_id;
    let other = harts::present_harts()
        .find(|&id| id != me)
        .expect("a second hart");
    let shared = Arc::new(Shared {
        spawner: IrqSpinLock::new(None),
        stop: IrqSpinLock::new(None),
        stats: IrqSpinLock::new(None),
        done: AtomicBool::new(false),
    });
    let theirs = shared.clone();
    harts::start_hart(other, move || {
        let executor = platform::executor();
        let (stop_tx, stop_rx) = oneshot::channel();
        *theirs.stop.lock() = Some(stop_tx);
        *theirs.spawner.lock() = Some(executor.spawner());
        irq::enable();
        executor.block_on(stop_rx).unwrap();
        let _ = irq::disable();
        *theirs.stats.lock() = Some(executor.stats());
        drop(executor);
        theirs.done.store(true, Ordering::Release);
    })
    .expect("SBI hart_start");
    let remote = loop {
        if let Some(spawner) = shared.spawner.lock().clone() {
            break spawner;
        }
        core::hint::spin_loop();
    };
    println!("smp: hart {me} started hart {other}; one executor on each");

    let executor = platform::executor();
    irq::enable();
    let out: Out<'_> = &|args| print!("{args}");
    let cpus = Cpus {
        executor: &executor,
        remote: &remote,
        me,
        other,
        cpu_id: || hart::this().id(),
    };
    smp::run(&cpus, out);

    // Stop the other hart, then check what both saw.
    shared.stop.lock().take().unwrap().send(()).unwrap();
    while !shared.done.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let _ = irq::disable();
    let theirs = shared.stats.lock().take().unwrap();
    let ipis = [me, other].map(|id| hart::get(id).expect("a hart").ipis());
    smp::check_both((me, other), (executor.stats(), theirs), ipis, "wfi", out);
}
