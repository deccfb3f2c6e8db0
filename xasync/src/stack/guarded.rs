//! Stacks in their own mapping with a guard page below.

use super::region::Region;
use crate::sys::memory::page_size;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use xasync_core::stack::{OverflowCheck, Stack};

/// Guarded stacks alive in the process, each with its own mapping.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many [`GuardedStack`]s (stacks in their own mapping, in use or
/// cached by a pool) are alive in the process: what counts against the
/// mapping budget on kernels without guard regions. Guarded slab stacks
/// are counted by their pool ([`StackPool::counts`](super::StackPool::counts)).
#[inline]
pub fn live_guarded_stacks() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A stack in its own mapping with an inaccessible guard page below it: an
/// overflow faults at once and is reported with the coroutine's name.
///
/// The guard is a kernel guard region where the kernel makes them (Linux
/// 6.13+), so the stack costs one kernel memory mapping; elsewhere it is a
/// protected page, which costs a second one, so that about
/// `vm.max_map_count / 2` (≈ 32,000 by default) can be alive in a process.
/// [`StackPool`](super::StackPool) hands out guarded slab stacks instead
/// where it can.
///
/// ```
/// use xasync::stack::GuardedStack;
/// use xasync_core::stack::Stack;
/// let stack = GuardedStack::new(64 * 1024).unwrap();
/// assert!(stack.size() >= 64 * 1024);
/// ```
#[derive(Debug)]
pub struct GuardedStack {
    region: Region,
}

impl GuardedStack {
    /// Maps a stack of at least `size` usable bytes (rounded up to pages).
    ///
    /// # Errors
    ///
    /// When the kernel refuses the mapping (`ENOMEM` at the mapping limit).
    pub fn new(size: usize) -> io::Result<Self> {
        let page = page_size();
        let usable = size
            .max(xasync_core::stack::MIN_STACK_SIZE)
            .next_multiple_of(page);
        let region = Region::guarded(page + usable, 1)?;
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(GuardedStack { region })
    }
}

// SAFETY: the mapping is owned, page-aligned (so 16-aligned), at least
// MIN_STACK_SIZE above the guard, and the guard page faults on access.
unsafe impl Stack for GuardedStack {
    #[inline]
    fn top(&self) -> NonNull<u8> {
        self.region.stack(0).1
    }

    #[inline]
    fn limit(&self) -> NonNull<u8> {
        self.region.stack(0).0
    }

    fn overflow_check(&self) -> OverflowCheck {
        OverflowCheck::GuardPage
    }
}

impl Drop for GuardedStack {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
