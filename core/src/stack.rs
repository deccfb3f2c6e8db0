//! Stacks for coroutines: the [`Stack`] trait a host implements, and
//! [`HeapStack`], a portable stack carved from the global allocator.
//!
//! The std crate adds mmap stacks with guard pages, unguarded slab stacks
//! for millions of coroutines, and a pool; a kernel supplies its own.

use alloc::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use core::ptr::NonNull;

/// The value an [`OverflowCheck::Canary`] word holds while the stack below it
/// has not overflowed ("XASYNC!!" in ASCII).
pub const STACK_CANARY: u64 = 0x2121_434e_5953_4158;

/// Smallest stack a coroutine accepts: room for its bookkeeping, its closure
/// and the first frames. Real code needs more; see each host's default.
pub const MIN_STACK_SIZE: usize = 4096;

/// How an overflow past a stack's [`limit`](Stack::limit) is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowCheck {
    /// A guard page below the limit makes any access past it fault; the host
    /// reports the fault (the std crate's signal handler does).
    GuardPage,
    /// No hardware guard: the coroutine checks, on every suspension and on
    /// completion, that this word still holds [`STACK_CANARY`] and that its
    /// stack pointer is above the limit, and aborts with a report otherwise.
    /// The word lies just below the limit, outside the stack's own range.
    Canary(NonNull<u64>),
}

/// Memory a coroutine runs on.
///
/// # Safety
///
/// An implementor guarantees that, for as long as the value lives and is not
/// moved-from:
///
/// 1. the bytes in `limit()..top()` are readable, writable, not used by
///    anything else, and stay at the same address even if the value moves;
/// 2. `top()` is aligned to 16 bytes and `top() - limit()` is at least
///    [`MIN_STACK_SIZE`];
/// 3. the answer of `overflow_check()` is true: with `GuardPage`, an access
///    to the page below `limit()` faults; with `Canary(p)`, `p` stays
///    readable and initialized to [`STACK_CANARY`] while the stack is unused.
pub unsafe trait Stack {
    /// One past the highest usable byte (stacks grow down from here).
    fn top(&self) -> NonNull<u8>;

    /// The lowest usable byte.
    fn limit(&self) -> NonNull<u8>;

    /// How an overflow is detected.
    fn overflow_check(&self) -> OverflowCheck;

    /// Usable size in bytes.
    fn size(&self) -> usize {
        self.top().as_ptr() as usize - self.limit().as_ptr() as usize
    }
}

/// A stack allocated from the global allocator, with a canary below it.
///
/// Portable (it serves kernels and tests) but without a guard page: an
/// overflow is detected at the next suspension instead of at the faulting
/// access. Below the canary the allocation keeps [`HEAP_STACK_SLACK`]
/// bytes of its own, so an overflow of up to that much lands in memory
/// nobody else uses before it is reported. On Linux prefer the std crate's
/// pooled mmap stacks.
///
/// ```
/// use xasync_core::stack::{HeapStack, Stack};
/// let stack = HeapStack::new(16 * 1024);
/// assert!(stack.size() >= 16 * 1024);
/// ```
#[derive(Debug)]
pub struct HeapStack {
    base: NonNull<u8>,
    layout: Layout,
}

/// Bytes reserved below a [`HeapStack`]'s limit for its canary, keeping the
/// limit 16-byte aligned.
const CANARY_SLOT: usize = 16;

/// Bytes a [`HeapStack`] keeps below its canary, so that a modest
/// overflow stays inside its own allocation until the canary check
/// reports it.
pub const HEAP_STACK_SLACK: usize = 4096;

impl HeapStack {
    /// Allocates a stack with at least `size` usable bytes (rounded up to 16
    /// and to at least [`MIN_STACK_SIZE`]).
    pub fn new(size: usize) -> Self {
        let size = size.max(MIN_STACK_SIZE).next_multiple_of(16);
        let layout = Layout::from_size_align(HEAP_STACK_SLACK + CANARY_SLOT + size, 16)
            .expect("stack size overflows");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the canary slot follows the slack, inside the allocation,
        // 16-aligned.
        unsafe { base.add(HEAP_STACK_SLACK).cast::<u64>().write(STACK_CANARY) };
        HeapStack { base, layout }
    }
}

impl Default for HeapStack {
    /// A 64 KiB stack.
    fn default() -> Self {
        HeapStack::new(64 * 1024)
    }
}

// SAFETY: the allocation is owned, 16-aligned, at least MIN_STACK_SIZE long
// above the canary, and the canary is written at construction.
unsafe impl Stack for HeapStack {
    fn top(&self) -> NonNull<u8> {
        // SAFETY: one past the end of the allocation.
        unsafe { self.base.add(self.layout.size()) }
    }

    fn limit(&self) -> NonNull<u8> {
        // SAFETY: inside the allocation.
        unsafe { self.base.add(HEAP_STACK_SLACK + CANARY_SLOT) }
    }

    fn overflow_check(&self) -> OverflowCheck {
        // SAFETY: inside the allocation.
        OverflowCheck::Canary(unsafe { self.base.add(HEAP_STACK_SLACK) }.cast())
    }
}

impl Drop for HeapStack {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) }
    }
}

// SAFETY: HeapStack owns plain memory; nothing ties it to a thread.
unsafe impl Send for HeapStack {}

// SAFETY: a `Box<S>` owns `S`, whose memory does not move with the box.
unsafe impl<S: Stack + ?Sized> Stack for alloc::boxed::Box<S> {
    fn top(&self) -> NonNull<u8> {
        (**self).top()
    }
    fn limit(&self) -> NonNull<u8> {
        (**self).limit()
    }
    fn overflow_check(&self) -> OverflowCheck {
        (**self).overflow_check()
    }
}

pub use crate::context::report_overflow;

/// The name of the coroutine that runs on the stack whose top is `top`, as
/// recorded in the header the coroutine keeps there. For overflow handlers.
///
/// # Safety
///
/// `top` must be the [`Stack::top`] of a stack that a coroutine of this crate
/// runs on right now, and the name's string must not be freed meanwhile
/// (true while that coroutine runs).
pub unsafe fn running_coroutine_name<'a>(top: NonNull<u8>) -> Option<&'a str> {
    let header = crate::context::StackHeader::at(top);
    // SAFETY: the caller guarantees a live coroutine wrote the header, and
    // that its name outlives the returned borrow.
    unsafe { header.as_ref().name().map(|name| &*(name as *const str)) }
}
