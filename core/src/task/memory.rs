//! Memory for task cells: with `std`, a small per-thread cache of freed
//! cells, so that a thread spawning and finishing tasks in a loop reuses the
//! same few blocks instead of going through `malloc` and `free` each time
//! (about 130 instructions per task with glibc, in callgrind).
//!
//! Cached blocks are sorted into size classes of [`GRANULE`] bytes, each
//! allocated with its class's layout so that a block fits any cell of its
//! class. A cell larger than the largest class, or aligned more than
//! [`ALIGN`], is allocated directly. Each class keeps at most [`DEPTH`]
//! blocks. A block freed on another thread than the one it was allocated
//! on joins that thread's cache; a thread's cache is freed when it exits.

use alloc::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use core::ptr::NonNull;

/// The size step between classes.
const GRANULE: usize = 64;
/// How many classes there are (cells up to 1 KiB).
const CLASSES: usize = 16;
/// The alignment of every class (what `malloc` gives anyway).
const ALIGN: usize = 16;
/// How many free blocks a class keeps per thread.
#[cfg_attr(not(all(feature = "std", not(loom))), allow(dead_code))]
const DEPTH: usize = 32;

/// The size class of cells of type `T`, if they are cached.
const fn class_of<T>() -> Option<usize> {
    let size = size_of::<T>();
    if align_of::<T>() <= ALIGN && size > 0 && size <= GRANULE * CLASSES {
        Some((size - 1) / GRANULE)
    } else {
        None
    }
}

/// The layout of the blocks of size class `class`.
const fn class_layout(class: usize) -> Layout {
    match Layout::from_size_align((class + 1) * GRANULE, ALIGN) {
        Ok(layout) => layout,
        Err(_) => panic!("a class layout is valid"),
    }
}

/// The layout a block for a `T` is allocated with.
const fn layout<T>() -> Layout {
    match class_of::<T>() {
        Some(class) => class_layout(class),
        None => Layout::new::<T>(),
    }
}

/// An uninitialized block for a `T` (whose size is not zero).
pub(super) fn allocate<T>() -> NonNull<T> {
    const { assert!(size_of::<T>() > 0, "a task cell has a header") };
    if let Some(class) = class_of::<T>()
        && let Some(block) = cache::pop(class)
    {
        return block.cast();
    }
    let layout = layout::<T>();
    // SAFETY: the layout's size is not zero (asserted above).
    let block = unsafe { alloc(layout) };
    NonNull::new(block)
        .unwrap_or_else(|| handle_alloc_error(layout))
        .cast()
}

/// Gives back a block from [`allocate`].
///
/// # Safety
///
/// `block` came from `allocate::<T>()`, its contents are dropped (or were
/// never written) and nothing uses it anymore.
pub(super) unsafe fn free<T>(block: NonNull<T>) {
    if let Some(class) = class_of::<T>()
        // SAFETY: forwarded: a block of `class`, unused from now on.
        && unsafe { cache::push(class, block.cast()) }
    {
        return;
    }
    // SAFETY: allocated with this layout by `allocate` (or taken from the
    // cache, whose blocks of this class all have it).
    unsafe { dealloc(block.as_ptr().cast(), layout::<T>()) }
}

#[cfg(all(feature = "std", not(loom)))]
mod cache {
    use super::{CLASSES, DEPTH, class_layout};
    use core::cell::Cell;
    use core::ptr::{self, NonNull};

    /// What a free block holds: the next free block of its class.
    struct Free {
        next: *mut Free,
    }

    /// One thread's free blocks: a list and its length per class.
    pub(super) struct Cache {
        heads: [Cell<*mut Free>; CLASSES],
        pub(super) lens: [Cell<usize>; CLASSES],
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            for (class, head) in self.heads.iter().enumerate() {
                let mut at = head.replace(ptr::null_mut());
                while !at.is_null() {
                    // SAFETY: a cached block of `class`: it holds a `Free`
                    // and was allocated with the class's layout; it is
                    // unlinked before being freed.
                    unsafe {
                        let next = (*at).next;
                        alloc::alloc::dealloc(at.cast(), class_layout(class));
                        at = next;
                    }
                }
            }
        }
    }

    std::thread_local! {
        pub(super) static CACHE: Cache = const {
            Cache {
                heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
                lens: [const { Cell::new(0) }; CLASSES],
            }
        };
    }

    /// A cached block of `class`, if there is one.
    #[inline]
    pub(super) fn pop(class: usize) -> Option<NonNull<u8>> {
        CACHE
            .try_with(|cache| {
                let head = NonNull::new(cache.heads[class].get())?;
                // SAFETY: a cached block holds a `Free`; it leaves the
                // cache here, to its caller alone.
                cache.heads[class].set(unsafe { head.as_ref() }.next);
                cache.lens[class].set(cache.lens[class].get() - 1);
                Some(head.cast())
            })
            .ok()
            .flatten()
    }

    /// Keeps `block` for reuse unless the class is full (or the thread's
    /// cache is gone); whether it was kept.
    ///
    /// # Safety
    ///
    /// `block` was allocated with the layout of `class` and is unused.
    #[inline]
    pub(super) unsafe fn push(class: usize, block: NonNull<u8>) -> bool {
        CACHE
            .try_with(|cache| {
                let len = cache.lens[class].get();
                if len == DEPTH {
                    return false;
                }
                let free = block.cast::<Free>();
                // SAFETY: the block is unused and large and aligned enough
                // for a `Free` (every class is).
                unsafe {
                    free.as_ptr().write(Free {
                        next: cache.heads[class].get(),
                    })
                };
                cache.heads[class].set(free.as_ptr());
                cache.lens[class].set(len + 1);
                true
            })
            .unwrap_or(false)
    }
}

/// Without `std` (or under loom) nothing is cached.
#[cfg(not(all(feature = "std", not(loom))))]
mod cache {
    use core::ptr::NonNull;

    pub(super) fn pop(_class: usize) -> Option<NonNull<u8>> {
        None
    }

    /// # Safety
    ///
    /// None: nothing is done.
    pub(super) unsafe fn push(_class: usize, _block: NonNull<u8>) -> bool {
        false
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn a_freed_block_is_reused_by_any_cell_of_its_class() {
        let a = allocate::<[u64; 9]>();
        // SAFETY: from `allocate`, never written.
        unsafe { free(a) };
        // 72 and 100 bytes: the same 128-byte class.
        let b = allocate::<[u8; 100]>();
        assert_eq!(a.cast::<u8>(), b.cast::<u8>());
        // SAFETY: as above.
        unsafe { free(b) };
    }

    #[test]
    fn a_class_keeps_at_most_depth_blocks() {
        let blocks: Vec<_> = (0..DEPTH + 3).map(|_| allocate::<[u64; 30]>()).collect();
        for &block in &blocks {
            // SAFETY: from `allocate`, never written.
            unsafe { free(block) };
        }
        let class = class_of::<[u64; 30]>().unwrap();
        assert_eq!(cache::CACHE.with(|c| c.lens[class].get()), DEPTH);
    }

    #[test]
    fn large_or_overaligned_cells_are_not_cached() {
        #[repr(align(64))]
        struct Aligned(#[allow(dead_code)] u8);
        assert_eq!(class_of::<[u8; 2000]>(), None);
        assert_eq!(class_of::<Aligned>(), None);
        let a = allocate::<Aligned>();
        assert_eq!(a.as_ptr() as usize % 64, 0);
        // SAFETY: from `allocate`, never written.
        unsafe { free(a) };
    }
}
