//! Fibers and groups free everything they allocate: a counting allocator
//! checks that no allocation outlives a group and its fibers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use xasync_core::fiber::Group;
use xasync_core::stack::HeapStack;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn scenario(finish: bool) {
    let group = Group::new();
    let base = group.base().clone();
    // SAFETY: the fiber uses a few hundred bytes of stack.
    let stack = unsafe { HeapStack::new(32 * 1024) };
    let fiber = group.spawn(stack, move |me| {
        base.resume_from(me);
        if !finish {
            base.resume_from(me);
        }
    });
    fiber.resume_from(group.base());
    fiber.resume_from(group.base());
    assert_eq!(fiber.is_finished(), finish);
}

/// One test only: the counter is process-wide.
#[test]
fn groups_and_fibers_free_everything() {
    // Warm up whatever the test harness allocates lazily.
    scenario(true);
    for finish in [true, false] {
        let before = LIVE.load(Ordering::SeqCst);
        scenario(finish);
        assert_eq!(
            LIVE.load(Ordering::SeqCst),
            before,
            "leaked allocations (finish = {finish})"
        );
    }
}
