//! One mapping of equal stack slots, with or without a guard at the bottom
//! of each; guarded ones are known to the overflow handler while mapped,
//! and every slot to valgrind when the program runs under it.

use crate::sys::memory::{self, page_size};
use crate::sys::overflow::{self, GuardRegistration};
use std::io;
use std::ptr::NonNull;
use xasync_core::stack::StackRegistration;

/// `count` slots of `stride` bytes in one mapping. The lowest page of each
/// slot is its guard (or, unguarded, the slack under its canary); the
/// stack runs from there to the slot's end.
#[derive(Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    len: usize,
    stride: usize,
    /// Present for guarded regions.
    registration: Option<GuardRegistration>,
    /// Each slot registered as a stack with valgrind; empty when the
    /// program does not run under it.
    stacks: Vec<StackRegistration>,
}

impl Region {
    /// Maps `count` slots of `stride` bytes, each with a guard page at its
    /// bottom: a kernel guard region where the kernel makes them (see
    /// [`memory::guard_regions`]), else, for a lone slot, an inaccessible
    /// page, which splits the mapping in two.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the mapping or a guard (`ENOMEM` at the
    /// mapping limit), and `Unsupported` for several slots without guard
    /// regions.
    pub(crate) fn guarded(stride: usize, count: usize) -> io::Result<Region> {
        let page = page_size();
        let mut region = Region::unguarded(stride, count)?;
        if memory::guard_regions() {
            // SAFETY: the bottom page of each slot of our fresh mapping,
            // which nothing uses yet. On error, dropping `region` unmaps it.
            unsafe { memory::install_guards(region.base, stride, count, page)? };
        } else if count == 1 {
            // SAFETY: as above, for the lone slot.
            unsafe { memory::protect_none(region.base, page)? };
        } else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "guarded slab stacks need kernel guard regions (Linux 6.13+)",
            ));
        }
        region.registration = Some(overflow::register(region.base, region.len, stride, page));
        Ok(region)
    }

    /// Maps `count` slots of `stride` bytes without guards.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the mapping.
    pub(crate) fn unguarded(stride: usize, count: usize) -> io::Result<Region> {
        debug_assert!(stride.is_multiple_of(page_size()) && stride > page_size());
        let len = stride * count;
        let mut region = Region {
            base: memory::map(len)?,
            len,
            stride,
            registration: None,
            stacks: Vec::new(),
        };
        // Natively the first registration answers `None` and the loop
        // stops there: one no-op client request per mapping.
        region.stacks = (0..count)
            .map_while(|index| {
                let start = region.slot(index);
                // SAFETY: the slot's end, inside the mapping or one past it.
                StackRegistration::new(start, unsafe { start.add(stride) })
            })
            .collect();
        Ok(region)
    }

    /// How many slots it has.
    pub(crate) fn slots(&self) -> usize {
        self.len / self.stride
    }

    /// The start of slot `index` (its guard page).
    pub(crate) fn slot(&self, index: usize) -> NonNull<u8> {
        debug_assert!((index + 1) * self.stride <= self.len);
        // SAFETY: inside the mapping.
        unsafe { self.base.add(index * self.stride) }
    }

    /// Commits the top page of each of `count` slots from `first` (see
    /// [`memory::populate`]): where a new coroutine's first frames go.
    pub(crate) fn populate_tops(&self, first: usize, count: usize) {
        debug_assert!((first + count) * self.stride <= self.len);
        let page = page_size();
        // SAFETY: the top pages of slots of our mapping; `populate` keeps
        // the contents of those already in use.
        unsafe {
            memory::populate(
                self.slot(first),
                self.stride,
                count,
                self.stride - page,
                page,
            )
        };
    }

    /// The usable range of slot `index`: (limit, top).
    pub(crate) fn stack(&self, index: usize) -> (NonNull<u8>, NonNull<u8>) {
        let start = self.slot(index);
        // SAFETY: inside the slot, or one past its end.
        unsafe { (start.add(page_size()), start.add(self.stride)) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // Unregister first: once unmapped, the range may be mapped again by
        // anyone, and a fault there must not be taken for an overflow (nor,
        // under valgrind, a stack pointer there for one of these stacks).
        drop(self.registration.take());
        self.stacks.clear();
        // SAFETY: the owner drops a region only when no slot is in use.
        unsafe { memory::unmap(self.base, self.len) }
    }
}

// SAFETY: plain owned memory; the registration is process-wide.
unsafe impl Send for Region {}
