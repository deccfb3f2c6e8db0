//! A raw coroutine resumed inside a runtime coroutine: what it calls may
//! suspend the runtime coroutine while running on the raw one's stack.

use std::time::Duration;
use xasync::coroutine::{CoroutineOn, Yielder};
use xasync::stack::{GuardPolicy, PooledStack, Stack};

/// The runtime coroutine suspends (in `sleep`) while its stack pointer is
/// on a nested coroutine's stack that lies below its own: no overflow. On
/// canary-checked stacks, whose check looks at the stack pointer.
#[test]
fn waiting_inside_a_nested_coroutine_on_a_lower_stack_is_no_overflow() {
    let rt = xasync::Runtime::builder()
        .workers(1)
        // SAFETY: the coroutines here are a few frames deep.
        .guard_policy(unsafe { GuardPolicy::unguarded() })
        .build()
        .unwrap();
    let done = rt.xasync(|| {
        let here = std::hint::black_box(0u8);
        let here = &raw const here as usize;
        // Stacks from the worker's pool until one lies below ours.
        let mut held = Vec::new();
        let below = loop {
            let stack = PooledStack::new();
            if (stack.top().as_ptr() as usize) < here {
                break stack;
            }
            held.push(stack);
            assert!(held.len() < 10_000, "no stack below the coroutine's");
        };
        let mut inner = CoroutineOn::with_stack(below, |_: &Yielder<(), ()>, ()| {
            xasync::time::sleep(Duration::from_millis(1));
            7
        })
        .with_name("nested");
        inner.resume(()).as_return()
    });
    assert_eq!(done.join().unwrap(), Some(7));
    rt.shutdown();
}
