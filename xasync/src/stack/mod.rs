//! Coroutine stacks on Linux: guarded mmap stacks, slab stacks for scale,
//! and a per-thread pool that picks between them.
//!
//! * [`GuardedStack`]: its own mapping with a guard page; an overflow is
//!   caught at the faulting access and reported with the coroutine's name.
//!   Costs two kernel mappings, so ~32,000 at the default `vm.max_map_count`.
//! * Slab stacks (through [`StackPool`] with [`GuardPolicy::Never`] or past
//!   the [`GuardPolicy::UpTo`] threshold): hundreds of stacks per mapping,
//!   overflow caught by a canary check at the next suspension. This is what
//!   lets a process hold a million coroutines at default kernel limits.
//! * [`StackPool`]: reuses stacks (a pop instead of an mmap), guarded while
//!   that is affordable and slab beyond — the default.

mod guarded;
mod pool;
mod slab;

pub use guarded::{GuardedStack, live_guarded_stacks};
pub use pool::{
    DEFAULT_STACK_CACHE, DEFAULT_STACK_SIZE, GuardPolicy, PooledStack, StackConfig, StackPool,
};
pub use xasync_core::stack::{HeapStack, OverflowCheck, Stack};
