//! Asymmetric coroutines on bare metal: a counter that suspends with each
//! value, a coroutine that takes input on every resume, and 100 coroutines
//! interleaved round-robin.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::stack::HeapStack;
use xasync_kernel_riscv64::{BootInfo, entry, heap, println};

entry!(main);

fn main(_: &BootInfo) {
    let heap_before = heap::stats();
    counter();
    accumulator();
    interleaved();
    let heap_after = heap::stats();
    println!(
        "coroutine_counter: heap in use before {} B, after {} B",
        heap_before.used, heap_after.used
    );
    assert_eq!(heap_after, heap_before, "finished coroutines leaked memory");
}

/// Counts to `max` (its first input), suspending with each number.
fn counter() {
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut counter =
        Coroutine::with_stack(unsafe { HeapStack::new(16 * 1024) }, |yielder, max: u32| {
            for n in 1..=max {
                yielder.suspend(n);
            }
            "done"
        });
    assert!(!counter.started());
    let mut seen = Vec::new();
    let mut step = counter.resume(5);
    while let CoroutineResult::Yield(n) = step {
        seen.push(n);
        step = counter.resume(0);
    }
    println!("coroutine_counter: the counter yielded {seen:?}, then returned {step:?}");
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(step, CoroutineResult::Return("done"));
    assert!(counter.done());
}

/// Adds up what each resume hands in; suspends with the running total.
fn accumulator() {
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut sum = Coroutine::with_stack(
        unsafe { HeapStack::new(16 * 1024) },
        |yielder, first: u64| {
            let mut total = first;
            loop {
                match yielder.suspend(total) {
                    0 => return total,
                    n => total += n,
                }
            }
        },
    );
    assert_eq!(sum.resume(10), CoroutineResult::Yield(10));
    assert_eq!(sum.resume(5), CoroutineResult::Yield(15));
    assert_eq!(sum.resume(27), CoroutineResult::Yield(42));
    assert_eq!(sum.resume(0), CoroutineResult::Return(42));
    println!("coroutine_counter: the accumulator summed 10 + 5 + 27 = 42");
}

/// 100 coroutines, each yielding `id * 1000 + round` for 10 rounds and
/// returning the sum of the inputs it was resumed with, driven round-robin:
/// every round visits them in order, and every value is checked.
fn interleaved() {
    const COUNT: usize = 100;
    const ROUNDS: usize = 10;
    let mut coroutines: Vec<Coroutine<usize, usize, usize, HeapStack>> = (0..COUNT)
        .map(|id| {
            // SAFETY: this kernel maps no guard pages; the code run on this
            // stack is its own, a few small frames deep.
            Coroutine::with_stack(
                unsafe { HeapStack::new(16 * 1024) },
                move |yielder, first: usize| {
                    let mut inputs = first;
                    for round in 0..ROUNDS {
                        inputs += yielder.suspend(id * 1000 + round);
                    }
                    inputs
                },
            )
        })
        .collect();
    let mut switches = 0;
    for round in 0..ROUNDS {
        for (id, co) in coroutines.iter_mut().enumerate() {
            let input = if round == 0 { id } else { 1 };
            assert_eq!(co.resume(input), CoroutineResult::Yield(id * 1000 + round));
            switches += 1;
        }
    }
    for (id, co) in coroutines.iter_mut().enumerate() {
        // Inputs: `id` first, then 1 for rounds 1..ROUNDS, then this 1.
        assert_eq!(co.resume(1), CoroutineResult::Return(id + ROUNDS));
        assert!(co.done());
        switches += 1;
    }
    println!(
        "coroutine_counter: {COUNT} coroutines interleaved for {ROUNDS} rounds, \
         {switches} resumes, every value in order"
    );
}
