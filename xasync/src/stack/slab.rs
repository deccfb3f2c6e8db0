//! Slabs: one mapping holding hundreds of stacks, for coroutine counts the
//! kernel's mapping limit could not give a mapping each.
//!
//! Each slot is a page followed by the stack. In a guarded slab the page
//! is a kernel guard region (no mapping of its own); in an unguarded one
//! it is the slack of the stack's canary, which sits at its top.

use super::region::Region;
use crate::sys::memory::page_size;
use std::io;
use std::ptr::NonNull;
use xasync_core::stack::{CANARY_SLACK, MIN_STACK_SIZE, OverflowCheck, STACK_CANARY};

/// Target size of one slab's mapping.
const SLAB_BYTES: usize = 64 << 20;

/// Bytes at the top of an unguarded slot's bottom page holding its canary;
/// keeps the limit 16-aligned.
const CANARY_SLOT: usize = 16;

/// Where one slot's stack lies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) limit: NonNull<u8>,
    pub(crate) top: NonNull<u8>,
    pub(crate) check: OverflowCheck,
}

/// One mapping holding `count` stacks.
#[derive(Debug)]
pub(crate) struct Slab {
    region: Region,
    guarded: bool,
    count: usize,
    /// Free slot indices, last-freed on top (its pages are warm).
    free: Vec<u32>,
}

impl Slab {
    /// Maps a slab of stacks with at least `size` usable bytes each, with
    /// guard regions or canaries.
    ///
    /// # Errors
    ///
    /// When the kernel refuses the mapping or its guards.
    pub(crate) fn new(size: usize, guarded: bool) -> io::Result<Slab> {
        let page = page_size();
        debug_assert!(page >= CANARY_SLACK, "the slack must fit the bottom page");
        let stride = page + size.max(MIN_STACK_SIZE).next_multiple_of(page);
        let count = (SLAB_BYTES / stride).clamp(16, u32::MAX as usize);
        let region = if guarded {
            Region::guarded(stride, count)?
        } else {
            Region::unguarded(stride, count)?
        };
        Ok(Slab {
            region,
            guarded,
            count,
            free: (0..count as u32).rev().collect(),
        })
    }

    /// Takes a free slot, writing its canary if it has one.
    pub(crate) fn take(&mut self) -> Option<(u32, Slot)> {
        let index = self.free.pop()?;
        let (limit, top) = self.region.stack(index as usize);
        let check = if self.guarded {
            OverflowCheck::GuardPage
        } else {
            // SAFETY: the top of the slot's bottom page, inside our mapping,
            // below the stack: no stack uses it.
            let canary = unsafe { limit.sub(CANARY_SLOT) }.cast::<u64>();
            // SAFETY: as above, and 16-aligned.
            unsafe { canary.write_volatile(STACK_CANARY) };
            OverflowCheck::Canary(canary)
        };
        Some((index, Slot { limit, top, check }))
    }

    /// Returns a slot taken with [`take`](Self::take).
    pub(crate) fn give_back(&mut self, index: u32) {
        debug_assert!(!self.free.contains(&index));
        self.free.push(index);
    }

    /// Whether every slot is free.
    pub(crate) fn is_unused(&self) -> bool {
        self.free.len() == self.count
    }

    /// Whether some slot is free.
    pub(crate) fn has_free(&self) -> bool {
        !self.free.is_empty()
    }

    /// Free slots.
    pub(crate) fn free_slots(&self) -> usize {
        self.free.len()
    }

    /// All slots.
    pub(crate) fn slots(&self) -> usize {
        self.count
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        debug_assert!(self.is_unused(), "a slab was dropped with stacks in use");
    }
}
