//! Every context-switch path, once: a coroutine's first resume, suspend,
//! resume and finish; the same nested in another coroutine; and fibers
//! switching to a fresh fiber, back, and out of a finished one.
//!
//! As a test it only checks the values handed around. Its real use is
//! `.ci/cfi.sh`, which runs it under gdb, single-steps every instruction of
//! [`switches`] (the switches included) and checks at each one that the
//! debugger's unwinder walks from there back to [`every_switch_path`]
//! (or, inside a fiber, down to the fiber's trampoline, the bottom of its
//! stack): the context switch's call frame information must describe every
//! push, pop and stack switch.
//!
//! The last test checks, with the unwinder of Rust's own backtraces, that
//! a coroutine's stack is linked to its resumer's.

use xasync_core::coroutine::{Coroutine, CoroutineResult, Yielder};
use xasync_core::fiber::{Fiber, Group};
use xasync_core::stack::{HeapStack, Stack};

/// A stack for these shallow test coroutines.
fn stack(size: usize) -> HeapStack {
    // SAFETY: the code run on these stacks is a few frames deep, far below
    // their size.
    unsafe { HeapStack::new(size) }
}

type Co = Coroutine<u32, u32, u32, HeapStack>;

/// A coroutine that suspends once with `x + 1` and returns the next input
/// plus 2.
fn counter(stack: HeapStack) -> Co {
    Coroutine::with_stack(stack, |y: &Yielder<u32, u32>, x| y.suspend(x + 1) + 2)
}

/// The switches `.ci/cfi.sh` steps through; nothing here allocates, so the
/// debugger steps only through the switches and their callers.
#[inline(never)]
fn switches(
    flat: &mut Co,
    outer: &mut Co,
    fiber: &Fiber,
    base: &Fiber,
) -> [CoroutineResult<u32, u32>; 4] {
    let results = [
        flat.resume(1),
        flat.resume(10),
        outer.resume(100),
        outer.resume(1000),
    ];
    // A fresh fiber, back to the base, and the fiber's end.
    fiber.resume_from(base);
    fiber.resume_from(base);
    results
}

#[test]
fn every_switch_path() {
    // The nested coroutine's stack lies above its resumer's, the reverse of
    // the usual order (a thread's stack above the heap): unwinding from it
    // into the resumer walks to a lower address.
    let (mut low, mut high) = (stack(64 * 1024), stack(64 * 1024));
    if low.top() > high.top() {
        std::mem::swap(&mut low, &mut high);
    }
    let inner = counter(high);
    let mut outer = Coroutine::with_stack(low, move |y: &Yielder<u32, u32>, x| {
        let mut inner = inner;
        let first = inner.resume(x).as_yield().unwrap();
        let next = y.suspend(first);
        inner.resume(next).as_return().unwrap()
    });
    let mut flat = counter(stack(64 * 1024));
    let group = Group::new();
    let base = group.base().clone();
    let back = base.clone();
    let fiber = group.spawn(stack(64 * 1024), move |me: &Fiber| back.resume_from(me));
    let results = switches(&mut flat, &mut outer, &fiber, &base);
    assert_eq!(
        results,
        [
            CoroutineResult::Yield(2),
            CoroutineResult::Return(12),
            CoroutineResult::Yield(101),
            CoroutineResult::Return(1002),
        ]
    );
    assert!(fiber.is_finished());
}

/// Runs a coroutine to its end; a frame the backtrace below must show.
#[inline(never)]
fn resume_to_the_end(co: &mut Coroutine<(), (), String, HeapStack>) -> String {
    co.resume(()).as_return().unwrap()
}

#[test]
fn a_backtrace_in_a_coroutine_continues_into_its_resumers() {
    let mut inner = Coroutine::with_stack(stack(1024 * 1024), |_: &Yielder<(), ()>, ()| {
        std::backtrace::Backtrace::force_capture().to_string()
    });
    let mut outer = Coroutine::with_stack(stack(1024 * 1024), move |_: &Yielder<(), ()>, ()| {
        resume_to_the_end(&mut inner)
    });
    let backtrace = resume_to_the_end(&mut outer);
    assert_eq!(
        backtrace.matches("resume_to_the_end").count(),
        2,
        "the backtrace does not reach both resumers:\n{backtrace}"
    );
}
