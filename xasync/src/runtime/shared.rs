//! What all workers of a runtime share: the global queue, each worker's
//! remote inbox and parker, the sleeping-worker list, the registry of tasks
//! spawned from outside, and the shutdown flag; and [`Hook`], how a task
//! reaches it.
//!
//! # Where a woken task goes
//!
//! Each task carries a tag (see [`Tag`]). A started coroutine is pinned to
//! the worker it first ran on: woken on that worker it goes to the worker's
//! local queue, woken elsewhere to the worker's inbox (and the worker is
//! unparked). Futures and unstarted coroutines go to the current worker's
//! local queue — busy workers donate some to parked ones — or, from other
//! threads, to the global injector, and an idle worker is unparked.

use super::metrics::{Counters, add};
use super::park::Parker;
use super::sleepers::Sleepers;
use super::timers::{Clock, Timers};
use super::worker;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use xasync_core::task::raw::TaskRef;
use xasync_core::task::{Runnable, Schedule};

/// How many spare references to [`Shared`] a worker keeps (see [`Hook`]).
const SPARE_REFERENCES: usize = 1024;

/// How a task's tag says where it may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    /// A `Send` future: any worker.
    Free,
    /// A coroutine that has not run yet: any worker, which then keeps it.
    Unstarted,
    /// A coroutine pinned to this worker.
    Pinned(usize),
}

impl Tag {
    /// The tag word.
    pub(crate) const fn word(self) -> usize {
        match self {
            Tag::Free => 0,
            Tag::Unstarted => 1,
            Tag::Pinned(worker) => 2 + worker,
        }
    }

    /// Decodes a tag word.
    pub(crate) fn of(word: usize) -> Tag {
        match word {
            0 => Tag::Free,
            1 => Tag::Unstarted,
            w => Tag::Pinned(w - 2),
        }
    }
}

/// A worker's parts that other threads use.
pub(crate) struct Remote {
    /// Steals from the worker's deque.
    pub(crate) stealer: Stealer<Runnable>,
    /// Pinned tasks woken by other threads.
    pub(crate) inbox: Injector<Runnable>,
    pub(crate) parker: Parker,
    /// During shutdown: how many tasks spawned on this worker are still
    /// unfinished, as last counted by the worker.
    pub(crate) unfinished: AtomicUsize,
    /// Timers registered on this worker.
    pub(crate) timers: Timers,
    /// Strong counts of the runtime's `Arc<Shared>` that tasks destroyed
    /// on this worker left behind, for the next tasks spawned here (see
    /// [`Hook`]). Only the worker's thread changes it (plain loads and
    /// stores), until the last worker out releases them all.
    spare_references: AtomicUsize,
    /// The worker's event counts; only its thread writes them.
    pub(crate) counters: CachePadded<Counters>,
    /// The worker's polls so far, doubled, plus one from the start of a
    /// poll, or from its leaving its park, until the worker parks (even
    /// before it starts): what the watchdog watches, and what tells the
    /// monitor it may sleep (see [`super::watchdog`]). Only the worker's
    /// thread writes it.
    pub(crate) activity: CachePadded<AtomicU64>,
    /// A dump asks the worker for its coroutines (see [`super::dump`]).
    pub(crate) dump_asked: AtomicBool,
    /// Where the worker sends them.
    pub(crate) dump_reply: Mutex<Option<DumpReply>>,
    /// Where the worker's thread leaves a stall report's details.
    pub(crate) stall: super::watchdog::StallSlot,
}

/// Where a worker sends its part of a dump: its index and its coroutines.
pub(crate) type DumpReply = crate::sync::channel::Sender<(usize, Vec<super::TaskDump>)>;

/// State shared by the workers of one runtime.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Runnable>,
    pub(crate) remotes: Box<[Remote]>,
    /// The parked workers.
    pub(crate) sleepers: Sleepers,
    /// Set when the runtime shuts down: tasks are cancelled, workers exit
    /// once they run dry.
    pub(crate) closing: AtomicBool,
    /// Set to make workers publish their `unfinished` counts (graceful
    /// shutdown waits for them to reach zero).
    pub(crate) census: AtomicBool,
    /// Workers that have not exited yet.
    running: AtomicUsize,
    /// Set by the last worker to exit: a task queued on the global queue
    /// from then on is cancelled by whoever queued it.
    stopped: AtomicBool,
    /// The pool for `blocking` closures.
    pub(crate) blocking: super::blocking::BlockingPool,
    /// Stack configuration of the workers' pools.
    pub(crate) stacks: crate::stack::StackConfig,
    /// Ticks of the timers.
    pub(crate) clock: Clock,
    /// Events on threads that are not workers of this runtime.
    pub(crate) elsewhere: Counters,
    /// The timeline being recorded, if any.
    pub(crate) trace: Option<super::trace::Trace>,
    /// The names of the named futures, for dumps.
    pub(crate) future_names: Arc<super::tasks::Names>,
    /// The names of the named coroutines that have not started, for dumps.
    pub(crate) unstarted_names: Arc<super::tasks::Names>,
    /// Held by the dump in progress.
    pub(crate) dumping: crate::sync::Mutex<()>,
    /// Wakes the runtime's monitor when it sleeps (see [`super::watchdog`]).
    pub(crate) bell: Arc<super::watchdog::Bell>,
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<Stealer<Runnable>>,
        blocking: super::blocking::BlockingPool,
        stacks: crate::stack::StackConfig,
        trace: Option<super::trace::Trace>,
        io: crate::io::IoBackend,
    ) -> std::io::Result<Shared> {
        let workers = stealers.len();
        let mut parkers = Vec::with_capacity(workers);
        for _ in 0..workers {
            parkers.push(Parker::new(io)?);
        }
        Ok(Shared {
            injector: Injector::new(),
            remotes: stealers
                .into_iter()
                .zip(parkers)
                .map(|(stealer, parker)| Remote {
                    stealer,
                    inbox: Injector::new(),
                    parker,
                    unfinished: AtomicUsize::new(usize::MAX),
                    timers: Timers::default(),
                    spare_references: AtomicUsize::new(0),
                    counters: CachePadded::default(),
                    activity: CachePadded::default(),
                    dump_asked: AtomicBool::new(false),
                    dump_reply: Mutex::new(None),
                    stall: Default::default(),
                })
                .collect(),
            sleepers: Sleepers::new(workers),
            closing: AtomicBool::new(false),
            census: AtomicBool::new(false),
            running: AtomicUsize::new(workers),
            stopped: AtomicBool::new(false),
            blocking,
            stacks,
            clock: Clock::new(),
            elsewhere: Counters::default(),
            trace,
            future_names: Arc::default(),
            unstarted_names: Arc::default(),
            dumping: crate::sync::Mutex::new(()),
            bell: Arc::default(),
        })
    }

    /// Queues a woken task where its tag allows (see the module docs).
    pub(crate) fn schedule(self: &Arc<Self>, runnable: Runnable) {
        match Tag::of(runnable.tag()) {
            Tag::Pinned(home) => {
                if let Err(runnable) = worker::push_pinned_local(self, home, runnable) {
                    let remote = &self.remotes[home];
                    remote.inbox.push(runnable);
                    remote.parker.unpark();
                }
            }
            Tag::Free | Tag::Unstarted => {
                // On a worker it joins the local queue (donated to idle
                // workers if there are any); elsewhere the global queue.
                if let Err(runnable) = worker::push_local(self, runnable) {
                    self.injector.push(runnable);
                    self.notify_one();
                    if self.stopped.load(Ordering::SeqCst) {
                        // No worker is left to run it (see `worker_exited`).
                        self.cancel_queued();
                    }
                }
            }
        }
    }

    /// Records that a worker exited. The last one cancels what is left on
    /// the global queue: tasks spawned from other threads while the
    /// workers were leaving (only futures and unstarted coroutines go
    /// there, which may be dropped on any thread), and releases the
    /// workers' spare references (see [`Hook`]).
    pub(crate) fn worker_exited(self: &Arc<Self>) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Against `schedule`: either it sees `stopped`, or we see its
            // task on the queue.
            self.stopped.store(true, Ordering::SeqCst);
            self.cancel_queued();
            // Every worker handed its part in before it got here.
            if let Some(trace) = &self.trace {
                trace.write();
            }
            // Every worker saw the runtime closing before it exited, and
            // takes or leaves no spare reference since (see `Hook`); the
            // exiting worker's own reference outlives this loop.
            for remote in self.remotes.iter() {
                for _ in 0..remote.spare_references.swap(0, Ordering::AcqRel) {
                    // SAFETY: a strong count of this Arc that a destroyed
                    // task's hook left behind, released once.
                    unsafe { Arc::decrement_strong_count(Arc::as_ptr(self)) };
                }
            }
        }
    }

    /// Cancels (drops) every task on the global queue.
    fn cancel_queued(&self) {
        while let Some(runnable) = super::worker::steal_one(|| self.injector.steal()) {
            drop(runnable);
        }
    }

    /// Whether some worker is parked.
    pub(crate) fn has_sleepers(&self) -> bool {
        self.sleepers.any()
    }

    /// Wakes one parked worker, if any, to look for work.
    pub(crate) fn notify_one(&self) {
        if let Some(index) = self.sleepers.notify_one() {
            self.remotes[index].parker.unpark();
        }
    }

    /// Wakes every worker (shutdown).
    pub(crate) fn notify_all(&self) {
        for remote in self.remotes.iter() {
            remote.parker.unpark();
        }
    }

    /// Whether stealable work is visible anywhere.
    pub(crate) fn has_free_work(&self) -> bool {
        !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty())
    }

    /// During shutdown: whether every task of the runtime has finished.
    pub(crate) fn all_finished(&self) -> bool {
        self.unfinished_published() == 0
    }

    /// Unfinished waiting tasks as last published by the workers (during a
    /// census or shutdown).
    pub(crate) fn unfinished_published(&self) -> usize {
        self.remotes.iter().fold(0, |sum, r| {
            sum.saturating_add(r.unfinished.load(Ordering::Acquire))
        })
    }
}

/// A task's scheduler hook: a counted reference to its runtime, through
/// which its wake-ups are queued.
///
/// A counted reference costs two atomic read-modify-writes per task (the
/// clone and the drop). Instead, a hook dropped on a worker of its runtime
/// leaves its count with that worker as a spare, which the next hook made
/// there takes over: a worker that spawns and finishes tasks in a loop
/// touches the count only now and then. Spares are neither taken nor left
/// once the runtime is closing; the last worker out releases them.
pub(crate) struct Hook {
    shared: ManuallyDrop<Arc<Shared>>,
}

impl Hook {
    /// A hook for a new task of `shared`'s runtime.
    #[inline]
    pub(crate) fn new(shared: &Arc<Shared>) -> Hook {
        let here = worker::current_index(shared);
        match here {
            Some(index) => super::metrics::bump(&shared.remotes[index].counters.spawned),
            None => add(&shared.elsewhere.spawned),
        }
        if let Some(spare) = spare_references(shared, here) {
            let count = spare.load(Ordering::Relaxed);
            if count > 0 {
                spare.store(count - 1, Ordering::Relaxed);
                // SAFETY: the spare is a strong count of this Arc (left by
                // a dropped hook, see `Drop`), taken over here once.
                let shared = unsafe { Arc::from_raw(Arc::as_ptr(shared)) };
                return Hook {
                    shared: ManuallyDrop::new(shared),
                };
            }
        }
        Hook {
            shared: ManuallyDrop::new(shared.clone()),
        }
    }
}

impl Schedule for Hook {
    fn schedule(&self, runnable: Runnable) {
        self.shared.schedule(runnable)
    }
}

impl Drop for Hook {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken once, here.
        let shared = unsafe { ManuallyDrop::take(&mut self.shared) };
        let here = worker::current_index(&shared);
        match here {
            Some(index) => super::metrics::bump(&shared.remotes[index].counters.finished),
            None => add(&shared.elsewhere.finished),
        }
        if let Some(spare) = spare_references(&shared, here) {
            let count = spare.load(Ordering::Relaxed);
            if count < SPARE_REFERENCES {
                spare.store(count + 1, Ordering::Relaxed);
                // The count stays with the worker (see `Hook`).
                std::mem::forget(shared);
            }
        }
    }
}

/// The spare references of the worker running on this thread (`here`, if
/// it is one of `shared`'s) if the runtime is not closing: until it exits,
/// such a worker sees it open (it exits only once it saw it closing).
#[inline]
fn spare_references(shared: &Arc<Shared>, here: Option<usize>) -> Option<&AtomicUsize> {
    let index = here?;
    (!shared.closing.load(Ordering::Acquire)).then(|| &shared.remotes[index].spare_references)
}

/// Drops the finished tasks of a registry when it is full, then makes room
/// for at least as many tasks as are left, so that the next sweep (which
/// costs about twice that) is at least that many pushes away: amortized
/// O(1) per task even when most tasks are still running.
pub(crate) fn sweep(registry: &mut Vec<TaskRef>) {
    if registry.len() >= 64 && registry.len() == registry.capacity() {
        registry.retain(|task| !task.is_finished());
        registry.reserve(registry.len());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_spare_references_are_released_at_shutdown() {
        let rt = crate::Runtime::builder().workers(2).build().unwrap();
        let shared = Arc::downgrade(&rt.handle().shared);
        rt.xasync(|| {
            for i in 0..100 {
                crate::xawait(crate::xasync(move || i));
                crate::xawait(crate::spawn(async move { i }));
            }
        })
        .join()
        .unwrap();
        let spares: usize = shared
            .upgrade()
            .unwrap()
            .remotes
            .iter()
            .map(|r| r.spare_references.load(Ordering::Relaxed))
            .sum();
        assert!(spares > 0, "finished tasks left no spare reference");
        rt.shutdown();
        assert!(
            shared.upgrade().is_none(),
            "the runtime outlived its shutdown"
        );
    }
}
