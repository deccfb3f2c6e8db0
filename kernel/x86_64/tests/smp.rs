//! Two CPUs (`-smp 2`), one executor each, the second started with
//! INIT-SIPI-SIPI; the kick is a LAPIC IPI. The scenarios are
//! `xasync_kernel_smoke::smp`'s, shared with riscv64 and aarch64: jobs whose halves cross the CPUs in batches, a stream between
//! a coroutine here and a task there, a sleep on the other CPU's timer.
//! The other CPU has no timer armed between batches: it waits in `hlt`
//! and only a kick can wake it, so a lost kick hangs the test (and the
//! runner fails it); this image checks it idled and was kicked.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_core::executor::CpuId;
use xasync_core::executor::LocalExecutor;
use xasync_core::sync::oneshot;
use xasync_kernel_smoke::Out;
use xasync_kernel_smoke::smp::{self, BATCH, Cpus, ROUNDS};
use xasync_kernel_x86_64::platform::Machine;
use xasync_kernel_x86_64::{entry, interrupts, print, println, smp as cpus};

entry!(main, smp = 2);

/// Executor timer resolution.
const TICK: Duration = Duration::from_micros(10);

fn main() {
    let me = Machine.cpu_id();
    let other = 1 - me.min(1);
    let (spawner_tx, spawner_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (stats_tx, stats_rx) = oneshot::channel();
    cpus::start_cpu(other, move || {
        let executor = LocalExecutor::with_tick(Machine, TICK);
        spawner_tx.send(executor.spawner()).unwrap();
        executor.block_on(stop_rx).unwrap();
        stats_tx.send(executor.stats()).unwrap();
    });

    let executor = LocalExecutor::with_tick(Machine, TICK);
    // Woken from the other CPU: the first cross-CPU kick.
    let remote = executor.block_on(spawner_rx).unwrap();
    println!("smp: CPU {me} started CPU {other}; one executor on each");
    let out: Out<'_> = &|args| print!("{args}");
    let cpus = Cpus {
        executor: &executor,
        remote: &remote,
        me,
        other,
        cpu_id: || Machine.cpu_id(),
    };
    smp::jobs_cross_cpus(&cpus, out);
    smp::stream_across_cpus(&cpus, out);
    smp::sleep_on_other_cpu(&cpus, out);

    stop_tx.send(()).unwrap();
    let theirs = executor.block_on(stats_rx).unwrap();
    let ours = executor.stats();
    let kicks = [me, other].map(interrupts::kicks);
    println!("smp: CPU {me}: {ours:?}, {} kicks received", kicks[0]);
    println!("smp: CPU {other}: {theirs:?}, {} kicks received", kicks[1]);
    assert_eq!(
        theirs.spawned,
        ROUNDS * BATCH + 1,
        "CPU {other} received every first half and the echo task"
    );
    assert!(theirs.idles >= ROUNDS, "CPU {other} idled between batches");
    assert!(kicks[1] >= ROUNDS, "CPU {other} was kicked out of hlt");
    assert!(kicks[0] > 0, "CPU {me} was kicked by CPU {other}");
    assert_eq!(theirs.timers_fired, 1, "the cross-CPU sleep fired there");
}
