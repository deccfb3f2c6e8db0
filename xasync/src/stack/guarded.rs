//! Stacks in their own mapping with a guard page below.

use crate::sys::memory::{self, page_size};
use crate::sys::overflow::{self, GuardRegistration};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use xasync_core::stack::{OverflowCheck, Stack};

/// Guarded stacks alive in the process (each costs two kernel mappings).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many [`GuardedStack`]s are alive in the process.
#[inline]
pub fn live_guarded_stacks() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A stack with an inaccessible guard page below it: an overflow faults at
/// once and is reported with the coroutine's name.
///
/// Each one costs two kernel memory mappings, so about
/// `vm.max_map_count / 2` (≈ 32,000 by default) can be alive in a process;
/// [`StackPool`](super::StackPool) switches to slab stacks before that.
///
/// ```
/// use xasync::stack::GuardedStack;
/// use xasync_core::stack::Stack;
/// let stack = GuardedStack::new(64 * 1024).unwrap();
/// assert!(stack.size() >= 64 * 1024);
/// ```
#[derive(Debug)]
pub struct GuardedStack {
    base: NonNull<u8>,
    len: usize,
    guard: usize,
    _guard: GuardRegistration,
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
        let len = usable + page;
        let base = memory::map(len)?;
        // SAFETY: the first page of our fresh mapping.
        if let Err(e) = unsafe { memory::protect_none(base, page) } {
            // SAFETY: nothing uses the mapping yet.
            unsafe { memory::unmap(base, len) };
            return Err(e);
        }
        // SAFETY: inside the mapping.
        let top = unsafe { base.add(len) };
        let guard = overflow::register(base, page, top);
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(GuardedStack {
            base,
            len,
            guard: page,
            _guard: guard,
        })
    }
}

// SAFETY: the mapping is owned, page-aligned (so 16-aligned), at least
// MIN_STACK_SIZE above the guard, and the guard page is PROT_NONE.
unsafe impl Stack for GuardedStack {
    #[inline]
    fn top(&self) -> NonNull<u8> {
        // SAFETY: one past the end of the mapping.
        unsafe { self.base.add(self.len) }
    }

    #[inline]
    fn limit(&self) -> NonNull<u8> {
        // SAFETY: just above the guard page, inside the mapping.
        unsafe { self.base.add(self.guard) }
    }

    fn overflow_check(&self) -> OverflowCheck {
        OverflowCheck::GuardPage
    }
}

impl Drop for GuardedStack {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the stack is no longer used by anyone (we own it).
        unsafe { memory::unmap(self.base, self.len) }
    }
}

// SAFETY: plain owned memory; the registration is process-wide.
unsafe impl Send for GuardedStack {}
