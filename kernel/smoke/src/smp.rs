//! Scenarios for two CPUs, one executor each, run by every kernel's `smp`
//! image: work crosses between them through `Spawner`s, and
//! each wake-up for the other CPU kicks it (an IPI, an SGI).
//!
//! * [`jobs_cross_cpus`]: in batches, each job's first half is spawned
//!   onto the other CPU (as a future or a coroutine); there it hands its
//!   second half back and waits for it. Every half checks its CPU.
//! * [`stream_across_cpus`]: a coroutine here streams values through a
//!   task there, which answers through another channel.
//! * [`sleep_on_other_cpu`]: a sleep registered on the other CPU's timer
//!   wheel, awaited here.
//!
//! The kernel starts the other CPU, runs them all ([`run`]) and hands
//! [`check_both`] what only it can see (each CPU's kicks, the other CPU's
//! executor stats), which checks that the other CPU idled between batches
//! and was kicked out of it. Kernels whose `start_cpu` takes any `Send`
//! closure let [`on_two_cpus`] do the starting and stopping too.

use crate::Out;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::executor::{LocalExecutor, Platform, Spawner, Stats};
use xasync_core::sync::{channel, oneshot};
use xasync_core::task::JoinHandle;

/// Rounds of [`jobs_cross_cpus`]; the other CPU idles between them.
pub const ROUNDS: u64 = 25;
/// Jobs per round.
pub const BATCH: u64 = 8;

/// The two CPUs: this one, running `executor`, and the other one, reached
/// through `remote`.
pub struct Cpus<'a, P: Platform> {
    /// This CPU's executor.
    pub executor: &'a LocalExecutor<P>,
    /// The other CPU's executor.
    pub remote: &'a Spawner<P>,
    /// This CPU's id.
    pub me: usize,
    /// The other CPU's id.
    pub other: usize,
    /// The id of the CPU running the caller.
    pub cpu_id: fn() -> usize,
}

/// Runs the three scenarios in order: [`jobs_cross_cpus`],
/// [`stream_across_cpus`], [`sleep_on_other_cpu`].
pub fn run<P: Platform>(cpus: &Cpus<'_, P>, out: Out<'_>) {
    jobs_cross_cpus(cpus, out);
    stream_across_cpus(cpus, out);
    sleep_on_other_cpu(cpus, out);
}

/// Starts the other CPU through `start` (the kernel's `start_cpu`) with an
/// executor from `executor` that runs until this CPU is done, makes one
/// here too, [`run`]s the scenarios between them, and stops the other
/// executor. Returns both executors' stats, this CPU's first.
pub fn on_two_cpus<P: Platform + 'static>(
    (me, other): (usize, usize),
    start: impl FnOnce(Box<dyn FnOnce() + Send>),
    executor: fn() -> LocalExecutor<P>,
    cpu_id: fn() -> usize,
    out: Out<'_>,
) -> (Stats, Stats) {
    let (spawner_tx, spawner_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (stats_tx, stats_rx) = oneshot::channel();
    start(Box::new(move || {
        let executor = executor();
        spawner_tx.send(executor.spawner()).unwrap();
        executor.block_on(stop_rx).unwrap();
        stats_tx.send(executor.stats()).unwrap();
    }));

    let here = executor();
    // Woken from the other CPU: the first cross-CPU kick.
    let remote = here.block_on(spawner_rx).unwrap();
    out(format_args!(
        "smp: CPU {me} started CPU {other}; one executor on each\n"
    ));
    let cpus = Cpus {
        executor: &here,
        remote: &remote,
        me,
        other,
        cpu_id,
    };
    run(&cpus, out);
    stop_tx.send(()).unwrap();
    let theirs = here.block_on(stats_rx).unwrap();
    (here.stats(), theirs)
}

/// After [`run`] on CPUs `me` and `other`: prints both CPUs' executor stats (`ours`, `theirs`) and
/// kicks received (`kicks`, this CPU's first), and checks that the other
/// CPU ran every first half and the echo task, idled between batches and
/// was kicked out of its wait (`wait`, the instruction it idles in) each
/// time, that this CPU was kicked too, and that the cross-CPU sleep fired
/// on the other CPU.
pub fn check_both(
    (me, other): (usize, usize),
    (ours, theirs): (Stats, Stats),
    kicks: [u64; 2],
    wait: &str,
    out: Out<'_>,
) {
    out(format_args!(
        "smp: CPU {me}: {ours:?}, {} kicks received\n",
        kicks[0]
    ));
    out(format_args!(
        "smp: CPU {other}: {theirs:?}, {} kicks received\n",
        kicks[1]
    ));
    assert_eq!(
        theirs.spawned,
        ROUNDS * BATCH + 1,
        "CPU {other} received every first half and the echo task"
    );
    assert!(theirs.idles >= ROUNDS, "CPU {other} idled between batches");
    assert!(kicks[1] >= ROUNDS, "CPU {other} was kicked out of {wait}");
    assert!(kicks[0] > 0, "CPU {me} was kicked by CPU {other}");
    assert_eq!(theirs.timers_fired, 1, "the cross-CPU sleep fired there");
}

/// [`ROUNDS`] × [`BATCH`] jobs cross both CPUs; panics if a half ran on
/// the wrong CPU, or was lost or doubled.
pub fn jobs_cross_cpus<P: Platform>(cpus: &Cpus<'_, P>, out: Out<'_>) {
    let ran: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let local = cpus.executor.spawner();
    let start = local.now();
    let mut total = 0;
    for round in 0..ROUNDS {
        let handles: Vec<_> = (0..BATCH)
            .map(|i| spawn_job(cpus, &local, &ran, round * BATCH + i))
            .collect();
        total += cpus.executor.block_on(async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
    }
    let jobs = ROUNDS * BATCH;
    let expected: u64 = (0..jobs).map(|id| id * id + 7).sum();
    out(format_args!(
        "smp: {jobs} jobs crossed both CPUs in {} us\n",
        (local.now() - start).as_micros()
    ));
    assert_eq!(total, expected, "a job half was lost or doubled");
    assert_eq!(ran[0].load(Ordering::Relaxed), jobs);
    assert_eq!(ran[1].load(Ordering::Relaxed), jobs);
}

/// Job `id`: the first half runs on the other CPU, which hands the second
/// half back here and waits for it. Even jobs are futures, odd ones
/// coroutines.
fn spawn_job<P: Platform>(
    cpus: &Cpus<'_, P>,
    local: &Spawner<P>,
    ran: &Arc<[AtomicU64; 2]>,
    id: u64,
) -> JoinHandle<u64> {
    let (me, other, cpu_id) = (cpus.me, cpus.other, cpus.cpu_id);
    let (ran, local) = (ran.clone(), local.clone());
    let second_half = {
        let ran = ran.clone();
        move |half: u64| async move {
            assert_eq!(cpu_id(), me, "a second half ran on the wrong CPU");
            ran[0].fetch_add(1, Ordering::Relaxed);
            half + 7
        }
    };
    if id.is_multiple_of(2) {
        cpus.remote.spawn(async move {
            assert_eq!(cpu_id(), other, "a first half ran on the wrong CPU");
            ran[1].fetch_add(1, Ordering::Relaxed);
            local.spawn(second_half(id * id)).await.unwrap()
        })
    } else {
        cpus.remote.spawn_coroutine(move |s| {
            assert_eq!(cpu_id(), other, "a first half ran on the wrong CPU");
            ran[1].fetch_add(1, Ordering::Relaxed);
            s.wait(local.spawn(second_half(id * id))).unwrap()
        })
    }
}

/// A coroutine here streams 100 values through a task on the other CPU,
/// which sends each back tripled: wake-ups cross in both directions.
pub fn stream_across_cpus<P: Platform>(cpus: &Cpus<'_, P>, out: Out<'_>) {
    let (other, cpu_id) = (cpus.other, cpus.cpu_id);
    let (to_other, from_here) = channel::bounded::<u64>(2);
    let (to_here, from_other) = channel::bounded::<u64>(2);
    let echo = cpus.remote.spawn(async move {
        assert_eq!(cpu_id(), other);
        let mut echoed = 0;
        while let Ok(v) = from_here.recv_async().await {
            to_here.send_async(v * 3).await.unwrap();
            echoed += 1;
        }
        echoed
    });
    let streamer = cpus.executor.spawn_coroutine(move |s| {
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
    let sum = cpus.executor.block_on(streamer).unwrap();
    let echoed = cpus.executor.block_on(echo).unwrap();
    out(format_args!(
        "smp: a coroutine on CPU {} streamed 100 values through a task on CPU {other}\n",
        cpus.me
    ));
    assert_eq!(echoed, 100);
    assert_eq!(sum, 3 * (1..=100).sum::<u64>());
}

/// A 5 ms sleep on the other CPU's timer wheel, awaited here: its
/// registration kicks that CPU, whose alarm then wakes this one.
pub fn sleep_on_other_cpu<P: Platform>(cpus: &Cpus<'_, P>, out: Out<'_>) {
    let local = cpus.executor.spawner();
    let before = local.now();
    cpus.executor
        .block_on(cpus.remote.sleep(Duration::from_millis(5)));
    let slept = local.now() - before;
    out(format_args!(
        "smp: a sleep on CPU {}'s timer ended on CPU {} after {} us\n",
        cpus.other,
        cpus.me,
        slept.as_micros()
    ));
    assert!(slept >= Duration::from_millis(5));
    assert!(slept < Duration::from_millis(200), "slept {slept:?}");
}
