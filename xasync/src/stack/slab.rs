//! Slabs: one mapping holding hundreds of stacks, for coroutine counts the
//! kernel's mapping limit could not give a mapping each.
//!
//! Each slot is a page followed by the stack. In a guarded slab the page
//! is a kernel guard region (no mapping of its own). In an unguarded one it
//! is slack, touched only by an overflow, and the slot's canary lies just
//! below it, in the top 16 bytes of the slot below, whose own coroutine
//! touches that page anyway: a canary costs no resident page. (The first
//! slot, with no slot below, is then not used.)

use super::region::Region;
use crate::sys::memory::page_size;
use std::io;
use std::ptr::NonNull;
use xasync_core::stack::{MIN_STACK_SIZE, OverflowCheck, STACK_CANARY};

/// Target size of one slab's mapping.
const SLAB_BYTES: usize = 64 << 20;

/// Slots whose top pages are committed at once, ahead of their first use:
/// one system call instead of as many page faults when coroutines are
/// started by the thousand, and at most this many pages committed early.
const POPULATE: usize = 64;

/// Bytes at the top of an unguarded slot that hold the canary of the slot
/// above; keeps the stack top 16-aligned.
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
    /// Slots handed out, at most.
    count: usize,
    /// Free slot indices, last-freed on top (its pages are warm).
    free: Vec<u32>,
    /// Slots below this index have their top page committed; slots never
    /// used are taken lowest first, so the rest are above it.
    populated: usize,
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
        let reserve = if guarded { 0 } else { CANARY_SLOT };
        let stride = page + (size.max(MIN_STACK_SIZE) + reserve).next_multiple_of(page);
        let slots = (SLAB_BYTES / stride).clamp(16, u32::MAX as usize);
        let (region, first) = if guarded {
            (Region::guarded(stride, slots)?, 0)
        } else {
            (Region::unguarded(stride, slots)?, 1)
        };
        Ok(Slab {
            region,
            guarded,
            count: slots - first as usize,
            free: (first..slots as u32).rev().collect(),
            populated: 0,
        })
    }

    /// Takes a free slot, writing its canary if it has one.
    pub(crate) fn take(&mut self) -> Option<(u32, Slot)> {
        let index = self.free.pop()?;
        if index as usize >= self.populated {
            let slots = self.region.slots();
            let count = POPULATE.min(slots - index as usize);
            self.region.populate_tops(index as usize, count);
            self.populated = index as usize + count;
        }
        let (limit, end) = self.region.stack(index as usize);
        let slot = if self.guarded {
            Slot {
                limit,
                top: end,
                check: OverflowCheck::GuardPage,
            }
        } else {
            // SAFETY: the top bytes of the slot below (`index > 0`), inside
            // our mapping, which no stack uses.
            let canary = unsafe { self.region.slot(index as usize).sub(CANARY_SLOT) };
            // SAFETY: as above, 16-aligned.
            unsafe { canary.cast::<u64>().write_volatile(STACK_CANARY) };
            Slot {
                limit,
                // SAFETY: inside the slot.
                top: unsafe { end.sub(CANARY_SLOT) },
                check: OverflowCheck::Canary(canary.cast()),
            }
        };
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
