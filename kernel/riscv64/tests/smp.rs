//! Two harts (`-smp 2`), one executor each; work crosses between them
//! through `Spawner`s, and the kick is an IPI.
//!
//! * Jobs in batches: the boot hart spawns each job's first half onto the
//!   other hart (as a future or a coroutine); there it hands the second
//!   half back to the boot hart and waits for it. Every half checks the
//!   hart it runs on. The other hart has no timer running: between
//!   batches it sleeps in `wfi` and only an IPI can wake it, so a lost
//!   kick hangs the test (and the runner fails it).
//! * A coroutine on the boot hart streams values through a channel to a
//!   task on the other hart, which answers through another: wake-ups cross
//!   the harts in both directions.
//! * A task on the boot hart sleeps on the *other* hart's timer: its
//!   registration kicks that hart, whose alarm then wakes it across harts.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::executor::Stats;
use xasync_core::sync::{channel, oneshot};
use xasync_kernel_riscv64::platform::{self, Spawner};
use xasync_kernel_riscv64::sync::IrqSpinLock;
use xasync_kernel_riscv64::{BootInfo, entry, hart, irq, println, smp, timer};

entry!(main, smp = 2);

const ROUNDS: u64 = 25;
const BATCH: u64 = 8;

/// What the two harts share.
struct Shared {
    /// The other hart's spawner, once its executor exists.
    spawner: IrqSpinLock<Option<Spawner>>,
    /// Tells the other hart's executor to return.
    stop: IrqSpinLock<Option<oneshot::Sender<()>>>,
    /// The other hart's executor stats, when it is done.
    stats: IrqSpinLock<Option<Stats>>,
    done: AtomicBool,
    /// Job halves run, per role (0: boot hart, 1: the other).
    ran: [AtomicU64; 2],
}

fn main(info: &BootInfo) {
    let me = info.hart_id;
    let other = smp::present_harts()
        .find(|&id| id != me)
        .expect("a second hart");
    let shared = Arc::new(Shared {
        spawner: IrqSpinLock::new(None),
        stop: IrqSpinLock::new(None),
        stats: IrqSpinLock::new(None),
        done: AtomicBool::new(false),
        ran: [AtomicU64::new(0), AtomicU64::new(0)],
    });
    let theirs = shared.clone();
    smp::start_hart(other, move || {
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
    let local = executor.spawner();
    let start = timer::uptime();

    // Jobs crossing both harts.
    let mut total = 0;
    for round in 0..ROUNDS {
        let handles: Vec<_> = (0..BATCH)
            .map(|i| spawn_job(&shared, &local, &remote, me, other, round * BATCH + i))
            .collect();
        total += executor.block_on(async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
    }
    let jobs = ROUNDS * BATCH;
    let expected: u64 = (0..jobs).map(|id| id * id + 7).sum();
    let jobs_time = timer::uptime() - start;
    println!(
        "smp: {jobs} jobs crossed both harts in {} us",
        jobs_time.as_micros()
    );
    assert_eq!(total, expected, "a job half was lost or doubled");
    assert_eq!(shared.ran[0].load(Ordering::Relaxed), jobs);
    assert_eq!(shared.ran[1].load(Ordering::Relaxed), jobs);

    // A stream between a coroutine here and a task there.
    let (to_other, from_here) = channel::bounded::<u64>(2);
    let (to_here, from_other) = channel::bounded::<u64>(2);
    let echo = remote.spawn(async move {
        assert_eq!(hart::this().id(), other);
        let mut echoed = 0;
        while let Ok(v) = from_here.recv_async().await {
            to_here.send_async(v * 3).await.unwrap();
            echoed += 1;
        }
        echoed
    });
    let streamer = executor.spawn_coroutine(move |s| {
        let mut sum = 0;
        for v in 1..=100 {
            s.wait(to_other.send_async(v)).unwrap();
            if v % 2 == 0 {
                sum += s.wait(from_other.recv_async()).unwrap();
                sum += s.wait(from_other.recv_async()).unwrap();
            }
        }
        sum
    });
    let sum = executor.block_on(streamer).unwrap();
    let echoed = executor.block_on(echo).unwrap();
    println!("smp: a coroutine on hart {me} streamed 100 values through a task on hart {other}");
    assert_eq!(echoed, 100);
    assert_eq!(sum, 3 * (1..=100).sum::<u64>());

    // A timer on the other hart's wheel, waited for here.
    let before = timer::uptime();
    executor.block_on(remote.sleep(Duration::from_millis(5)));
    let slept = timer::uptime() - before;
    println!(
        "smp: a sleep on hart {other}'s timer ended on hart {me} after {} us",
        slept.as_micros()
    );
    assert!(slept >= Duration::from_millis(5));
    assert!(slept < Duration::from_millis(200), "slept {slept:?}");

    // Stop the other hart, then check what both saw.
    shared.stop.lock().take().unwrap().send(()).unwrap();
    while !shared.done.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let _ = irq::disable();
    let theirs = shared.stats.lock().take().unwrap();
    let ours = executor.stats();
    let ipis = [me, other].map(|id| hart::get(id).expect("a hart").ipis());
    println!("smp: hart {me}: {ours:?}, {} IPIs received", ipis[0]);
    println!("smp: hart {other}: {theirs:?}, {} IPIs received", ipis[1]);
    assert_eq!(
        theirs.spawned,
        jobs + 1,
        "hart {other} received every first half and the echo task"
    );
    assert!(theirs.idles >= ROUNDS, "hart {other} idled between batches");
    assert!(ipis[1] >= ROUNDS, "hart {other} was kicked out of wfi");
    assert!(ipis[0] > 0, "hart {me} was kicked by hart {other}");
    assert_eq!(theirs.timers_fired, 1, "the cross-hart sleep fired there");
}

/// Job `id`: the first half runs on the other hart, which hands the second
/// half back here and waits for it. Even jobs are futures, odd ones
/// coroutines.
fn spawn_job(
    shared: &Arc<Shared>,
    local: &Spawner,
    remote: &Spawner,
    me: usize,
    other: usize,
    id: u64,
) -> xasync_core::task::JoinHandle<u64> {
    let (shared, local) = (shared.clone(), local.clone());
    let second_half = {
        let shared = shared.clone();
        move |half: u64| async move {
            assert_eq!(hart::this().id(), me, "a second half ran on the wrong hart");
            shared.ran[0].fetch_add(1, Ordering::Relaxed);
            half + 7
        }
    };
    if id.is_multiple_of(2) {
        remote.spawn(async move {
            assert_eq!(
                hart::this().id(),
                other,
                "a first half ran on the wrong hart"
            );
            shared.ran[1].fetch_add(1, Ordering::Relaxed);
            local.spawn(second_half(id * id)).await.unwrap()
        })
    } else {
        remote.spawn_coroutine(move |s| {
            assert_eq!(
                hart::this().id(),
                other,
                "a first half ran on the wrong hart"
            );
            shared.ran[1].fetch_add(1, Ordering::Relaxed);
            s.wait(local.spawn(second_half(id * id))).unwrap()
        })
    }
}
