//! Synchronization types of the runtime's own lock-free protocols (a
//! worker's park state, the sleeping-worker list), swapped for loom's under
//! `cfg(loom)` so that the models in `runtime::tests` check the real code:
//! `RUSTFLAGS="--cfg loom" cargo test -p xasync --release --lib loom`.
//! Only those protocols import from here. (Under `cfg(loom)` the runtime
//! itself cannot run: loom's types, and the core's, work only inside a
//! model.)

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
