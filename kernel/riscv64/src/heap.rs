//! The global allocator: an address-ordered first-fit free list over the
//! `__heap_start..__heap_end` region reserved by the linker script.
//!
//! It is behind an [`IrqSpinLock`], so it disables interrupts while held:
//! an interrupt handler (a tick hook, later a waker) can allocate without
//! deadlocking against the code it interrupted, and other harts spin.
//!
//! Every block is a multiple of `GRAIN` bytes at a `GRAIN`-aligned address,
//! and a free block starts with its `FreeBlock` header, so splitting never
//! leaves a fragment too small to describe: any remainder is 0 or at least
//! `GRAIN`. Freed blocks are merged with their neighbours.

use crate::sync::IrqSpinLock;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

/// Allocation granule and minimum alignment: the size of a free block's
/// header.
const GRAIN: usize = 16;

/// The header of a free block.
#[repr(C, align(16))]
struct FreeBlock {
    /// Bytes in the block, header included.
    size: usize,
    /// The next free block, at a higher address; null at the end.
    next: *mut FreeBlock,
}

const _: () = assert!(size_of::<FreeBlock>() == GRAIN);

/// Heap usage figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes of the heap region.
    pub size: usize,
    /// Bytes handed out and not yet freed (rounded up to the granule).
    pub used: usize,
    /// Number of live allocations.
    pub allocations: usize,
}

struct FreeList {
    head: *mut FreeBlock,
    stats: HeapStats,
}

// SAFETY: the list owns the memory its blocks describe; it is only reached
// through the lock.
unsafe impl Send for FreeList {}

impl FreeList {
    /// The rounded size and alignment of an allocation for `layout`, or
    /// `None` if it cannot be satisfied.
    fn geometry(layout: Layout) -> Option<(usize, usize)> {
        let size = layout.size().max(1).checked_next_multiple_of(GRAIN)?;
        Some((size, layout.align().max(GRAIN)))
    }

    /// # Safety
    ///
    /// The list must describe free memory only (the allocator's invariant).
    unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some((size, align)) = Self::geometry(layout) else {
            return ptr::null_mut();
        };
        let mut link: *mut *mut FreeBlock = &mut self.head;
        // SAFETY: every block on the list is a free, GRAIN-aligned region
        // starting with its header (the invariant), so reading headers and
        // writing new ones inside free blocks is sound.
        unsafe {
            while !(*link).is_null() {
                let block = *link;
                let start = block as usize;
                let end = start + (*block).size;
                let at = start.next_multiple_of(align);
                if at.checked_add(size).is_some_and(|stop| stop <= end) {
                    // [start, at) stays free (0 or >= GRAIN bytes), so does
                    // [at + size, end); [at, at + size) is handed out.
                    let mut rest = (*block).next;
                    if at + size < end {
                        let tail = (at + size) as *mut FreeBlock;
                        tail.write(FreeBlock {
                            size: end - (at + size),
                            next: rest,
                        });
                        rest = tail;
                    }
                    if at > start {
                        (*block).size = at - start;
                        (*block).next = rest;
                    } else {
                        *link = rest;
                    }
                    self.stats.used += size;
                    self.stats.allocations += 1;
                    return at as *mut u8;
                }
                link = &raw mut (*block).next;
            }
        }
        ptr::null_mut()
    }

    /// # Safety
    ///
    /// `block` must have been returned by `alloc` with this `layout` and not
    /// freed since.
    unsafe fn free(&mut self, block: *mut u8, layout: Layout) {
        let (size, _) = Self::geometry(layout).expect("freeing an impossible layout");
        let start = block as usize;
        let mut prev: *mut FreeBlock = ptr::null_mut();
        let mut next = self.head;
        // SAFETY: as in `alloc`; the caller gives back a block it owned, so
        // it is ours to write a header into.
        unsafe {
            while !next.is_null() && (next as usize) < start {
                prev = next;
                next = (*next).next;
            }
            assert!(
                (prev.is_null() || prev as usize + (*prev).size <= start)
                    && (next.is_null() || start + size <= next as usize),
                "heap corruption: freeing {start:#x} ({size} bytes) overlaps a free block"
            );
            let freed = start as *mut FreeBlock;
            freed.write(FreeBlock { size, next });
            if !next.is_null() && start + size == next as usize {
                (*freed).size += (*next).size;
                (*freed).next = (*next).next;
            }
            if prev.is_null() {
                self.head = freed;
            } else if prev as usize + (*prev).size == start {
                (*prev).size += (*freed).size;
                (*prev).next = (*freed).next;
            } else {
                (*prev).next = freed;
            }
        }
        self.stats.used -= size;
        self.stats.allocations -= 1;
    }
}

/// The kernel's global allocator (see the module documentation).
pub struct KernelHeap {
    list: IrqSpinLock<FreeList>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    list: IrqSpinLock::new(FreeList {
        head: ptr::null_mut(),
        stats: HeapStats {
            size: 0,
            used: 0,
            allocations: 0,
        },
    }),
};

// SAFETY: `alloc` hands out disjoint, suitably aligned blocks of at least
// the requested size from the free list, and `dealloc` takes them back; the
// lock serializes both across harts and against interrupt handlers.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the list holds free memory only.
        unsafe { self.list.lock().alloc(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: GlobalAlloc's contract: `block` came from `alloc` with
        // `layout`.
        unsafe { self.list.lock().free(block, layout) }
    }
}

unsafe extern "C" {
    static __heap_start: u8;
    static __heap_end: u8;
}

/// Hands the heap region to the allocator.
///
/// # Safety
///
/// Called once, on the boot hart, before anything allocates.
pub(crate) unsafe fn init() {
    let start = (&raw const __heap_start as usize).next_multiple_of(GRAIN);
    let end = &raw const __heap_end as usize & !(GRAIN - 1);
    let mut list = HEAP.list.lock();
    assert!(
        list.head.is_null() && end - start >= GRAIN,
        "heap::init: bad heap"
    );
    let block = start as *mut FreeBlock;
    // SAFETY: the linker script reserves `__heap_start..__heap_end` for the
    // heap and nothing else uses it.
    unsafe {
        block.write(FreeBlock {
            size: end - start,
            next: ptr::null_mut(),
        })
    };
    list.head = block;
    list.stats.size = end - start;
}

/// Current heap usage.
pub fn stats() -> HeapStats {
    HEAP.list.lock().stats
}
