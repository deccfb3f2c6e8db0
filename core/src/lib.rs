//! The `no_std` core of xasync: everything that needs no operating system.
//!
//! * `arch` (private): the context switch for x86_64, aarch64 and riscv64.
//! * [`stack`]: the [`Stack`](stack::Stack) trait a host implements and a
//!   portable heap stack.
//! * [`coroutine`]: asymmetric coroutines ([`Coroutine`](coroutine::Coroutine),
//!   resumed by a caller, suspended through a [`Yielder`](coroutine::Yielder)).
//! * [`fiber`]: symmetric coroutines that switch directly to one another.
//! * [`time`]: a hierarchical timing wheel over a [`Clock`](time::Clock).
//! * [`sync`]: channels, locks and other waiting primitives as futures,
//!   usable from coroutines, async tasks and threads.
//!
//! The `std` feature adds panic propagation and forced unwinding of dropped
//! coroutines; without it the crate needs only `core` and `alloc`, and
//! builds for bare-metal kernels.
#![cfg_attr(not(loom), no_std)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod arch;
mod context;
pub mod coroutine;
pub mod executor;
pub mod fiber;
mod loom;
mod spin;
pub mod stack;
pub mod sync;
pub mod task;
pub mod time;
mod unwind;
