//! Runs of unguarded stacks sharing one mapping, for millions of coroutines.
//!
//! A guard page per stack costs a kernel mapping per stack, and the default
//! `vm.max_map_count` (65,530) allows only ~32,000. A slab holds hundreds of
//! stacks in one mapping instead. Without guard pages, overflow is caught in
//! software: the 16 bytes at the top of each slot hold a canary for the slot
//! above, which every coroutine checks (with its stack pointer) whenever it
//! suspends and when it finishes. Slots sit in the same page as their
//! neighbour's live top frames, so the canary costs no extra resident page.
//!
//! ```text
//!  mapping start                                                   end
//!  | lead page ..[c0]| slot 0 ........[c1]| slot 1 ........[c2]| ...
//!                  ^ canary checked by slot 0's coroutine
//! ```

use crate::sys::memory::{self, page_size};
use std::io;
use std::ptr::NonNull;
use xasync_core::stack::STACK_CANARY;

/// Bytes at the top of each slot (and the lead page) holding the canary of
/// the slot above; keeps every stack top 16-aligned.
const CANARY_SLOT: usize = 16;

/// Target size of one slab's mapping.
const SLAB_BYTES: usize = 64 << 20;

/// Where one slot's stack lies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) limit: NonNull<u8>,
    pub(crate) top: NonNull<u8>,
    pub(crate) canary: NonNull<u64>,
}

/// One mapping holding `count` stacks.
#[derive(Debug)]
pub(crate) struct Slab {
    base: NonNull<u8>,
    len: usize,
    stride: usize,
    count: usize,
    /// Free slot indices, last-freed on top (its pages are warm).
    free: Vec<u32>,
}

impl Slab {
    /// Maps a slab of stacks with at least `size` usable bytes each.
    pub(crate) fn new(size: usize) -> io::Result<Slab> {
        let page = page_size();
        let stride =
            (size.max(xasync_core::stack::MIN_STACK_SIZE) + CANARY_SLOT).next_multiple_of(page);
        let count = (SLAB_BYTES / stride).clamp(16, u32::MAX as usize);
        let len = page + count * stride;
        let base = memory::map(len)?;
        Ok(Slab {
            base,
            len,
            stride,
            count,
            free: (0..count as u32).rev().collect(),
        })
    }

    /// Takes a free slot, writing its canary.
    pub(crate) fn take(&mut self) -> Option<(u32, Slot)> {
        let index = self.free.pop()?;
        let slot = self.slot(index);
        // SAFETY: the canary word lies in the lead page or in the reserved
        // top of the slot below, inside our mapping, never used as stack.
        unsafe { slot.canary.write_volatile(STACK_CANARY) };
        Some((index, slot))
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

    fn slot(&self, index: u32) -> Slot {
        let start = page_size() + index as usize * self.stride;
        // SAFETY: all offsets lie inside the mapping (`index < count`).
        unsafe {
            Slot {
                limit: self.base.add(start),
                top: self.base.add(start + self.stride - CANARY_SLOT),
                canary: self.base.add(start - CANARY_SLOT).cast(),
            }
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        debug_assert!(self.is_unused(), "a slab was dropped with stacks in use");
        // SAFETY: no slot is in use (the pool drops a slab only when unused).
        unsafe { memory::unmap(self.base, self.len) }
    }
}
