//! Coroutine stacks on Linux: every one with a guard below it, in slabs of
//! hundreds per mapping where the kernel allows, and a per-thread pool.
//!
//! * Slab stacks: one mapping holds hundreds of stacks. Where the kernel
//!   makes guard regions (Linux 6.13+, `madvise(MADV_GUARD_INSTALL)`), the
//!   page below each stack is one: an overflow faults at once and is
//!   reported with the coroutine's name, and the guards cost no mapping of
//!   their own, so a million guarded coroutines fit within the default
//!   `vm.max_map_count`. Without guard regions, slab stacks only have a
//!   canary, checked at each suspension, and a pool hands them out only
//!   when the program opted in (`unsafe`, see [`GuardPolicy`]).
//! * [`GuardedStack`]: its own mapping with a guard page; what a pool uses
//!   on kernels without guard regions, up to a budget of mappings
//!   ([`GuardPolicy`]), past which it fails with an error naming
//!   `vm.max_map_count`.
//! * [`StackPool`]: reuses stacks (a pop instead of an mmap), and counts
//!   them by kind ([`StackCounts`]).
//!
//! `XASYNC_GUARD_REGIONS=0` in the environment makes xasync behave as on a
//! kernel without guard regions.

mod guarded;
mod pool;
mod region;
mod slab;

pub use guarded::{GuardedStack, live_guarded_stacks};
pub use pool::{
    DEFAULT_STACK_CACHE, DEFAULT_STACK_SIZE, GuardPolicy, PooledStack, StackConfig, StackCounts,
    StackPool,
};
pub use xasync_core::stack::{HeapStack, OverflowCheck, Stack};
