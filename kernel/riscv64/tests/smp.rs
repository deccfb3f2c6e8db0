//! Two harts (`-smp 2`): the boot hart starts the other with SBI HSM
//! `hart_start`; each runs four worker coroutines of its own, and the two
//! exchange work through lock-free queues, kicking each other with IPIs
//! out of a `wfi` idle loop.
//!
//! Every job makes two hops: the boot hart feeds it, in batches, into the
//! other hart's queue; a worker there runs its first half and hands it
//! back; a worker on the boot hart runs the second half. The test checks
//! that every job ran exactly once on each hart, in several coroutines per
//! hart, with results that add up. Each hart sleeps in `wfi` whenever its
//! queue is empty, with no timer running: only the other hart's IPI can
//! wake it, so a lost kick hangs the test (and the runner fails it).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use xasync_core::coroutine::Coroutine;
use xasync_core::stack::HeapStack;
use xasync_kernel_riscv64::queue::BoundedQueue;
use xasync_kernel_riscv64::{BootInfo, entry, hart, irq, println, smp, timer};

entry!(main, smp = 2);

const JOBS: u64 = 200;
/// Jobs the boot hart feeds at a time, once all earlier ones came back:
/// so the other hart runs dry after each batch and must be kicked.
const BATCH: u64 = 8;
const WORKERS: usize = 4;
/// Role 0 is the boot hart, role 1 the hart it starts.
const ROLES: usize = 2;

#[derive(Clone, Copy, Debug)]
struct Job {
    id: u64,
    /// 0: first half (on role 1), 1: second half (on role 0).
    hop: usize,
}

/// What both harts share.
struct Shared {
    /// Each role's incoming jobs.
    queues: [BoundedQueue<Job>; ROLES],
    /// The hart id playing each role.
    hart_of: [AtomicUsize; ROLES],
    /// Jobs run, per role and worker.
    ran: [[AtomicU64; WORKERS]; ROLES],
    /// Sum of the results of finished jobs.
    sum: AtomicU64,
    finished: AtomicU64,
    /// Tells role 1 to stop; role 1 answers with `stopped`.
    stop: AtomicBool,
    stopped: AtomicBool,
}

/// Each half of job `id` contributes a distinct value.
fn half(id: u64, hop: usize) -> u64 {
    id * id + hop as u64 * 7
}

fn main(info: &BootInfo) {
    let me = info.hart_id;
    let other = smp::present_harts()
        .find(|&id| id != me)
        .expect("a second hart");
    let shared = Arc::new(Shared {
        queues: [BoundedQueue::new(256), BoundedQueue::new(256)],
        hart_of: [AtomicUsize::new(me), AtomicUsize::new(other)],
        ran: Default::default(),
        sum: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
    });
    let start = timer::now();
    let theirs = shared.clone();
    smp::start_hart(other, move || {
        run_hart(&theirs, 1, |s| s.stop.load(Ordering::Acquire), &mut |_| {
            false
        });
        theirs.stopped.store(true, Ordering::Release);
    })
    .expect("SBI hart_start");
    println!("smp: hart {me} started hart {other}");

    let mut next_id = 1;
    let mut feed = |shared: &Shared| {
        let in_flight = next_id - 1 - shared.finished.load(Ordering::Acquire);
        if next_id > JOBS || in_flight > 0 {
            return false;
        }
        for id in next_id..(next_id + BATCH).min(JOBS + 1) {
            let job = Job { id, hop: 0 };
            shared.queues[1].push(job).expect("room for every job");
        }
        next_id += BATCH;
        smp::send_ipi(other);
        true
    };
    run_hart(
        &shared,
        0,
        |s| s.finished.load(Ordering::Acquire) == JOBS,
        &mut feed,
    );
    shared.stop.store(true, Ordering::Release);
    smp::send_ipi(other);
    while !shared.stopped.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let elapsed = timer::duration(timer::now() - start);

    let ran: Vec<Vec<u64>> = shared
        .ran
        .iter()
        .map(|workers| workers.iter().map(|n| n.load(Ordering::Relaxed)).collect())
        .collect();
    for (hart_of, ran) in shared.hart_of.iter().zip(&ran) {
        let hart_id = hart_of.load(Ordering::Relaxed);
        let ipis = hart::get(hart_id).expect("a hart").ipis();
        println!(
            "smp: hart {hart_id} ran {} job halves, per coroutine {ran:?}; {ipis} IPIs received",
            ran.iter().sum::<u64>(),
        );
    }
    println!(
        "smp: {JOBS} jobs crossed both harts in {} us",
        elapsed.as_micros()
    );

    let expected: u64 = (1..=JOBS).map(|id| half(id, 0) + half(id, 1)).sum();
    assert_eq!(shared.finished.load(Ordering::Relaxed), JOBS);
    assert_eq!(
        shared.sum.load(Ordering::Relaxed),
        expected,
        "a job half was lost or doubled"
    );
    for (role, workers) in ran.iter().enumerate() {
        assert_eq!(
            workers.iter().sum::<u64>(),
            JOBS,
            "role {role} ran each job once"
        );
    }
    // Batches of 8 reach the other hart at once, and its round-robin hands
    // them to all its coroutines. (The boot hart's share depends on timing:
    // hand-backs may trickle in one per round, all to its first worker.)
    let busy = ran[1].iter().filter(|&&n| n > 0).count();
    assert!(
        busy >= 2,
        "hart {other}: work went to {busy} coroutine(s) only"
    );
    assert_ne!(
        shared.hart_of[0].load(Ordering::Relaxed),
        shared.hart_of[1].load(Ordering::Relaxed)
    );
    assert!(
        hart::get(other).expect("a hart").ipis() > 0,
        "hart {other} was never kicked"
    );
    assert!(shared.queues.iter().all(BoundedQueue::is_empty));
}

/// One hart's scheduler, until `done`: each round calls `feed` (which
/// reports whether it produced work) and resumes every worker coroutine
/// (created here, so they never leave this hart); after a round without any
/// work it idles in `wfi` until an IPI.
fn run_hart(
    shared: &Arc<Shared>,
    role: usize,
    done: fn(&Shared) -> bool,
    feed: &mut dyn FnMut(&Shared) -> bool,
) {
    let hart_id = hart::this().id();
    assert_eq!(shared.hart_of[role].load(Ordering::Relaxed), hart_id);
    let mut workers: Vec<Coroutine<(), (), (), HeapStack>> = (0..WORKERS)
        .map(|worker| {
            let shared = shared.clone();
            Coroutine::with_stack(HeapStack::new(16 * 1024), move |yielder, ()| {
                loop {
                    if let Some(job) = shared.queues[role].pop() {
                        work(&shared, role, worker, job);
                    }
                    yielder.suspend(());
                }
            })
        })
        .collect();
    while !done(shared) {
        let fed = feed(shared);
        let before: u64 = shared.ran[role]
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum();
        for worker in &mut workers {
            worker.resume(());
        }
        let after: u64 = shared.ran[role]
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum();
        if !fed && after == before {
            irq::idle_until(|| !shared.queues[role].is_empty() || done(shared));
        }
    }
    // The workers are suspended forever: without `std` their stacks are
    // leaked by the core rather than unwound. They hold only `Arc`s.
    core::mem::forget(workers);
}

/// Runs one half of `job` on `role`, handing first halves to the other
/// hart and kicking it.
fn work(shared: &Shared, role: usize, worker: usize, job: Job) {
    assert_eq!(job.hop, 1 - role, "a job reached the wrong hart");
    shared.ran[role][worker].fetch_add(1, Ordering::Relaxed);
    let value = half(job.id, job.hop);
    if job.hop == 0 {
        shared.sum.fetch_add(value, Ordering::Relaxed);
        let next = Job { id: job.id, hop: 1 };
        shared.queues[0].push(next).expect("room for every job");
        smp::send_ipi(shared.hart_of[0].load(Ordering::Relaxed));
    } else {
        shared.sum.fetch_add(value, Ordering::Relaxed);
        shared.finished.fetch_add(1, Ordering::Release);
    }
}
