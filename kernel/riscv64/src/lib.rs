//! A small bare-metal riscv64 kernel for QEMU `virt` that runs
//! `xasync-core`'s coroutines, driven by timer interrupts.
//!
//! Each test under `tests/` is its own kernel image: it names its `main`
//! with [`entry!`], and `cargo test` boots it in QEMU through `qemu-run.sh`.
//!
//! * [`boot`]: entry points, per-hart stacks, [`entry!`].
//! * [`hart`]: per-hart state through `tp`.
//! * [`console`]: the UART, [`print!`] and [`println!`].
//! * [`heap`]: the global allocator (interrupt-safe).
//! * [`irq`], [`sync`]: interrupt state, idling, an interrupt-safe spin lock.
//! * [`trap`]: the trap vector.
//! * [`timer`]: time, the periodic SBI timer interrupt, the one-shot alarm.
//! * [`platform`]: xasync-core's kernel contract for this kernel, so that
//!   each hart runs a `LocalExecutor`; [`event`]: waking tasks from
//!   interrupt handlers.
//! * [`preempt`]: preemptible coroutines.
//! * [`smp`]: other harts, IPIs.
//! * [`plic`]: device interrupts; [`virtio`]: what the `virtio-drivers`
//!   crate needs; [`net`]: TCP/IP over virtio-net; [`blk`]: a virtio-blk
//!   disk.
//! * [`sbi`], [`cpu`], [`exit`]: firmware calls, CSRs, leaving QEMU.
#![no_std]

extern crate alloc;

pub mod blk;
pub mod boot;
pub mod console;
pub mod cpu;
pub mod event;
pub mod exit;
pub mod hart;
pub mod heap;
pub mod irq;
pub mod net;
mod panic;
pub mod platform;
pub mod plic;
pub mod preempt;
pub mod sbi;
pub mod smp;
pub mod sync;
pub mod timer;
pub mod trap;
pub mod virtio;

pub use boot::BootInfo;
