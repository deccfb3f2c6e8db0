//! The stack pool: reuse, guards, canary slabs and release.

use xasync::coroutine::{Coroutine, CoroutineOn, CoroutineResult, Yielder};
use xasync::stack::{GuardPolicy, OverflowCheck, Stack, StackConfig, StackCounts, StackPool};

fn pool(guard: GuardPolicy, cache: usize) -> StackPool {
    StackPool::new(StackConfig {
        size: 32 * 1024,
        guard,
        cache,
    })
}

/// A pool of canary-checked slab stacks.
fn unguarded(cache: usize) -> StackPool {
    // SAFETY: the coroutines run on these stacks are a few frames deep.
    pool(unsafe { GuardPolicy::unguarded() }, cache)
}

/// Lines of /proc/self/maps: the process's memory mappings.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn stacks_are_reused() {
    let pool = pool(GuardPolicy::default(), 16);
    let first = pool.get().unwrap();
    let top = first.top();
    assert!(first.is_guarded());
    assert_eq!(first.overflow_check(), OverflowCheck::GuardPage);
    let cached = pool.counts().cached;
    drop(first);
    assert_eq!(pool.counts().cached, cached + 1);
    let again = pool.get().unwrap();
    assert_eq!(again.top(), top, "the cached stack comes back");
}

/// Where the kernel makes guard regions, a pool's guarded stacks come in
/// slabs: thousands of them take a few mappings, not one or two each.
#[test]
fn guarded_stacks_share_mappings_where_the_kernel_makes_guard_regions() {
    let pool = pool(GuardPolicy::default(), 0);
    let before = mappings();
    let stacks: Vec<_> = (0..5_000).map(|_| pool.get().unwrap()).collect();
    let counts = pool.counts();
    if counts.mapped > 0 {
        eprintln!("no kernel guard regions here (Linux < 6.13): nothing to check");
        return;
    }
    assert!(stacks.iter().all(|s| s.is_guarded()));
    assert_eq!(counts.guarded, 5_000);
    assert_eq!(counts.unguarded, 0);
    let added = mappings().saturating_sub(before);
    // Other tests of this binary map and unmap concurrently: a margin.
    assert!(added < 100, "{added} mappings for 5,000 guarded stacks");
}

#[test]
fn slab_stacks_have_canaries_below_their_limit() {
    let pool = unguarded(16);
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    assert!(!a.is_guarded());
    for s in [&a, &b] {
        assert!(s.size() >= 32 * 1024);
        assert_eq!(s.top().as_ptr() as usize % 16, 0);
        let OverflowCheck::Canary(c) = s.overflow_check() else {
            panic!("unguarded slab stacks use canaries")
        };
        assert!((c.as_ptr() as usize) < s.limit().as_ptr() as usize);
        // SAFETY: the pool keeps the canary readable.
        assert_eq!(unsafe { c.read() }, xasync_core::stack::STACK_CANARY);
    }
    // Adjacent slots: b's canary sits just above a's top (on a page a's
    // coroutine touches anyway), then comes b's slack up to its limit.
    let OverflowCheck::Canary(c) = b.overflow_check() else {
        unreachable!()
    };
    assert_eq!(c.as_ptr() as usize, a.top().as_ptr() as usize);
    let slack = b.limit().as_ptr() as usize - c.as_ptr() as usize;
    assert!(slack >= 4096, "{slack}");
    assert_eq!(
        pool.counts(),
        StackCounts {
            guarded: 0,
            unguarded: 2,
            mapped: 0,
            cached: pool.counts().cached,
        }
    );
}

#[test]
fn unused_slabs_are_released_beyond_the_cache() {
    let pool = unguarded(0);
    let stacks: Vec<_> = (0..10).map(|_| pool.get().unwrap()).collect();
    assert!(pool.counts().cached > 0, "the slab has spare slots");
    drop(stacks);
    assert_eq!(
        pool.counts(),
        StackCounts::default(),
        "the slab was unmapped"
    );
}

#[test]
fn many_slab_coroutines_alive_at_once() {
    for pool in [pool(GuardPolicy::default(), 64), unguarded(64)] {
        let mut cos: Vec<_> = (0..20_000u32)
            .map(|i| {
                CoroutineOn::with_stack(pool.get().unwrap(), move |y: &Yielder<(), u32>, ()| {
                    y.suspend(i);
                    i * 2
                })
            })
            .collect();
        for (i, co) in cos.iter_mut().enumerate() {
            assert_eq!(co.resume(()), CoroutineResult::Yield(i as u32));
        }
        for (i, co) in cos.iter_mut().enumerate() {
            assert_eq!(co.resume(()), CoroutineResult::Return(i as u32 * 2));
        }
    }
}

#[test]
fn coroutine_new_uses_the_thread_pool() {
    let mut co: Coroutine<(), u8, &str> = Coroutine::new(|y, ()| {
        y.suspend(1);
        "finished"
    });
    assert_eq!(co.resume(()), CoroutineResult::Yield(1));
    assert_eq!(co.resume(()), CoroutineResult::Return("finished"));
    assert!(co.stack().size() >= xasync::stack::DEFAULT_STACK_SIZE);
    assert!(co.stack().is_guarded());
}
