//! A worker thread: runs tasks from its queues, steals when idle, fires its
//! timers, parks when there is nothing to do.

use super::dump::DUMP_SLICE;
use super::metrics::bump;
use super::shared::{DumpReply, Shared, Tag, sweep};
use super::trace::Recorder;
use super::{TaskDump, tasks};
use crate::context::Polling;
use crate::stack::StackPool;
use crossbeam_deque::{Steal, Worker as Deque};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use xasync_core::task::Runnable;
use xasync_core::task::raw::TaskRef;

/// Tasks run between two looks at the inbox and global queue, so that
/// a busy local queue cannot starve them.
const FAIRNESS: u32 = 61;

/// How often (in tasks run) a busy worker checks whether others sleep and
/// could take some of its stealable tasks.
const DONATE_EVERY: u32 = 16;

/// How many of the newest ready tasks one donation looks at, so that its
/// cost does not grow with the queue (a million woken coroutines).
const DONATE_SCAN: usize = 64;

/// The worker's own state, on its thread.
///
/// Woken and yielding tasks wait in one FIFO, `ready`, so that a yielding
/// coroutine goes behind every task that was ready before it (and lets the
/// newest unstarted one start). Coroutines spawned here, and batches stolen
/// from elsewhere, wait in the work-stealing `deque` and run after the
/// ready tasks (and every [`FAIRNESS`] tasks), newest first: a tree of
/// spawns runs depth-first on few stacks, and woken coroutines finish
/// (freeing their stacks) before new ones take more. Idle workers steal
/// the oldest. Only tasks other workers may run (futures, unstarted
/// coroutines) are ever in `deque`: when some worker is parked, a busy one
/// wakes it for the deque, donating half of its stealable ready tasks there.
pub(crate) struct Local {
    pub(crate) index: usize,
    /// The tag word of the coroutines pinned here (compared as a word: the
    /// queues look at it for every task they move).
    pinned: usize,
    pub(crate) shared: Arc<Shared>,
    /// Tasks offered to other workers.
    deque: Deque<Runnable>,
    /// Tasks ready to run here, in order.
    ready: RefCell<VecDeque<Runnable>>,
    /// How many tasks in `ready` are not pinned here (futures, unstarted
    /// coroutines): donation skips a queue of pinned ones without looking.
    stealable: Cell<usize>,
    /// Tasks that went idle on this worker, cancelled at shutdown.
    registry: RefCell<Vec<TaskRef>>,
    /// The registry was cancelled (once the worker saw the runtime close).
    cancelled_all: Cell<bool>,
    ticks: Cell<u32>,
    /// Polls run so far (see [`Remote::activity`](super::shared::Remote::activity)).
    polls: Cell<u64>,
    /// This worker's `activity` word, in `shared` (which `Local` holds):
    /// written twice per poll, without looking the worker up.
    activity: *const AtomicU64,
    /// A dump in progress: where its part goes, and the coroutines listed
    /// so far.
    dumping: RefCell<Option<(DumpReply, Vec<TaskDump>)>>,
    /// The worker's timeline, when the runtime records one.
    trace: Option<RefCell<Recorder>>,
}

thread_local! {
    /// The worker running on this thread, if any.
    static WORKER: Cell<*const Local> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with this thread's worker, if it belongs to `shared`'s runtime.
fn with_local<R>(shared: &Arc<Shared>, f: impl FnOnce(&Local) -> R) -> Option<R> {
    let local = WORKER.with(Cell::get);
    if local.is_null() {
        return None;
    }
    // SAFETY: set by `run` for the duration of the worker loop on this
    // thread; `Local` lives on that loop's stack frame.
    let local = unsafe { &*local };
    Arc::ptr_eq(&local.shared, shared).then(|| f(local))
}

/// The index of this thread's worker in `shared`'s runtime, if any.
#[inline]
pub(crate) fn current_index(shared: &Arc<Shared>) -> Option<usize> {
    with_local(shared, |local| local.index)
}

/// Runs `f` with the runtime of the worker running on this thread, if any.
pub(crate) fn with_current_shared<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> Option<R> {
    let local = WORKER.with(Cell::get);
    // SAFETY: as in `with_local`.
    (!local.is_null()).then(|| f(&unsafe { &*local }.shared))
}

/// Queues a pinned task on this thread if it is worker `home`.
pub(crate) fn push_pinned_local(
    shared: &Arc<Shared>,
    home: usize,
    runnable: Runnable,
) -> Result<(), Runnable> {
    let mut runnable = Some(runnable);
    with_local(shared, |local| {
        if local.index == home {
            local
                .ready
                .borrow_mut()
                .push_back(runnable.take().expect("once"));
        }
    });
    runnable.map_or(Ok(()), Err)
}

/// Queues a stealable task on this thread's worker, if it is one of
/// `shared`'s: an unstarted coroutine in the work-stealing deque (run after
/// the ready tasks, newest first, so that a tree of spawns runs depth-first
/// on few stacks; idle workers steal the oldest), a future in `ready`.
pub(crate) fn push_local(shared: &Arc<Shared>, runnable: Runnable) -> Result<(), Runnable> {
    let mut runnable = Some(runnable);
    with_local(shared, |local| {
        let runnable = runnable.take().expect("once");
        if Tag::of(runnable.tag()) == Tag::Unstarted {
            local.deque.push(runnable);
        } else {
            local.push_stealable(runnable);
        }
    });
    runnable.map_or(Ok(()), Err)
}

/// Everything a worker thread needs to start.
pub(crate) struct Start {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) deque: Deque<Runnable>,
    pub(crate) hooks: Hooks,
}

/// A closure of the [`Builder`](super::Builder) run on the worker threads.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn() + Send + Sync>);

impl Hook {
    pub(crate) fn new(f: impl Fn() + Send + Sync + 'static) -> Hook {
        Hook(Arc::new(f))
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// The hooks run as each worker thread starts and before it exits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hooks {
    pub(crate) start: Option<Hook>,
    pub(crate) stop: Option<Hook>,
}

/// Runs a hook of worker `index`, reporting its panic (`what` names it).
fn run_hook(hook: Option<&Hook>, index: usize, what: &str) {
    if let Some(Hook(f)) = hook
        && let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| f()))
    {
        report_escaped_panic(index, what, payload.as_ref());
    }
}

/// The worker thread's body.
pub(crate) fn run(start: Start) {
    // The tokio driver's context, entered for the thread's whole life:
    // entered first and left last, so that no other guard of tokio's
    // context on this thread can be dropped out of order with it (see
    // `crate::compat::tokio`).
    #[cfg(feature = "tokio")]
    let _tokio = crate::compat::tokio::enter();
    StackPool::new(start.shared.stacks).install();
    let activity: *const AtomicU64 = &*start.shared.remotes[start.index].activity;
    let trace = start
        .shared
        .trace
        .as_ref()
        .map(|trace| RefCell::new(trace.recorder()));
    let local = Local {
        index: start.index,
        pinned: Tag::Pinned(start.index).word(),
        shared: start.shared,
        deque: start.deque,
        ready: RefCell::new(VecDeque::new()),
        stealable: Cell::new(0),
        registry: RefCell::new(Vec::new()),
        cancelled_all: Cell::new(false),
        ticks: Cell::new(0),
        polls: Cell::new(0),
        activity,
        dumping: RefCell::new(None),
        trace,
    };
    tasks::enter_worker(
        local.index,
        local.shared.remotes.len(),
        local.trace.is_some(),
    );
    super::watchdog::enter_worker(&local.shared.remotes[local.index].stall);
    WORKER.with(|w| w.set(&local));
    /// Clears the thread's worker pointer however the loop ends.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            WORKER.with(|w| w.set(std::ptr::null()));
            super::watchdog::leave_worker();
        }
    }
    let _clear = Clear;
    run_hook(
        start.hooks.start.as_ref(),
        local.index,
        "the on_thread_start hook (the worker goes on)",
    );
    local.awake();
    // A panic escaping the loop comes from user code outside any task's
    // poll (a waker, a destructor of a task's result or of a detached
    // task, a timer's waker): report it and go on, so that the tasks
    // pinned here keep their worker.
    while let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| local.run_loop())) {
        report_escaped_panic(
            local.index,
            "a waker or destructor run outside a task (the worker goes on)",
            payload.as_ref(),
        );
    }
    run_hook(
        start.hooks.stop.as_ref(),
        local.index,
        "the on_thread_stop hook",
    );
    local.exit();
}

/// Reports a panic that escaped user code run by a worker outside a poll
/// (`what` says which code).
fn report_escaped_panic(index: usize, what: &str, payload: &(dyn std::any::Any + Send)) {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    eprintln!("xasync: worker {index}: a panic escaped {what}: {message}");
}

impl Local {
    fn run_loop(&self) {
        let shared = &*self.shared;
        loop {
            if let Some(runnable) = self.next() {
                self.run_task(runnable);
                continue;
            }
            self.fire_timers();
            if self.serve_dump() || self.has_work() {
                continue;
            }
            let closing = shared.closing.load(Ordering::Acquire);
            if closing && self.drained() {
                return;
            }
            let census = !closing && shared.census.load(Ordering::Acquire);
            if census {
                self.publish_unfinished();
            }
            let counters = &shared.remotes[self.index].counters;
            // Not busy while parked: the watchdog looks away.
            // SAFETY: as in `run_task`.
            unsafe { &*self.activity }.store(self.polls.get() << 1, Ordering::Relaxed);
            self.publish_depths();
            let asleep = std::time::Instant::now();
            let trace_start = self.trace.as_ref().map(|r| r.borrow().now());
            let parked = shared.sleepers.sleep(
                self.index,
                || self.has_work(),
                || {
                    let timer = self
                        .timers()
                        .next_tick()
                        .and_then(|tick| shared.clock.instant_of(tick));
                    let deadline = if closing || census {
                        // Keep counting while tasks finish elsewhere.
                        Some(std::time::Instant::now() + std::time::Duration::from_millis(1))
                    } else {
                        timer
                    };
                    shared.remotes[self.index].parker.park(deadline);
                },
            );
            self.awake();
            if let (true, Some(start), Some(recorder)) = (parked, trace_start, &self.trace) {
                recorder.borrow_mut().parked(start);
            }
            if parked {
                bump(&counters.parks);
            }
            let slept = u64::try_from(asleep.elapsed().as_nanos()).unwrap_or(u64::MAX);
            counters.parked_ns.store(
                counters.parked_ns.load(Ordering::Relaxed) + slept,
                Ordering::Relaxed,
            );
            if parked && census {
                // Busy again: what was published no longer holds.
                shared.remotes[self.index]
                    .unfinished
                    .store(usize::MAX, Ordering::Release);
            }
        }
    }

    /// The worker leaves its park (or starts): busy until it parks again,
    /// for the watchdog, and the monitor is woken if it sleeps (see
    /// [`super::watchdog`]).
    fn awake(&self) {
        // SAFETY: as in `run_task`.
        unsafe { &*self.activity }.store(self.polls.get() << 1 | 1, Ordering::Relaxed);
        self.shared.bell.worker_awake();
    }

    /// Leaves the runtime: frees what could keep it alive through a cycle
    /// (the wakers of timers and of deregistered I/O entries, which hold
    /// tasks, which hold the runtime), and the last worker out cancels
    /// what was spawned after everyone left.
    fn exit(&self) {
        let shared = &self.shared;
        if let (Some(trace), Some(recorder)) = (&shared.trace, &self.trace) {
            trace.hand_in(self.index, &mut recorder.borrow_mut(), tasks::take_names());
        }
        self.timers().clear();
        shared.remotes[self.index].parker.reactor().free_released();
        shared.notify_all();
        shared.worker_exited();
    }

    /// During shutdown: cancels the tasks that went idle here (their
    /// cancellation comes back as runnables that unwind or drop them on
    /// their home worker) and says whether this worker may exit: every task
    /// of the runtime has finished — so none can be pinned here anymore —
    /// and nothing is queued.
    fn drained(&self) -> bool {
        self.cancel_all();
        self.publish_unfinished();
        !self.has_work() && self.shared.all_finished()
    }

    /// Cancels every task that went idle here, once (later ones are
    /// cancelled as they are registered or run).
    fn cancel_all(&self) {
        if !self.cancelled_all.replace(true) {
            for task in self.registry.borrow().iter() {
                task.cancel();
            }
        }
    }

    /// Publishes how many tasks spawned here are unfinished.
    fn publish_unfinished(&self) {
        let mut registry = self.registry.borrow_mut();
        registry.retain(|task| !task.is_finished());
        self.shared.remotes[self.index]
            .unfinished
            .store(registry.len(), Ordering::Release);
    }

    /// Publishes the worker's live coroutines and local queue for
    /// [`Runtime::metrics`](super::Runtime::metrics).
    fn publish_depths(&self) {
        let counters = &self.shared.remotes[self.index].counters;
        counters
            .live_coroutines
            .store(tasks::live() as u64, Ordering::Relaxed);
        counters
            .ready
            .store(self.ready.borrow().len() as u64, Ordering::Relaxed);
    }

    /// Takes up a dump asked for, and adds a slice of this worker's
    /// coroutines to the one in progress, sending them once complete.
    /// Whether more slices remain.
    fn serve_dump(&self) -> bool {
        let remote = &self.shared.remotes[self.index];
        if remote.dump_asked.load(Ordering::Relaxed)
            && remote.dump_asked.swap(false, Ordering::Acquire)
        {
            let reply = remote
                .dump_reply
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(reply) = reply {
                tasks::dump_begin();
                *self.dumping.borrow_mut() = Some((reply, self.dump_futures()));
            }
        }
        let mut dumping = self.dumping.borrow_mut();
        let Some((_, tasks)) = dumping.as_mut() else {
            return false;
        };
        if !tasks::dump_step(self.index, DUMP_SLICE, tasks) {
            return true;
        }
        let (reply, tasks) = dumping.take().expect("a dump in progress");
        drop(dumping);
        self.publish_depths();
        // The asker may have given up waiting.
        let _ = reply.send((self.index, tasks));
        false
    }

    /// The dump entries of the live futures that first waited here (a
    /// load or two each: taken at once).
    fn dump_futures(&self) -> Vec<TaskDump> {
        let names = self
            .shared
            .future_names
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.registry
            .borrow()
            .iter()
            .filter(|task| task.tag() == Tag::Free.word() && !task.is_finished())
            .map(|task| {
                let id = task.id() as u64;
                let name = names.get(&id).map(|slot| slot.name().to_owned());
                TaskDump::future(id, name, task.is_scheduled())
            })
            .collect()
    }

    fn has_work(&self) -> bool {
        self.shared.remotes[self.index]
            .dump_asked
            .load(Ordering::Relaxed)
            || !self.ready.borrow().is_empty()
            || !self.deque.is_empty()
            || !self.shared.remotes[self.index].inbox.is_empty()
            || self.shared.has_free_work()
    }

    /// The next task to run, looking locally first and stealing last.
    fn next(&self) -> Option<Runnable> {
        let ticks = self.ticks.get().wrapping_add(1);
        self.ticks.set(ticks);
        if ticks.is_multiple_of(FAIRNESS) {
            // Ready sockets may not wait for the queue to run dry. (An
            // epoll_wait is a system call: every 16 tasks it was a third of
            // a coroutine yield's cost.)
            self.shared.remotes[self.index].parker.poll_now();
            self.serve_dump();
            if let Some(runnable) = self
                .take_from_inbox()
                .or_else(|| self.take_from_injector())
                .or_else(|| self.deque.pop())
            {
                return Some(runnable);
            }
        }
        if ticks.is_multiple_of(DONATE_EVERY) {
            self.donate();
            // Due timers may not wait for the queue to run dry.
            self.fire_timers();
        }
        self.pop_ready()
            .or_else(|| self.deque.pop())
            .or_else(|| self.take_from_inbox())
            .or_else(|| self.take_from_injector())
            .or_else(|| self.steal())
    }

    fn timers(&self) -> &super::timers::Timers {
        &self.shared.remotes[self.index].timers
    }

    /// Wakes the tasks whose timers are due (without reading the clock
    /// when none is pending).
    fn fire_timers(&self) {
        let timers = self.timers();
        if timers.next_tick().is_some() {
            timers.fire(self.shared.clock.now_tick());
        }
    }

    /// Offers half of the stealable ready tasks — among the newest and the
    /// oldest [`DONATE_SCAN`] — to parked workers.
    ///
    /// Both ends: freshly spawned tasks sit at the back, but so do woken
    /// pinned coroutines, which can bury a long run of unstarted ones at the
    /// front (a million spawned coroutines whose first sleeps are over).
    fn donate(&self) {
        let shared = &self.shared;
        if !shared.has_sleepers() {
            return;
        }
        let stealable = self.stealable.get();
        if stealable < 2 {
            if self.deque.len() >= 2 {
                shared.notify_one(); // unstarted coroutines to steal
            }
            return;
        }
        let offer = stealable / 2;
        let mut ready = self.ready.borrow_mut();
        let mut moved = 0;
        // Moves the task at `at` to the deque if it is stealable.
        let mut give = |ready: &mut VecDeque<Runnable>, at: usize| {
            let stealable = ready[at].tag() != self.pinned;
            if stealable {
                self.deque
                    .push(ready.remove(at).expect("an index in range"));
                moved += 1;
            }
            stealable
        };
        // The newest, from the back.
        let floor = ready.len().saturating_sub(DONATE_SCAN / 2);
        let mut at = ready.len();
        let mut left = offer;
        while left > 0 && at > floor {
            at -= 1;
            left -= usize::from(give(&mut ready, at));
        }
        // The oldest, from the front.
        let mut at = 0;
        for _ in 0..DONATE_SCAN / 2 {
            if left == 0 || at >= ready.len() {
                break;
            }
            if give(&mut ready, at) {
                left -= 1;
            } else {
                at += 1;
            }
        }
        drop(ready);
        self.stealable.set(self.stealable.get() - moved);
        if moved > 0 || self.deque.len() >= 2 {
            shared.notify_one();
        }
    }

    /// Queues a task that is not pinned here at the back of `ready`.
    fn push_stealable(&self, runnable: Runnable) {
        self.ready.borrow_mut().push_back(runnable);
        self.stealable.set(self.stealable.get() + 1);
    }

    /// The first task of `ready`.
    fn pop_ready(&self) -> Option<Runnable> {
        let runnable = self.ready.borrow_mut().pop_front()?;
        if runnable.tag() != self.pinned {
            self.stealable.set(self.stealable.get() - 1);
        }
        Some(runnable)
    }

    fn take_from_inbox(&self) -> Option<Runnable> {
        steal_one(|| self.shared.remotes[self.index].inbox.steal())
    }

    /// Takes a batch from the global queue (the rest goes to the deque).
    fn take_from_injector(&self) -> Option<Runnable> {
        steal_one(|| self.shared.injector.steal_batch_and_pop(&self.deque))
    }

    fn steal(&self) -> Option<Runnable> {
        let remotes = &self.shared.remotes;
        let n = remotes.len();
        (1..n)
            .map(|offset| (self.index + offset) % n)
            .find_map(|victim| {
                steal_one(|| remotes[victim].stealer.steal_batch_and_pop(&self.deque))
            })
            .inspect(|_| bump(&remotes[self.index].counters.steals))
    }

    fn run_task(&self, runnable: Runnable) {
        let tag = runnable.tag();
        if self.shared.closing.load(Ordering::Acquire) {
            // Shutting down: whatever runs is cancelled (a task that only
            // yields, or is always woken, never goes idle to be cancelled).
            self.cancel_all();
            runnable.cancel();
        }
        if tag == Tag::Unstarted.word() {
            runnable.set_tag(self.pinned);
        }
        // The watchdog sees the poll count change: one store to a line of
        // this worker's (the count is odd until the worker parks).
        let polls = self.polls.get() + 1;
        self.polls.set(polls);
        // SAFETY: points into `self.shared`, which lives as long as `self`.
        unsafe { &*self.activity }.store(polls << 1 | 1, Ordering::Relaxed);
        let ran = match &self.trace {
            None => {
                let _polling = Polling::enter();
                runnable.run_tracked()
            }
            Some(recorder) => run_recorded(recorder, runnable),
        };
        if let Some(task) = ran.idle {
            // The task waits for the first time: keep it to cancel at
            // shutdown (tasks that never wait are never registered).
            if self.shared.closing.load(Ordering::Acquire) {
                task.cancel();
            }
            let mut registry = self.registry.borrow_mut();
            sweep(&mut registry);
            registry.push(task);
        }
        if let Some(runnable) = ran.again {
            // A yield lets the deque's newest task (an unstarted coroutine
            // or a stolen future) run first too: one per yield, so that
            // tasks woken later do not queue behind all of the deque.
            if !self.deque.is_empty()
                && let Some(newest) = self.deque.pop()
            {
                self.push_stealable(newest);
            }
            if tag == Tag::Free.word() {
                self.push_stealable(runnable);
            } else {
                self.ready.borrow_mut().push_back(runnable);
            }
        }
    }
}

/// Runs a task and adds its poll to the worker's timeline.
#[cold]
fn run_recorded(recorder: &RefCell<Recorder>, runnable: Runnable) -> xasync_core::task::Ran {
    let start = recorder.borrow().now();
    let ran = {
        let _polling = Polling::enter();
        runnable.run_tracked()
    };
    recorder.borrow_mut().ran(tasks::take_traced(), start);
    ran
}

/// Retries a steal until it succeeds or finds nothing.
pub(crate) fn steal_one(mut steal: impl FnMut() -> Steal<Runnable>) -> Option<Runnable> {
    loop {
        match steal() {
            Steal::Success(runnable) => return Some(runnable),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Runnables still queued here at exit (none in an orderly shutdown)
        // are dropped on this thread, which cancels them where they belong.
        self.ready.get_mut().clear();
        while self.deque.pop().is_some() {}
        while steal_one(|| self.shared.remotes[self.index].inbox.steal()).is_some() {}
    }
}
