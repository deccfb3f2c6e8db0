//! Preemption: coroutines that never yield share the CPU because the timer
//! interrupt suspends them (see the kernel's `preempt` module for the
//! design). Checks that
//!
//! * two CPU-bound coroutines both make progress, interleaved, and compute
//!   exactly what they compute unpreempted (every integer and floating-point
//!   register survives each preemption);
//! * voluntary `yield_now` and preemption mix;
//! * a preemptible coroutine is not preempted while it runs a nested
//!   coroutine (its `sp` is elsewhere), only after.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::stack::HeapStack;
use xasync_kernel_riscv64::preempt::{Preemptible, Stop, yield_now};
use xasync_kernel_riscv64::{BootInfo, entry, hart, irq, println, timer};

entry!(main);

/// Iterations of each busy loop.
const WORK: u64 = 2_000_000;
/// Progress of the two busy loops, published every 1024 iterations.
static PROGRESS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

fn main(_: &BootInfo) {
    // The reference results, computed before any timer runs.
    let expected = [busy(0, 0x1234, 1.5), busy(1, 0x9876, 2.5)];
    PROGRESS.iter().for_each(|p| p.store(0, Ordering::Relaxed));

    timer::start_periodic(Duration::from_millis(2));
    irq::enable();
    busy_loops_share_the_cpu(expected);
    yields_and_preemptions_mix();
    nested_coroutines_are_not_preempted();
    let _ = irq::disable();
    timer::stop();
}

/// A loop that never yields: an integer hash chain and a floating-point
/// recurrence, kept in registers; returns both.
fn busy(id: usize, seed: u64, start: f64) -> (u64, u64) {
    let mut hash = black_box(seed);
    let mut x = black_box(start);
    for i in 0..WORK {
        hash = hash
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407 ^ i);
        x = x * 1.000_001 + 0.5;
        if x > 1.0e6 {
            x *= 1.0e-3;
        }
        if i % 1024 == 0 {
            PROGRESS[id].store(i + 1, Ordering::Relaxed);
        }
    }
    PROGRESS[id].store(WORK, Ordering::Relaxed);
    (hash, x.to_bits())
}

fn busy_loops_share_the_cpu(expected: [(u64, u64); 2]) {
    let preemptions_before = hart::this().preemptions();
    let mut loops: Vec<Preemptible<(u64, u64)>> = [(0, 0x1234, 1.5), (1, 0x9876, 2.5)]
        .into_iter()
        .map(|(id, seed, start)| {
            // SAFETY: this kernel maps no guard pages; the code run on this
            // stack is its own, a few small frames deep.
            Preemptible::new(unsafe { HeapStack::new(32 * 1024) }, move || {
                busy(id, seed, start)
            })
        })
        .collect();
    let mut results = [None, None];
    // (who ran, why it stopped, progress of both after the slice)
    let mut slices: Vec<(usize, Option<Stop>, [u64; 2])> = Vec::new();
    let start = timer::now();
    while loops.iter().any(|l| !l.done()) {
        for (id, l) in loops.iter_mut().enumerate().filter(|(_, l)| !l.done()) {
            let stop = match l.resume() {
                CoroutineResult::Yield(stop) => Some(stop),
                CoroutineResult::Return(result) => {
                    results[id] = Some(result);
                    None
                }
            };
            let progress = [0, 1].map(|i| PROGRESS[i].load(Ordering::Relaxed));
            slices.push((id, stop, progress));
        }
    }
    let elapsed = timer::duration(timer::now() - start);
    let preempted = |who| {
        slices
            .iter()
            .filter(|&&(id, stop, _)| id == who && stop == Some(Stop::Preempted))
            .count()
    };
    println!(
        "preemption: two busy loops finished in {} slices, {} ms: loop 0 preempted {} times, \
         loop 1 {} times",
        slices.len(),
        elapsed.as_millis(),
        preempted(0),
        preempted(1)
    );
    for (id, result) in results.iter().enumerate() {
        assert_eq!(
            *result,
            Some(expected[id]),
            "loop {id} computed something else when preempted: registers were not restored"
        );
    }
    assert!(
        preempted(0) >= 3 && preempted(1) >= 3,
        "not preempted enough"
    );
    assert!(
        slices
            .iter()
            .all(|&(_, stop, _)| stop != Some(Stop::Yielded)),
        "the busy loops never yield"
    );
    let both_midway = slices
        .iter()
        .any(|&(_, _, [a, b])| a > 0 && a < WORK && b > 0 && b < WORK);
    assert!(both_midway, "the loops did not run interleaved");
    let counted = hart::this().preemptions() - preemptions_before;
    assert_eq!(counted as usize, preempted(0) + preempted(1));
    println!(
        "preemption: both loops made progress side by side; results match the unpreempted run"
    );
}

fn yields_and_preemptions_mix() {
    static SPINS: AtomicU64 = AtomicU64::new(0);
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut yielder = Preemptible::new(unsafe { HeapStack::new(32 * 1024) }, || {
        for _ in 0..10 {
            yield_now();
        }
        10
    });
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut spinner = Preemptible::new(unsafe { HeapStack::new(32 * 1024) }, || {
        let ticks = timer::ticks();
        while timer::ticks() < ticks + 5 {
            SPINS.fetch_add(1, Ordering::Relaxed);
        }
    });
    let (mut yields, mut preemptions) = (0, 0);
    while !yielder.done() || !spinner.done() {
        for task in [&mut yielder as &mut dyn Task, &mut spinner] {
            match task.step() {
                Some(Stop::Yielded) => yields += 1,
                Some(Stop::Preempted) => preemptions += 1,
                None => {}
            }
        }
    }
    println!("preemption: {yields} voluntary yields and {preemptions} preemptions interleaved");
    assert_eq!(yields, 10);
    assert!(preemptions >= 4, "the spinner spans 5 ticks");
}

/// A round-robin step over preemptible coroutines of different types.
trait Task {
    fn step(&mut self) -> Option<Stop>;
}

impl<R> Task for Preemptible<R> {
    fn step(&mut self) -> Option<Stop> {
        if self.done() {
            return None;
        }
        self.resume().as_yield()
    }
}

fn nested_coroutines_are_not_preempted() {
    // SAFETY: this kernel maps no guard pages; the code run on this
    // stack is its own, a few small frames deep.
    let mut outer = Preemptible::new(unsafe { HeapStack::new(32 * 1024) }, || {
        // A nested coroutine that spins for 3 ticks: the slices end, but its
        // stack is not the preemptible one, so nothing may preempt it.
        let mut nested =
            // SAFETY: this kernel maps no guard pages; the code run on this
            // stack is its own, a few small frames deep.
            Coroutine::<(), (), _, _>::with_stack(unsafe { HeapStack::new(16 * 1024) }, |_, ()| {
                let preemptions = hart::this().preemptions();
                let ticks = timer::ticks();
                while timer::ticks() < ticks + 3 {}
                (
                    hart::this().preemptions() - preemptions,
                    timer::ticks() - ticks,
                )
            });
        let CoroutineResult::Return(inside) = nested.resume(()) else {
            unreachable!("the nested coroutine does not suspend")
        };
        // Back on the preemptible stack: the pending reschedule lands at the
        // next tick.
        let ticks = timer::ticks();
        while timer::ticks() < ticks + 3 {}
        inside
    });
    let mut preempted_after = 0;
    let (preempted_inside, ticks_inside) = loop {
        match outer.resume() {
            CoroutineResult::Yield(stop) => {
                assert_eq!(stop, Stop::Preempted);
                preempted_after += 1;
            }
            CoroutineResult::Return(inside) => break inside,
        }
    };
    println!(
        "preemption: a nested coroutine ran {ticks_inside} ticks unpreempted \
         ({preempted_inside} preemptions); the outer one was preempted {preempted_after} \
         times after it"
    );
    assert!(ticks_inside >= 3);
    assert_eq!(
        preempted_inside, 0,
        "preempted while its sp was on a nested stack"
    );
    assert!(preempted_after >= 2);
}
