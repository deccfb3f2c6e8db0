//! Preemption scenarios, run by every kernel's `preemption` image:
//! coroutines that never yield share the CPU because the timer
//! tick suspends them. The kernel supplies its preemptible coroutines
//! through [`Preemption`], starts a periodic tick and enables interrupts;
//! [`run`] checks that
//!
//! * two CPU-bound coroutines both make progress, interleaved, and compute
//!   exactly what they compute unpreempted (every integer and
//!   floating-point register survives each preemption);
//! * voluntary `yield_now` and preemption mix;
//! * a preemptible coroutine is not preempted while it runs a nested
//!   coroutine (its stack pointer is elsewhere), only after;
//! * coroutines that allocate all the time are preempted, and the code
//!   that resumes them allocates too: a preemption while the allocator is
//!   locked would deadlock (the kernel's allocator must mask interrupts).

use crate::Out;
use alloc::vec::Vec;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use xasync_core::coroutine::{Coroutine, CoroutineResult};
use xasync_core::stack::HeapStack;

/// Why a preemptible coroutine stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Its time slice ended.
    Preempted,
    /// It yielded.
    Yielded,
}

/// A preemptible coroutine of the kernel.
pub trait Preemptible<R> {
    /// Runs it until its time slice ends, it yields or it returns.
    fn resume(&mut self) -> CoroutineResult<Stop, R>;
    /// Whether its function has returned.
    fn done(&self) -> bool;
}

/// What the scenarios need from the kernel.
pub trait Preemption {
    /// The kernel's preemptible coroutine returning `R`.
    type Coroutine<R: 'static>: Preemptible<R>;
    /// A preemptible coroutine that will run `f` on `stack`.
    fn new<R: 'static>(
        stack: HeapStack,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Self::Coroutine<R>;
    /// Suspends the calling preemptible coroutine ([`Stop::Yielded`]).
    fn yield_now();
    /// Timer ticks so far on this CPU.
    fn ticks() -> u64;
    /// Preemptions so far on this CPU.
    fn preemptions() -> u64;
    /// Time since boot.
    fn now() -> Duration;
    /// Masks interrupts on this CPU.
    fn disable();
    /// Unmasks interrupts on this CPU.
    fn enable();
    /// Starts this CPU's periodic tick, every `period`.
    fn start_tick(period: Duration);
    /// Stops this CPU's periodic tick.
    fn stop_tick();
}

/// Iterations of each busy loop.
const WORK: u64 = 2_000_000;
/// Progress of the two busy loops, published every 1024 iterations.
static PROGRESS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// The reference results of the busy loops: call it before the tick
/// starts.
pub fn reference() -> [(u64, u64); 2] {
    let expected = [busy(0, 0x1234, 1.5), busy(1, 0x9876, 2.5)];
    PROGRESS.iter().for_each(|p| p.store(0, Ordering::Relaxed));
    expected
}

/// A `preemption` image: computes the [`reference()`] results with
/// interrupts masked, then [`run`]s the scenarios under a tick every
/// `period` with interrupts unmasked; returns with interrupts masked and
/// the tick stopped.
pub fn run_ticking<K: Preemption>(period: Duration, out: Out<'_>) {
    K::disable();
    let expected = reference();
    K::start_tick(period);
    K::enable();
    run::<K>(expected, out);
    K::disable();
    K::stop_tick();
}

/// Runs the scenarios (see the module documentation); `expected` comes
/// from [`reference()`]. Needs the tick running and interrupts enabled.
pub fn run<K: Preemption>(expected: [(u64, u64); 2], out: Out<'_>) {
    busy_loops_share_the_cpu::<K>(expected, out);
    yields_and_preemptions_mix::<K>(out);
    nested_coroutines_are_not_preempted::<K>(out);
    allocating_coroutines_are_preempted::<K>(out);
}

fn stack(size: usize) -> HeapStack {
    // SAFETY: these kernels map no guard pages; the code run on this stack
    // is this module's, a few small frames deep.
    unsafe { HeapStack::new(size) }
}

/// A loop that never yields: an integer hash chain, a floating-point
/// recurrence and an exact floating-point sum, kept in registers; returns
/// the hash and both floats' bits mixed. (The recurrence alone forgets its
/// start — trajectories converge — so the sum, exact in an `f64` and
/// different for each loop, is what shows a floating-point register taken
/// from the other loop.)
fn busy(id: usize, seed: u64, start: f64) -> (u64, u64) {
    let mut hash = black_box(seed);
    let mut x = black_box(start);
    let mut sum = black_box(start * 1024.0);
    for i in 0..WORK {
        hash = hash
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407 ^ i);
        x = x * 1.000_001 + 0.5;
        if x > 1.0e6 {
            x *= 1.0e-3;
        }
        sum += ((i ^ seed) & 0xff) as f64;
        if i % 1024 == 0 {
            PROGRESS[id].store(i + 1, Ordering::Relaxed);
        }
    }
    PROGRESS[id].store(WORK, Ordering::Relaxed);
    (hash, x.to_bits() ^ sum.to_bits().rotate_left(17))
}

fn busy_loops_share_the_cpu<K: Preemption>(expected: [(u64, u64); 2], out: Out<'_>) {
    let preemptions_before = K::preemptions();
    let mut loops: Vec<K::Coroutine<(u64, u64)>> = [(0, 0x1234, 1.5), (1, 0x9876, 2.5)]
        .into_iter()
        .map(|(id, seed, start)| K::new(stack(32 * 1024), move || busy(id, seed, start)))
        .collect();
    let mut results = [None, None];
    // (who ran, why it stopped, progress of both after the slice)
    let mut slices: Vec<(usize, Option<Stop>, [u64; 2])> = Vec::new();
    let start = K::now();
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
    let elapsed = K::now() - start;
    let preempted = |who| {
        slices
            .iter()
            .filter(|&&(id, stop, _)| id == who && stop == Some(Stop::Preempted))
            .count()
    };
    out(format_args!(
        "preemption: two busy loops finished in {} slices, {} ms: loop 0 preempted {} times, \
         loop 1 {} times\n",
        slices.len(),
        elapsed.as_millis(),
        preempted(0),
        preempted(1)
    ));
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
    let counted = K::preemptions() - preemptions_before;
    assert_eq!(counted as usize, preempted(0) + preempted(1));
    out(format_args!(
        "preemption: both loops made progress side by side; results match the unpreempted run\n"
    ));
}

fn yields_and_preemptions_mix<K: Preemption>(out: Out<'_>) {
    static SPINS: AtomicU64 = AtomicU64::new(0);
    let mut yielder = K::new(stack(32 * 1024), || {
        for _ in 0..10 {
            K::yield_now();
        }
        10
    });
    let mut spinner = K::new(stack(32 * 1024), || {
        let ticks = K::ticks();
        while K::ticks() < ticks + 5 {
            SPINS.fetch_add(1, Ordering::Relaxed);
        }
    });
    let (mut yields, mut preemptions) = (0, 0);
    let mut count = |stop: Option<Stop>| match stop {
        Some(Stop::Yielded) => yields += 1,
        Some(Stop::Preempted) => preemptions += 1,
        None => {}
    };
    while !yielder.done() || !spinner.done() {
        count(step(&mut yielder));
        count(step(&mut spinner));
    }
    out(format_args!(
        "preemption: {yields} voluntary yields and {preemptions} preemptions interleaved\n"
    ));
    assert_eq!(yields, 10);
    assert!(preemptions >= 4, "the spinner spans 5 ticks");
}

/// One round-robin step: resumes `task` unless it is done.
fn step<R>(task: &mut impl Preemptible<R>) -> Option<Stop> {
    if task.done() {
        return None;
    }
    task.resume().as_yield()
}

fn nested_coroutines_are_not_preempted<K: Preemption>(out: Out<'_>) {
    let mut outer = K::new(stack(32 * 1024), || {
        // A nested coroutine that spins for 3 ticks: the slices end, but its
        // stack is not the preemptible one, so nothing may preempt it.
        let mut nested = Coroutine::<(), (), _, _>::with_stack(stack(16 * 1024), |_, ()| {
            let preemptions = K::preemptions();
            let ticks = K::ticks();
            while K::ticks() < ticks + 3 {}
            (K::preemptions() - preemptions, K::ticks() - ticks)
        });
        let CoroutineResult::Return(inside) = nested.resume(()) else {
            unreachable!("the nested coroutine does not suspend")
        };
        // Back on the preemptible stack: the pending reschedule lands at the
        // next tick.
        let ticks = K::ticks();
        while K::ticks() < ticks + 3 {}
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
    out(format_args!(
        "preemption: a nested coroutine ran {ticks_inside} ticks unpreempted \
         ({preempted_inside} preemptions); the outer one was preempted {preempted_after} \
         times after it\n"
    ));
    assert!(ticks_inside >= 3);
    assert_eq!(
        preempted_inside, 0,
        "preempted while its sp was on a nested stack"
    );
    assert!(preempted_after >= 2);
}

fn allocating_coroutines_are_preempted<K: Preemption>(out: Out<'_>) {
    const TICKS: u64 = 5;
    let mut loops: Vec<K::Coroutine<u64>> = (0..2)
        .map(|_| {
            K::new(stack(32 * 1024), || {
                let ticks = K::ticks();
                let mut allocations = 0;
                while K::ticks() < ticks + TICKS {
                    let block = black_box(alloc::vec![allocations; 16]);
                    allocations += block.len() as u64 / 16;
                }
                allocations
            })
        })
        .collect();
    let mut slices: Vec<Option<Stop>> = Vec::new();
    let mut allocations = 0;
    while loops.iter().any(|l| !l.done()) {
        for l in loops.iter_mut().filter(|l| !l.done()) {
            // Allocates here too, between slices: if a preempted coroutine
            // held the allocator's lock, this would never return.
            drop(black_box(alloc::boxed::Box::new(slices.len())));
            match l.resume() {
                CoroutineResult::Yield(stop) => slices.push(Some(stop)),
                CoroutineResult::Return(n) => {
                    allocations += n;
                    slices.push(None);
                }
            }
        }
    }
    let preempted = slices
        .iter()
        .filter(|s| **s == Some(Stop::Preempted))
        .count();
    out(format_args!(
        "preemption: two allocating loops made {allocations} allocations, preempted {preempted} \
         times\n"
    ));
    assert!(preempted >= 2, "the allocating loops span {TICKS} ticks");
}
