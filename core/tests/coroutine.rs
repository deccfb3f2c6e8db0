//! Asymmetric coroutines: values in and out, the seed's counter, panics,
//! destructors, register preservation.

use std::cell::Cell;
use std::rc::Rc;
use xasync_core::coroutine::{Coroutine, CoroutineResult, Yielder};
use xasync_core::stack::{DefaultHeapStack, HeapStack, HeapStackSize};

const STACK: usize = 64 * 1024;

fn stack() -> HeapStack {
    small(STACK)
}

/// A heap stack of `size` bytes for these tests' coroutines.
fn small(size: usize) -> HeapStack {
    // SAFETY: the coroutines of these tests use a few KiB of stack at most
    // (the large closure of `a_closure_larger_than_the_stack_is_refused`
    // is refused before it runs).
    unsafe { HeapStack::new(size) }
}

/// The stacks `Stackful` tasks of these tests make.
struct TestStacks;

// SAFETY: as for `small`.
unsafe impl HeapStackSize for TestStacks {
    const SIZE: usize = STACK;
}

#[test]
fn values_flow_both_ways() {
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<u64, u64>, mut input: u64| {
        let mut total = 0;
        while input != 0 {
            total += input;
            input = y.suspend(total);
        }
        format!("total {total}")
    });
    assert!(!co.started());
    assert_eq!(co.resume(1), CoroutineResult::Yield(1));
    assert_eq!(co.resume(2), CoroutineResult::Yield(3));
    assert_eq!(co.resume(3), CoroutineResult::Yield(6));
    assert!(co.started() && !co.done());
    assert_eq!(co.resume(0), CoroutineResult::Return("total 6".to_string()));
    assert!(co.done());
}

/// The seed's counter that suspends between increments, observed from outside.
#[test]
fn counter_suspends_between_increments() {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let mut co = Coroutine::with_stack(stack(), move |y: &Yielder<(), ()>, ()| {
        for _ in 0..5 {
            c.set(c.get() + 1);
            y.suspend(());
        }
        c.get()
    });
    for expected in 1..=5 {
        assert_eq!(co.resume(()), CoroutineResult::Yield(()));
        assert_eq!(count.get(), expected);
    }
    assert_eq!(co.resume(()), CoroutineResult::Return(5));
}

#[test]
fn large_values_cross_the_switch() {
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<[u8; 1000], [u8; 2000]>, input| {
        let next = y.suspend([input[999]; 2000]);
        [next[0].wrapping_add(1); 3000]
    });
    let out = co.resume([7; 1000]).as_yield().unwrap();
    assert!(out.iter().all(|&b| b == 7));
    let ret = co.resume([9; 1000]).as_return().unwrap();
    assert!(ret.iter().all(|&b| b == 10));
}

#[test]
#[should_panic(expected = "already finished")]
fn resuming_a_finished_coroutine_panics() {
    let mut co = Coroutine::with_stack(stack(), |_: &Yielder<(), ()>, ()| 1);
    assert_eq!(co.resume(()), CoroutineResult::Return(1));
    co.resume(());
}

#[test]
fn panic_is_reraised_by_resume() {
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<(), ()>, ()| -> () {
        y.suspend(());
        panic!("boom inside");
    });
    co.resume(());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom inside"));
    assert!(co.done());
}

struct DropCounter(Rc<Cell<u32>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_suspended_coroutine_runs_its_destructors() {
    let drops = Rc::new(Cell::new(0));
    let (captured, local) = (DropCounter(drops.clone()), drops.clone());
    let mut co = Coroutine::with_stack(stack(), move |y: &Yielder<(), ()>, ()| {
        let _captured = captured;
        let _on_stack = DropCounter(local);
        let _boxed = Box::new(7);
        loop {
            y.suspend(());
        }
    });
    co.resume(());
    co.resume(());
    assert_eq!(drops.get(), 0);
    drop(co);
    assert_eq!(drops.get(), 2);
}

#[test]
fn dropping_an_unstarted_coroutine_drops_its_closure() {
    let drops = Rc::new(Cell::new(0));
    let captured = DropCounter(drops.clone());
    let co = Coroutine::with_stack(stack(), move |_: &Yielder<(), ()>, ()| drop(captured));
    drop(co);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_coroutine_that_catches_its_unwind_and_returns_is_fine() {
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<(), ()>, ()| {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.suspend(())));
        assert!(caught.is_err());
        42
    });
    co.resume(());
    drop(co);
}

#[test]
#[should_panic(expected = "suspended instead of unwinding")]
fn a_coroutine_that_suspends_while_being_dropped_is_leaked_with_a_panic() {
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<(), ()>, ()| {
        loop {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.suspend(())));
        }
    });
    co.resume(());
    drop(co);
}

#[test]
fn nested_coroutines() {
    let mut outer = Coroutine::with_stack(stack(), |y: &Yielder<(), u32>, ()| {
        let mut inner = Coroutine::with_stack(stack(), |yi: &Yielder<(), u32>, ()| {
            yi.suspend(1);
            yi.suspend(2);
            3
        });
        while let CoroutineResult::Yield(v) = inner.resume(()) {
            y.suspend(v * 10);
        }
        99
    });
    let mut seen = vec![];
    while let CoroutineResult::Yield(v) = outer.resume(()) {
        seen.push(v);
    }
    assert_eq!(seen, [10, 20]);
}

#[test]
fn many_coroutines_interleave() {
    let mut cos: Vec<_> = (0..200u64)
        .map(|i| {
            Coroutine::with_stack(small(16 * 1024), move |y: &Yielder<(), u64>, ()| {
                for k in 0..10 {
                    y.suspend(i * 100 + k);
                }
            })
        })
        .collect();
    for k in 0..10 {
        for (i, co) in cos.iter_mut().enumerate() {
            assert_eq!(co.resume(()), CoroutineResult::Yield(i as u64 * 100 + k));
        }
    }
    assert!(
        cos.iter_mut()
            .all(|co| co.resume(()) == CoroutineResult::Return(()))
    );
}

/// Floating-point values live across switches in callee-saved registers
/// (d8–d15 on aarch64, fs0–fs11 on riscv64) must survive.
#[test]
fn floating_point_state_survives_switches() {
    #[inline(never)]
    fn churn(y: &Yielder<f64, f64>, seed: f64) -> f64 {
        let (mut a, mut b, mut c, mut d) = (seed, seed * 2.0, seed * 3.0, seed * 4.0);
        for i in 0..100 {
            let x = y.suspend(a + b + c + d);
            a = a * 1.0001 + x;
            b = b * 0.9999 - x;
            c += i as f64;
            d -= i as f64;
        }
        a + b + c + d
    }
    let mut co = Coroutine::with_stack(stack(), churn);
    let (mut a, mut b, mut c, mut d) = (1.5f64, 2.5f64, 3.5f64, 4.5f64);
    let mut got = co.resume(1.0);
    for i in 0..100 {
        a *= 1.01;
        b += 0.5;
        c -= a;
        d *= 0.99;
        got = co.resume(i as f64);
    }
    let expected = {
        let (mut a, mut b, mut c, mut d) = (1.0f64, 2.0, 3.0, 4.0);
        for i in 0..100 {
            let x = i as f64;
            a = a * 1.0001 + x;
            b = b * 0.9999 - x;
            c += i as f64;
            d -= i as f64;
        }
        a + b + c + d
    };
    assert_eq!(got, CoroutineResult::Return(expected));
    let mut check = (1.5f64, 2.5f64, 3.5f64, 4.5f64);
    for _ in 0..100 {
        check.0 *= 1.01;
        check.1 += 0.5;
        check.2 -= check.0;
        check.3 *= 0.99;
    }
    assert_eq!((a, b, c, d), check);
}

/// MXCSR is callee-saved on x86_64: with `fp-env`, a coroutine's rounding
/// mode stays its own.
#[cfg(all(target_arch = "x86_64", feature = "fp-env"))]
#[test]
#[allow(deprecated)]
fn mxcsr_is_per_coroutine() {
    use std::arch::x86_64::{_MM_ROUND_MASK, _MM_ROUND_TOWARD_ZERO, _mm_getcsr, _mm_setcsr};
    // SAFETY: reading and writing MXCSR is always allowed on x86_64.
    let outside = unsafe { _mm_getcsr() };
    let mut co = Coroutine::with_stack(stack(), |y: &Yielder<(), u32>, ()| {
        // SAFETY: as above.
        unsafe { _mm_setcsr((_mm_getcsr() & !_MM_ROUND_MASK) | _MM_ROUND_TOWARD_ZERO) };
        y.suspend(0);
        // SAFETY: as above.
        unsafe { _mm_getcsr() & _MM_ROUND_MASK }
    });
    co.resume(());
    // SAFETY: as above.
    assert_eq!(unsafe { _mm_getcsr() }, outside);
    assert_eq!(
        co.resume(()),
        CoroutineResult::Return(_MM_ROUND_TOWARD_ZERO)
    );
}

#[test]
fn names_are_kept() {
    let co = Coroutine::with_stack(stack(), |_: &Yielder<(), ()>, ()| {}).with_name("worker-7");
    assert_eq!(co.name(), Some("worker-7"));
    let co = co.with_name(format!("dyn-{}", 8));
    assert_eq!(co.name(), Some("dyn-8"));
}

#[test]
#[should_panic(expected = "does not fit")]
fn a_closure_larger_than_the_stack_is_refused() {
    let big = [0u8; 64 * 1024];
    let _co = Coroutine::with_stack(small(16 * 1024), move |_: &Yielder<(), ()>, ()| {
        std::hint::black_box(&big);
    });
}

#[test]
fn into_stack_unwinds_and_returns_the_stack() {
    let drops = Rc::new(Cell::new(0));
    let guard = DropCounter(drops.clone());
    let stack = stack();
    let top = xasync_core::stack::Stack::top(&stack);
    let mut co = Coroutine::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
        let _guard = guard;
        y.suspend(());
    });
    co.resume(());
    let stack = co.into_stack();
    assert_eq!(drops.get(), 1, "the suspended stack was unwound");
    assert_eq!(xasync_core::stack::Stack::top(&stack), top);
    // The stack serves a new coroutine.
    let mut again = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| 5);
    assert_eq!(again.resume(()), CoroutineResult::Return(5));
}

#[test]
fn try_suspend_hands_cancellation_to_the_coroutine() {
    use xasync_core::coroutine::Cancelled;
    let log = Rc::new(Cell::new(0));
    let l = log.clone();
    let mut co = Coroutine::with_stack(stack(), move |y: &Yielder<u32, u32>, mut x: u32| {
        loop {
            match y.try_suspend(x * 2) {
                Ok(next) => x = next,
                Err(Cancelled) => {
                    // Not unwinding: ordinary code runs and returns.
                    assert!(!std::thread::panicking());
                    l.set(x);
                    return;
                }
            }
        }
    });
    assert_eq!(co.resume(3), CoroutineResult::Yield(6));
    assert_eq!(co.resume(21), CoroutineResult::Yield(42));
    drop(co);
    assert_eq!(
        log.get(),
        21,
        "the coroutine saw Err(Cancelled) and returned"
    );
}

#[test]
fn stackful_try_wait_returns_cancelled_when_the_task_is_cancelled() {
    use std::sync::{Arc, Mutex};
    use xasync_core::task::{self, Runnable, stackful::Stackful};
    let queue: Arc<Mutex<Vec<Runnable>>> = Arc::default();
    let q = queue.clone();
    let outcome: Arc<Mutex<Option<&str>>> = Arc::default();
    let o = outcome.clone();
    let body = Stackful::<_, _, DefaultHeapStack<TestStacks>>::new(move |s| {
        let r = s.try_wait(std::future::pending::<()>());
        *o.lock().unwrap() = Some(if r.is_err() { "cancelled" } else { "finished" });
    });
    // SAFETY: run and dropped on this thread only.
    let (runnable, handle) =
        unsafe { task::raw::spawn_unchecked(body, move |r| q.lock().unwrap().push(r), 0) };
    runnable.run();
    handle.cancel();
    let r = queue
        .lock()
        .unwrap()
        .pop()
        .expect("scheduled to be cancelled");
    r.run();
    assert_eq!(*outcome.lock().unwrap(), Some("cancelled"));
}

#[test]
fn waiting_after_a_cancellation_completes_in_the_task_or_blocking_the_dropper() {
    use std::sync::{Arc, Mutex};
    use xasync_core::task::{self, Runnable, stackful::Stackful};
    // As a coroutine task (cancelled over polls), then as a future that is
    // simply dropped (its drop unwinds the coroutine, blocking the thread).
    for by_poll in [true, false] {
        let queue: Arc<Mutex<Vec<Runnable>>> = Arc::default();
        let q = queue.clone();
        let log: Arc<Mutex<Vec<&str>>> = Arc::default();
        let l = log.clone();
        let body = Stackful::<_, _, DefaultHeapStack<TestStacks>>::new(move |s| {
            if s.try_wait(std::future::pending::<()>()).is_err() {
                l.lock().unwrap().push("cancelled");
                s.wait(async {});
                s.yield_now(); // suspends: completes over another poll
                l.lock().unwrap().push("cleaned up");
                assert!(
                    s.try_wait(async {}).is_err(),
                    "try_wait after a cancellation"
                );
            }
        });
        let schedule = move |r| q.lock().unwrap().push(r);
        // SAFETY: run and dropped on this thread only.
        let (runnable, handle) = unsafe {
            if by_poll {
                task::raw::spawn_stackful(body, schedule, 0)
            } else {
                task::raw::spawn_unchecked(body, schedule, 0)
            }
        };
        runnable.run();
        handle.cancel();
        let mut runs = 0;
        loop {
            let next = queue.lock().unwrap().pop();
            let Some(r) = next else { break };
            if let Some(again) = r.run() {
                queue.lock().unwrap().push(again);
            }
            runs += 1;
        }
        assert!(handle.is_finished());
        // By poll: the cancellation, then the yield; by drop: one run.
        assert_eq!(runs, if by_poll { 2 } else { 1 });
        assert_eq!(*log.lock().unwrap(), ["cancelled", "cleaned up"]);
    }
}
