//! Two CPUs (`-smp 2`), one executor each, started through PSCI; the kick
//! is an SGI. The scenarios are `xasync_kernel_smoke::smp`'s, shared with
//! riscv64: jobs whose halves cross the CPUs in batches, a stream between
//! a coroutine here and a task there, a sleep on the other CPU's timer.
//! The other CPU has no timer armed between batches: it waits in `wfi`
//! and only a kick can wake it, so a lost kick hangs the test (and the
//! runner fails it); this image checks it idled and was kicked.

#![no_std]
#![no_main]

use core::time::Duration;
use xasync_core::executor::LocalExecutor;
use xasync_kernel_aarch64::platform::Machine;
use xasync_kernel_aarch64::{entry, irq, print, smp as cpus};
use xasync_kernel_smoke::Out;
use xasync_kernel_smoke::smp;

entry!(main, smp = 2);

/// Executor timer resolution.
const TICK: Duration = Duration::from_micros(10);

fn main() {
    let both = (irq::cpu_id(), 1 - irq::cpu_id().min(1));
    let out: Out<'_> = &|args| print!("{args}");
    let stats = smp::on_two_cpus(
        both,
        |f| cpus::start_cpu(both.1, f).expect("PSCI CPU_ON"),
        || LocalExecutor::with_tick(Machine, TICK),
        irq::cpu_id,
        out,
    );
    smp::check_both(both, stats, [both.0, both.1].map(irq::kicks), "wfi", out);
}
