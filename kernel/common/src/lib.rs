//! Kernel machinery the bare-metal kernels share, generic over [`Cpu`].
//!
//! * [`preempt`]: preemptible coroutines; their interrupt exit is for
//!   kernels whose interrupt handlers run on the interrupted stack
//!   (aarch64, x86_64), riscv64 has its own.
//! * [`sync`]: a spin lock that masks interrupts while held.
//! * [`heap`]: a global allocator wrapper that masks interrupts.
//! * [`panic`](mod@panic): which CPU reports a panic.
//! * [`qemu`]: the marker an image leaves for its QEMU runner.

#![no_std]

extern crate alloc;

pub mod heap;
pub mod panic;
pub mod preempt;
pub mod qemu;
pub mod sync;

use core::time::Duration;

/// What the shared machinery needs from a kernel's CPU. All of it acts on
/// the calling CPU.
pub trait Cpu: 'static {
    /// The interrupt state [`disable`](Cpu::disable) saves.
    type Saved;
    /// This CPU's id, below [`MAX_CPUS`].
    fn id() -> usize;
    /// Masks interrupts; returns the previous state.
    fn disable() -> Self::Saved;
    /// Puts back a state [`disable`](Cpu::disable) returned.
    fn restore(saved: Self::Saved);
    /// Unmasks interrupts.
    fn enable();
    /// Periodic ticks so far.
    fn ticks() -> u64;
    /// Time since boot.
    fn now() -> Duration;
    /// Starts this CPU's periodic tick, every `period`.
    fn start_tick(period: Duration);
    /// Stops this CPU's periodic tick.
    fn stop_tick();
    /// Whether interrupts were unmasked when [`disable`](Cpu::disable)
    /// returned `saved`.
    fn were_enabled(saved: &Self::Saved) -> bool;
    /// This CPU's preemption state: by default, its entry in a table of
    /// [`MAX_CPUS`] slots; a kernel with per-CPU data of its own keeps it
    /// there.
    fn preempt_slot() -> &'static preempt::Slot {
        preempt::slot(Self::id())
    }
}

/// CPUs the shared per-CPU state has room for.
pub const MAX_CPUS: usize = 8;
