//! What a runtime has done so far: [`Runtime::metrics`](super::Runtime::metrics).
//!
//! Each worker counts in [`Counters`] of its own, on a cache line of their
//! own, with a plain load and store per event (only its thread writes
//! them: no atomic read-modify-write, no line shared with the others).
//! Events on other threads (spawning from a plain thread, dropping the
//! last handle of a finished task there) go to one shared set with atomic
//! additions, as they already cost a queue operation or more.

use std::sync::atomic::{AtomicU64, Ordering};

/// Event counts of one worker (or of the threads that are not workers).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) spawned: AtomicU64,
    pub(crate) finished: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) stalls: AtomicU64,
    /// Published by the worker as it parks (and at each dump or metrics
    /// look, the last value it published).
    pub(crate) live_coroutines: AtomicU64,
    pub(crate) ready: AtomicU64,
    pub(crate) parked_ns: AtomicU64,
}

/// Adds one to a counter only its owner's thread writes: a load and a
/// store, no read-modify-write.
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Adds one to a counter any thread may write.
#[inline]
pub(crate) fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What a runtime has done so far, in total and per worker (see
/// [`Runtime::metrics`](super::Runtime::metrics)). Counters read from
/// running workers are each exact, but not all of the same instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Tasks (coroutines and futures) created so far.
    pub spawned: u64,
    /// Tasks done with: finished and released by their handle (joined,
    /// detached or dropped) and by their wakers.
    pub finished: u64,
    /// `spawned - finished`: tasks not done with yet.
    pub live: u64,
    /// Times a worker spent longer than the stall threshold inside one task
    /// (see [`Builder::stall_threshold`](super::Builder::stall_threshold)).
    pub stalls: u64,
    /// Polls of tasks (each run of a future, each resumption of a
    /// coroutine).
    pub polls: u64,
    /// Batches of tasks idle workers took from busy ones.
    pub steals: u64,
    /// Times a worker went to sleep for want of work (and was woken).
    pub parks: u64,
    /// Coroutines that have suspended and not ended (those a dump lists),
    /// as the workers last published (when they parked or answered a
    /// dump).
    pub live_coroutines: u64,
    /// Tasks queued: the global queue, the workers' inboxes and stealable
    /// queues, now; the workers' local queues as last published.
    pub queued: u64,
    /// Threads of the blocking pool.
    pub blocking_threads: u64,
    /// Coroutine stacks mapped in the process: guarded ones in mappings of
    /// their own (on kernels without guard regions; pooled stacks in slabs
    /// are not counted).
    pub guarded_stacks: u64,
    /// Per worker.
    pub workers: Vec<WorkerMetrics>,
}

/// What one worker has done so far (see [`Metrics`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Tasks created on this worker.
    pub spawned: u64,
    /// Tasks done with on this worker.
    pub finished: u64,
    /// Polls run.
    pub polls: u64,
    /// Batches stolen from other workers.
    pub steals: u64,
    /// Times it went to sleep.
    pub parks: u64,
    /// Stalls inside one task.
    pub stalls: u64,
    /// Coroutines pinned here that have suspended and not ended, as last
    /// published.
    pub live_coroutines: u64,
    /// Tasks in its queues (local, as last published).
    pub queued: u64,
    /// Milliseconds spent asleep (the rest of its life it was busy).
    pub parked_ms: u64,
}

impl Counters {
    /// A worker's view of these counters, with `queued` tasks in queues
    /// others can see and its `activity` word (see
    /// [`Remote::activity`](super::shared::Remote::activity)).
    pub(crate) fn worker(&self, queued: u64, activity: u64) -> WorkerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerMetrics {
            spawned: get(&self.spawned),
            finished: get(&self.finished),
            polls: activity >> 1,
            steals: get(&self.steals),
            parks: get(&self.parks),
            stalls: get(&self.stalls),
            live_coroutines: get(&self.live_coroutines),
            queued: get(&self.ready) + queued,
            parked_ms: get(&self.parked_ns) / 1_000_000,
        }
    }
}

impl Metrics {
    /// Totals of `workers` plus the events of other threads.
    pub(crate) fn total(
        workers: Vec<WorkerMetrics>,
        elsewhere: &Counters,
        queued_elsewhere: u64,
    ) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let sum = |f: fn(&WorkerMetrics) -> u64| workers.iter().map(f).sum::<u64>();
        let spawned = sum(|w| w.spawned) + get(&elsewhere.spawned);
        let finished = sum(|w| w.finished) + get(&elsewhere.finished);
        Metrics {
            spawned,
            finished,
            live: spawned.saturating_sub(finished),
            stalls: sum(|w| w.stalls),
            polls: sum(|w| w.polls),
            steals: sum(|w| w.steals),
            parks: sum(|w| w.parks),
            live_coroutines: sum(|w| w.live_coroutines),
            queued: sum(|w| w.queued) + queued_elsewhere,
            blocking_threads: 0,
            guarded_stacks: crate::stack::live_guarded_stacks() as u64,
            workers,
        }
    }
}
