//! Two CPUs (`-smp 2`), one executor each, the second started with
//! INIT-SIPI-SIPI; the kick is a LAPIC IPI. The scenarios are
//! `xasync_kernel_smoke::smp`'s, shared with riscv64 and aarch64: jobs
//! whose halves cross the CPUs in batches, a stream between a coroutine
//! here and a task there, a sleep on the other CPU's timer. The other CPU
//! has no timer armed between batches: it waits in `hlt` and only a kick
//! can wake it, so a lost kick hangs the test (and the runner fails it);
//! this image checks it idled and was kicked.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_core::executor::CpuId;
use xasync_core::executor::LocalExecutor;
use xasync_kernel_smoke::Out;
use xasync_kernel_smoke::smp;
use xasync_kernel_x86_64::platform::Machine;
use xasync_kernel_x86_64::{entry, interrupts, print, smp as cpus};

entry!(main, smp = 2);

/// Executor timer resolution.
const TICK: Duration = Duration::from_micros(10);

fn main() {
    let me = Machine.cpu_id();
    let both = (me, 1 - me.min(1));
    let out: Out<'_> = &|args| print!("{args}");
    let stats = smp::on_two_cpus(
        both,
        |f| cpus::start_cpu(both.1, f),
        || LocalExecutor::with_tick(Machine, TICK),
        || Machine.cpu_id(),
        out,
    );
    let kicks = [both.0, both.1].map(interrupts::kicks);
    smp::check_both(both, stats, kicks, "hlt", out);
}
