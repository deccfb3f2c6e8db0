//! The stack pool: reuse, guard policies, slab fallback and release.

use xasync::coroutine::{Coroutine, CoroutineOn, CoroutineResult, Yielder};
use xasync::stack::{GuardPolicy, OverflowCheck, Stack, StackConfig, StackPool};

fn pool(guard: GuardPolicy, cache: usize) -> StackPool {
    StackPool::new(StackConfig {
        size: 32 * 1024,
        guard,
        cache,
    })
}

#[test]
fn stacks_are_reused() {
    let pool = pool(GuardPolicy::Always, 16);
    let first = pool.get().unwrap();
    let top = first.top();
    assert!(first.is_guarded());
    assert_eq!(first.overflow_check(), OverflowCheck::GuardPage);
    drop(first);
    assert_eq!(pool.cached(), (1, 0));
    let again = pool.get().unwrap();
    assert_eq!(again.top(), top, "the cached stack comes back");
}

#[test]
fn slab_stacks_have_canaries_below_their_limit() {
    let pool = pool(GuardPolicy::Never, 16);
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    assert!(!a.is_guarded());
    for s in [&a, &b] {
        assert!(s.size() >= 32 * 1024);
        assert_eq!(s.top().as_ptr() as usize % 16, 0);
        let OverflowCheck::Canary(c) = s.overflow_check() else {
            panic!("slab stacks use canaries")
        };
        assert!((c.as_ptr() as usize) < s.limit().as_ptr() as usize);
        // SAFETY: the pool keeps the canary readable.
        assert_eq!(unsafe { c.read() }, xasync_core::stack::STACK_CANARY);
    }
    // Adjacent slots: b's limit is a's slot end, where b's canary sits.
    assert_eq!(a.top().as_ptr() as usize + 16, b.limit().as_ptr() as usize);
}

#[test]
fn up_to_policy_switches_to_slabs_past_the_threshold() {
    let live = xasync::stack::live_guarded_stacks();
    let pool = pool(GuardPolicy::UpTo(live + 3), 0);
    let stacks: Vec<_> = (0..6).map(|_| pool.get().unwrap()).collect();
    let guarded = stacks.iter().filter(|s| s.is_guarded()).count();
    // Other tests may hold guarded stacks concurrently: at most 3 here.
    assert!(guarded <= 3, "{guarded} guarded");
    assert!(stacks.iter().filter(|s| !s.is_guarded()).count() >= 3);
}

#[test]
fn unused_slabs_are_released_beyond_the_cache() {
    let pool = pool(GuardPolicy::Never, 0);
    let stacks: Vec<_> = (0..10).map(|_| pool.get().unwrap()).collect();
    assert!(pool.cached().1 > 0, "the slab has spare slots");
    drop(stacks);
    assert_eq!(pool.cached(), (0, 0), "the empty slab was unmapped");
}

#[test]
fn many_slab_coroutines_alive_at_once() {
    let pool = pool(GuardPolicy::Never, 64);
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

#[test]
fn coroutine_new_uses_the_thread_pool() {
    let mut co: Coroutine<(), u8, &str> = Coroutine::new(|y, ()| {
        y.suspend(1);
        "finished"
    });
    assert_eq!(co.resume(()), CoroutineResult::Yield(1));
    assert_eq!(co.resume(()), CoroutineResult::Return("finished"));
    assert!(co.stack().size() >= xasync::stack::DEFAULT_STACK_SIZE);
}
