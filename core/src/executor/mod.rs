//! A `no_std` local executor: the per-CPU scheduler of a kernel (or of one
//! thread), running futures and stackful coroutines side by side, with
//! timers.
//!
//! * [`LocalExecutor`] owns the tasks of one CPU. It is `!Send`: it runs,
//!   and drops, its tasks only where it was created, which is what lets it
//!   run coroutines (pinned to their CPU once started, docs/DESIGN.md §2.1) and
//!   futures that are not `Send`.
//! * [`Spawner`] is its `Send + Sync` handle: other CPUs spawn `Send` work
//!   onto it, and every task uses it for [`sleep`](Spawner::sleep).
//! * The host plugs in through the small traits of the kernel contract,
//!   bundled as [`Platform`]: [`Clock`] + [`Alarm`], [`InterruptGuard`],
//!   [`CpuId`], [`Kick`], [`Idle`] and a stack type.
//!
//! ```
//! use std::sync::Mutex;
//! use std::time::{Duration, Instant};
//! use xasync_core::executor::{
//!     Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, LocalExecutor, Platform,
//! };
//! use xasync_core::stack::{DefaultHeapStack, HeapStackSize};
//! use xasync_core::sync::channel;
//!
//! /// A thread playing a lone CPU: no interrupts, nobody to kick, and
//! /// idling sleeps until the alarm.
//! struct Host {
//!     start: Instant,
//!     alarm: Mutex<Option<Duration>>,
//! }
//! impl Clock for Host {
//!     fn now(&self) -> Duration {
//!         self.start.elapsed()
//!     }
//! }
//! impl Alarm for Host {
//!     fn set_alarm(&self, deadline: Option<Duration>) {
//!         *self.alarm.lock().unwrap() = deadline;
//!     }
//! }
//! impl InterruptGuard for Host {
//!     type Saved = ();
//!     fn save_disable(&self) {}
//!     fn restore(&self, (): ()) {}
//! }
//! impl CpuId for Host {
//!     fn cpu_id(&self) -> usize {
//!         0
//!     }
//! }
//! impl Kick for Host {
//!     fn kick(&self, _cpu: usize) {}
//! }
//! impl Idle for Host {
//!     fn idle(&self) {
//!         if let Some(at) = *self.alarm.lock().unwrap() {
//!             std::thread::sleep(at.saturating_sub(self.now()));
//!         }
//!     }
//! }
//! /// 64 KiB heap stacks: this thread has no guard pages to give.
//! struct Stacks;
//! // SAFETY: the coroutine below uses a few hundred bytes of stack.
//! unsafe impl HeapStackSize for Stacks {
//!     const SIZE: usize = 64 * 1024;
//! }
//! impl Platform for Host {
//!     type Stack = DefaultHeapStack<Stacks>;
//! }
//!
//! let host = Host { start: Instant::now(), alarm: Mutex::new(None) };
//! let executor = LocalExecutor::new(host);
//! let spawner = executor.spawner();
//! let (tx, rx) = channel::unbounded();
//! // A plain function on its own stack: it sleeps without blocking the CPU.
//! let producer = executor.spawn_coroutine(move |s| {
//!     for i in 1..=3 {
//!         s.wait(spawner.sleep(Duration::from_millis(1)));
//!         tx.try_send(i).unwrap();
//!     }
//!     "done"
//! });
//! let sum = executor.block_on(async {
//!     let mut sum = 0;
//!     while let Ok(i) = rx.recv_async().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! assert_eq!(sum, 6);
//! assert_eq!(executor.block_on(producer).unwrap(), "done");
//! ```
//!
//! # The wake path, and why interrupt handlers may use it
//!
//! Waking a task ([`Waker::wake`](core::task::Waker::wake)) does, in order:
//!
//! 1. one compare-and-swap on the task's state word (the core's task state
//!    machine), which decides whether this wake schedules the task;
//! 2. if so, stores the task's one `Runnable` in a node that lives inside
//!    the task's own allocation, and pushes that node onto the executor's
//!    inbox with a compare-and-swap loop (an intrusive Treiber stack);
//! 3. if the inbox was empty, [`Kick::kick`]s the executor's CPU — unless
//!    that is the calling CPU.
//!
//! No lock is taken and nothing is allocated, so a wake is safe from an
//! interrupt handler that interrupted *anything* on its CPU, including the
//! executor in the middle of emptying its inbox or another wake (that CAS
//! just retries). The executor takes the whole inbox with one swap and
//! reverses it: no single-node pop, so no ABA. The model is checked with
//! loom (`core/tests/loom_executor.rs`).
//!
//! What the waker's owner must still mind in a handler: dropping a waker
//! may free the task (if it was the last reference, after the task
//! finished), which calls the allocator — make the kernel's allocator
//! interrupt-safe, or use `wake_by_ref` and drop wakers outside handlers.
//! And the core's [`sync`](crate::sync) primitives use spin locks without
//! disabling interrupts: from a handler, wake a stored waker; do not call
//! `notify_one` or `try_send` unless the kernel disables interrupts
//! around every other use of that primitive.
//!
//! # Idling without lost wake-ups
//!
//! When nothing is ready, the executor disables interrupts
//! ([`InterruptGuard::save_disable`]), checks its queues once more, arms
//! the [`Alarm`] for its earliest timer, and calls [`Idle::idle`] — `wfi`,
//! which returns on a pending interrupt even while interrupts are masked.
//! A wake that lands after the check either comes from an interrupt on
//! this CPU (pending, so `wfi` returns) or from another CPU, which kicks
//! (an IPI, pending likewise). Then interrupts are restored, the handler
//! runs, and the loop looks again.
//!
//! # Timers
//!
//! Each executor has a [`TimerWheel`](crate::time::TimerWheel) of wakers
//! in ticks of a fixed resolution (`with_tick`, default 1 ms). The wheel
//! is only advanced by the executor, from its own loop, after reading the
//! [`Clock`]: the timer interrupt carries no executor code. Timers fire in
//! deadline order, never early.
//!
//! # Shutdown and cancellation
//!
//! Dropping a [`JoinHandle`] detaches its task; [`JoinHandle::cancel`]
//! makes the executor drop the task's future the next time it would run
//! it — always on the executor's own CPU. Dropping the executor cancels
//! every task it owns, on its CPU: it drops queued tasks, cancels the rest
//! (which queues them), and repeats until all are finished; only then does
//! it close its inboxes. So afterwards a waker still held somewhere finds
//! a finished task, and a [`Spawner`] finds a closed executor: its spawn
//! is dropped at once (only ever a future that never ran, and is `Send`)
//! and its handle reports cancellation.
//!
//! Cancelling a suspended stackful coroutine drops its `Coroutine`, on its
//! CPU. A coroutine waiting in [`Suspender::try_wait`] is then resumed one
//! last time with `Err(Cancelled)` and returns by ordinary code, so its
//! destructors run and its stack is freed even without unwinding (kernels
//! build with `panic = "abort"`); it must not wait again after that. One
//! waiting in plain [`Suspender::wait`] is unwound with the `std` feature;
//! without it, its stack is leaked (never reused, so still sound).

mod inbox;
mod platform;
mod schedule;
mod timer;

pub use platform::{Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, Platform};
pub use timer::Sleep;

use crate::loom::{AtomicBool, AtomicUsize, Ordering};
use crate::spin::SpinLock;
use crate::task::raw::{self, TaskRef};
use crate::task::stackful::{Stackful, Suspender};
use crate::task::{JoinHandle, Runnable};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use inbox::Inbox;
use schedule::{SpawnNode, TaskNode, TaskSchedule};
use timer::Timers;

/// The tick of [`LocalExecutor::new`]: timers have a resolution of 1 ms.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// What one executor shares with its tasks, its [`Spawner`]s and the
/// wakers of its tasks (on any CPU, in interrupt handlers).
pub(crate) struct Shared<P: Platform> {
    platform: P,
    /// The CPU the executor runs on.
    cpu: usize,
    /// Tasks to run: [`TaskNode`]s pushed by wake-ups.
    inbox: Inbox,
    /// Tasks spawned from other CPUs: boxed [`SpawnNode`]s.
    spawns: Inbox,
    timers: SpinLock<Timers>,
    /// The wheel's `next_deadline` (`usize::MAX`: no timer), refreshed
    /// under the lock whenever the wheel changes: lets a round skip the
    /// lock and the clock while nothing is due. A hint only; the idle
    /// decision takes the lock.
    next_timer: AtomicUsize,
    /// Nanoseconds per timer tick.
    tick: u64,
    /// The future of [`LocalExecutor::block_on`] was woken.
    main_woken: AtomicBool,
}

impl<P: Platform> Shared<P> {
    /// Asks the executor to look at its queues, unless it runs on this CPU
    /// (then it is the caller, or an interrupt just ended its wait).
    fn kick(&self) {
        if self.platform.cpu_id() != self.cpu {
            self.platform.kick(self.cpu);
        }
    }

    /// Runs `f` on the timers, under their lock, with interrupts disabled,
    /// then refreshes the `next_timer` hint.
    fn with_timers<R>(&self, f: impl FnOnce(&mut Timers) -> R) -> R {
        let _irq = IrqOff::new(&self.platform);
        let mut timers = self.timers.lock();
        let result = f(&mut timers);
        let next = timers.wheel.next_deadline().map_or(usize::MAX, |tick| {
            usize::try_from(tick).unwrap_or(usize::MAX)
        });
        self.next_timer.store(next, Ordering::Release);
        result
    }

    /// The current tick, rounded down.
    fn now_tick(&self) -> u64 {
        nanos(self.platform.now()) / self.tick
    }

    /// The first tick at or after `at`.
    fn tick_at(&self, at: Duration) -> u64 {
        nanos(at).div_ceil(self.tick)
    }

    /// When `tick` starts.
    fn tick_time(&self, tick: u64) -> Duration {
        Duration::from_nanos(tick.saturating_mul(self.tick))
    }
}

/// The waker of [`LocalExecutor::block_on`]'s future: sets a flag, kicks.
impl<P: Platform> Wake for Shared<P> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.main_woken.swap(true, Ordering::AcqRel) {
            self.kick();
        }
    }
}

/// A duration in nanoseconds, saturating.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Interrupts disabled on this CPU until dropped (also on unwinding).
struct IrqOff<'a, P: InterruptGuard> {
    platform: &'a P,
    saved: Option<P::Saved>,
}

impl<'a, P: InterruptGuard> IrqOff<'a, P> {
    fn new(platform: &'a P) -> Self {
        IrqOff {
            platform,
            saved: Some(platform.save_disable()),
        }
    }
}

impl<P: InterruptGuard> Drop for IrqOff<'_, P> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            self.platform.restore(saved);
        }
    }
}

/// Counters of an executor's activity, for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Task polls (runs of a `Runnable`).
    pub polls: u64,
    /// Calls to [`Idle::idle`].
    pub idles: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Tasks spawned onto this executor (locally or from other CPUs) that
    /// it received.
    pub spawned: u64,
}

/// The executor of one CPU: runs futures and stackful coroutines spawned
/// onto it, fires its timers, and idles through its [`Platform`] when
/// nothing is ready. See the [module documentation](self).
///
/// It is `!Send` and `!Sync`: every task runs and is dropped on the CPU
/// (thread) that created the executor. Other CPUs reach it through a
/// [`Spawner`].
pub struct LocalExecutor<P: Platform> {
    shared: Arc<Shared<P>>,
    /// Tasks ready to run, in order.
    queue: RefCell<VecDeque<Runnable>>,
    /// Every task received and not yet seen finished: what shutdown
    /// cancels. Also keeps unfinished tasks alive, so that their last
    /// reference is never dropped on another CPU.
    tasks: RefCell<Vec<TaskRef>>,
    /// Sweep finished tasks out of `tasks` when it reaches this length.
    sweep_at: Cell<usize>,
    /// Wakers of due timers, reused between firings.
    due: Cell<Vec<Waker>>,
    /// Inside `run_until_idle` or `block_on`.
    running: Cell<bool>,
    stats: Cell<Stats>,
    /// Tasks may be `!Send` and coroutines pinned to this CPU.
    _not_send: PhantomData<*mut ()>,
}

impl<P: Platform> LocalExecutor<P> {
    /// An executor for the calling CPU (as [`CpuId::cpu_id`] tells), with
    /// timers of [`DEFAULT_TICK`] resolution.
    pub fn new(platform: P) -> Self {
        Self::with_tick(platform, DEFAULT_TICK)
    }

    /// An executor for the calling CPU whose timers have a resolution of
    /// `tick` (a kernel with a fine clock may want 10–100 µs).
    ///
    /// # Panics
    ///
    /// If `tick` is shorter than 1 ns or longer than `u64::MAX` ns.
    pub fn with_tick(platform: P, tick: Duration) -> Self {
        let tick = u64::try_from(tick.as_nanos())
            .ok()
            .filter(|&t| t > 0)
            .expect("an executor's tick must be between 1 ns and u64::MAX ns");
        let cpu = platform.cpu_id();
        LocalExecutor {
            shared: Arc::new(Shared {
                platform,
                cpu,
                inbox: Inbox::new(),
                spawns: Inbox::new(),
                timers: SpinLock::new(Timers::new()),
                next_timer: AtomicUsize::new(usize::MAX),
                tick,
                main_woken: AtomicBool::new(false),
            }),
            queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Vec::new()),
            sweep_at: Cell::new(64),
            due: Cell::new(Vec::new()),
            running: Cell::new(false),
            stats: Cell::new(Stats::default()),
            _not_send: PhantomData,
        }
    }

    /// The host this executor runs on.
    pub fn platform(&self) -> &P {
        &self.shared.platform
    }

    /// The CPU this executor runs on.
    pub fn cpu(&self) -> usize {
        self.shared.cpu
    }

    /// A handle for spawning onto this executor from any CPU, and for
    /// sleeping on its timers.
    pub fn spawner(&self) -> Spawner<P> {
        Spawner {
            shared: self.shared.clone(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// Spawns `future` onto this executor; it runs when the executor runs.
    /// The future need not be `Send`: it never leaves this CPU.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let schedule = TaskSchedule::new(self.shared.clone());
        // SAFETY: (1) every Runnable of the task is queued on this
        // executor only — the first goes to our queue below, the others
        // through `TaskSchedule`, into our inbox — and this `!Send`
        // executor runs and drops them on its own thread; (2) the TaskRef
        // we keep holds the task alive until it is finished, so its last
        // reference is never dropped elsewhere while the future lives;
        // (3) our `Drop` finishes every task before closing the inbox, so
        // no Runnable of it can be dropped elsewhere after that.
        let (runnable, handle, task) = unsafe { raw::spawn_tracked(future, schedule, 0) };
        self.receive(runnable, task);
        handle
    }

    /// Spawns a stackful coroutine running `body` on a fresh
    /// [`Platform::Stack`]; it waits on futures through its [`Suspender`]
    /// (e.g. `suspender.wait(spawner.sleep(d))`).
    pub fn spawn_coroutine<F, T>(&self, body: F) -> JoinHandle<T>
    where
        F: FnOnce(&Suspender<'_>) -> T + 'static,
        T: 'static,
    {
        let schedule = TaskSchedule::new(self.shared.clone());
        let coroutine = Stackful::<F, T, P::Stack>::new(body);
        // SAFETY: as in `spawn`: the coroutine is run and dropped on this
        // executor's CPU only.
        let (runnable, handle, task) =
            unsafe { raw::spawn_stackful_tracked(coroutine, schedule, 0) };
        self.receive(runnable, task);
        handle
    }

    /// A future that completes after `duration` (see [`Spawner::sleep`]).
    pub fn sleep(&self, duration: Duration) -> Sleep<P> {
        Spawner::sleep_on(&self.shared, duration)
    }

    /// Runs ready tasks and fires due timers until no task is ready, without
    /// waiting for anything; returns the number of task polls.
    ///
    /// Tasks woken meanwhile (by each other, other CPUs, interrupts) run in
    /// the same call. A task that yields forever keeps it from returning.
    ///
    /// # Panics
    ///
    /// If called from inside one of this executor's tasks.
    pub fn run_until_idle(&self) -> u64 {
        let _running = self.enter();
        let mut polls = 0;
        loop {
            let ran = self.tick();
            if ran == 0 {
                return polls;
            }
            polls += ran;
        }
    }

    /// Runs `future` on this CPU until it completes, running the spawned
    /// tasks meanwhile and idling ([`Idle::idle`]) when nothing is ready;
    /// returns its output. The future need not be `'static` or `Send`.
    ///
    /// # Panics
    ///
    /// If called from inside one of this executor's tasks; re-raises a panic
    /// of `future` (tasks' panics go to their `JoinHandle`s).
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        let _running = self.enter();
        let mut future = pin!(future.into_future());
        let waker = Waker::from(self.shared.clone());
        let mut cx = Context::from_waker(&waker);
        self.shared.main_woken.store(true, Ordering::Relaxed);
        loop {
            if self.shared.main_woken.swap(false, Ordering::Acquire)
                && let Poll::Ready(output) = future.as_mut().poll(&mut cx)
            {
                return output;
            }
            if self.tick() == 0 && !self.shared.main_woken.load(Ordering::Acquire) {
                self.idle();
            }
        }
    }

    /// Runs the tasks forever: a CPU's scheduler loop.
    pub fn run(&self) -> ! {
        match self.block_on(core::future::pending::<core::convert::Infallible>()) {}
    }

    /// Marks the executor as running until the guard drops.
    fn enter(&self) -> Running<'_> {
        assert!(
            !self.running.replace(true),
            "LocalExecutor::run_until_idle or block_on called from one of its own tasks"
        );
        debug_assert_eq!(
            self.shared.platform.cpu_id(),
            self.shared.cpu,
            "an executor runs on the CPU that created it"
        );
        Running(&self.running)
    }

    /// One round: fires due timers, takes in new tasks, then runs the tasks
    /// that were ready at that point once each (so tasks woken meanwhile,
    /// and yielding ones, wait for the next round). Returns the polls.
    fn tick(&self) -> u64 {
        self.fire_timers();
        self.take_spawns();
        self.take_inbox();
        let ready = self.queue.borrow().len();
        for _ in 0..ready {
            let Some(runnable) = self.queue.borrow_mut().pop_front() else {
                break;
            };
            if let Some(again) = runnable.run() {
                self.queue.borrow_mut().push_back(again);
            }
        }
        self.count(|s| s.polls += ready as u64);
        ready as u64
    }

    /// Takes a new task: registers it, queues its first run.
    fn receive(&self, runnable: Runnable, task: TaskRef) {
        let mut tasks = self.tasks.borrow_mut();
        let finished = if tasks.len() >= self.sweep_at.get() {
            let finished: Vec<TaskRef> = tasks.extract_if(.., |t| t.is_finished()).collect();
            self.sweep_at.set((tasks.len() * 2).max(64));
            finished
        } else {
            Vec::new()
        };
        tasks.push(task);
        drop(tasks);
        self.queue.borrow_mut().push_back(runnable);
        self.count(|s| s.spawned += 1);
        // Outside the borrows: freeing a task drops its output (user code).
        drop(finished);
    }

    /// Receives the tasks other CPUs spawned.
    fn take_spawns(&self) {
        for link in self.shared.spawns.take_all() {
            // SAFETY: the spawn inbox only holds nodes sent by
            // `SpawnNode::send`.
            let (runnable, task) = unsafe { SpawnNode::receive(link) };
            self.receive(runnable, task);
        }
    }

    /// Moves woken tasks from the inbox to the run queue, in wake order.
    fn take_inbox(&self) {
        let batch = self.shared.inbox.take_all();
        let mut queue = self.queue.borrow_mut();
        for link in batch {
            // SAFETY: the task inbox only holds task nodes pushed by
            // `TaskSchedule::schedule`, with their Runnable.
            queue.push_back(unsafe { TaskNode::take(link) });
        }
    }

    /// Wakes the tasks whose timers are due, earliest first.
    fn fire_timers(&self) {
        let shared = &*self.shared;
        let hint = shared.next_timer.load(Ordering::Acquire);
        if hint == usize::MAX || usize::try_from(shared.now_tick()).unwrap_or(usize::MAX) < hint {
            return;
        }
        let mut due = self.due.take();
        shared.with_timers(|timers| {
            if let Some(next) = timers.wheel.next_deadline() {
                let now = shared.now_tick();
                if now >= next {
                    timers.wheel.advance(now, |_, waker| due.push(waker));
                }
            }
        });
        self.count(|s| s.timers_fired += due.len() as u64);
        for waker in due.drain(..) {
            waker.wake();
        }
        self.due.set(due);
    }

    /// Nothing is ready: with interrupts disabled, checks once more, arms
    /// the alarm for the next timer and waits for an interrupt or a kick.
    fn idle(&self) {
        let shared = &*self.shared;
        let platform = &shared.platform;
        let _irq = IrqOff::new(platform);
        if !self.queue.borrow().is_empty()
            || !shared.inbox.is_empty()
            || !shared.spawns.is_empty()
            || shared.main_woken.load(Ordering::Acquire)
        {
            return;
        }
        let next = shared.with_timers(|timers| {
            let next = timers.wheel.next_deadline();
            timers.armed = next.unwrap_or(u64::MAX);
            next
        });
        match next {
            Some(tick) if tick <= shared.now_tick() => return,
            Some(tick) => platform.set_alarm(Some(shared.tick_time(tick))),
            None => platform.set_alarm(None),
        }
        platform.idle();
        self.count(|s| s.idles += 1);
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }
}

impl<P: Platform> Drop for LocalExecutor<P> {
    /// Cancels every task, on this CPU (see the [module docs](self)).
    fn drop(&mut self) {
        loop {
            self.take_spawns();
            self.take_inbox();
            // Dropping a Runnable cancels its task, dropping its future here.
            let queued = core::mem::take(&mut *self.queue.borrow_mut());
            drop(queued);
            let tasks = core::mem::take(&mut *self.tasks.borrow_mut());
            // Idle tasks are queued by their cancellation; the others are
            // queued already, or about to be (a wake in flight elsewhere).
            tasks.iter().for_each(TaskRef::cancel);
            let (finished, unfinished): (Vec<TaskRef>, Vec<TaskRef>) =
                tasks.into_iter().partition(TaskRef::is_finished);
            let all_finished = unfinished.is_empty();
            *self.tasks.borrow_mut() = unfinished;
            drop(finished);
            // Close only once every task we ever ran is finished: from then
            // on, no Runnable of ours can exist, and a late spawn is refused.
            if all_finished && self.shared.spawns.close() && self.shared.inbox.close() {
                break;
            }
            crate::loom::spin_loop();
        }
        // The wheel's wakers keep (finished) tasks, which keep `shared`.
        let wheel = self
            .shared
            .with_timers(|timers| core::mem::take(&mut timers.wheel));
        drop(wheel);
    }
}

impl<P: Platform> fmt::Debug for LocalExecutor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("cpu", &self.shared.cpu)
            .field("stats", &self.stats.get())
            .finish_non_exhaustive()
    }
}

/// Resets the running flag.
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// A handle on a [`LocalExecutor`] for any CPU: spawns `Send` work onto it
/// (kicking its CPU) and makes timers on its clock. Cheap to clone.
pub struct Spawner<P: Platform> {
    shared: Arc<Shared<P>>,
}

impl<P: Platform> Clone for Spawner<P> {
    fn clone(&self) -> Self {
        Spawner {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Platform> Spawner<P> {
    /// The CPU the executor runs on.
    pub fn cpu(&self) -> usize {
        self.shared.cpu
    }

    /// The executor's clock.
    pub fn now(&self) -> Duration {
        self.shared.platform.now()
    }

    /// Spawns `future` onto the executor, from any CPU; the executor's CPU is
    /// kicked if it may be idle. If the executor is gone, the future is
    /// dropped here and the handle reports cancellation.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let schedule = TaskSchedule::new(self.shared.clone());
        let (runnable, handle, task) =
            // SAFETY: the future is Send: polling and dropping it anywhere is
            // fine.
            unsafe { raw::spawn_tracked(future, schedule, 0) };
        self.send(runnable, task);
        handle
    }

    /// Spawns a stackful coroutine running `body` onto the executor, from any
    /// CPU. The coroutine starts, and then stays, on the executor's CPU;
    /// only the closure travels, so it must be `Send` (what it creates on
    /// its stack need not be).
    pub fn spawn_coroutine<F, T>(&self, body: F) -> JoinHandle<T>
    where
        F: FnOnce(&Suspender<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let coroutine = Stackful::<F, T, P::Stack>::new(body);
        let schedule = TaskSchedule::new(self.shared.clone());
        // SAFETY: until its first poll a `Stackful` holds only `body`, which
        // is Send, so it may be dropped on any CPU. It is first polled by
        // the executor, since every Runnable goes to its inboxes, and from
        // then on it is only polled and dropped there (see
        // `LocalExecutor::spawn`); a Runnable refused by a closed executor
        // belongs to a task that never ran.
        let (runnable, handle, task) =
            unsafe { raw::spawn_stackful_tracked(coroutine, schedule, 0) };
        self.send(runnable, task);
        handle
    }

    fn send(&self, runnable: Runnable, task: TaskRef) {
        if let Err((runnable, task)) = SpawnNode::send(&self.shared, runnable, task) {
            // The executor is gone: cancel the task here, before it ran.
            drop(runnable);
            drop(task);
        }
    }

    /// A future that completes once `duration` has passed on the executor's
    /// clock, woken by the executor's timers. Usable from any task (a
    /// coroutine waits on it with `suspender.wait(spawner.sleep(d))`); a
    /// timer registered from another CPU kicks the executor if it is
    /// earlier than its alarm. A duration too long to represent sleeps
    /// (practically) forever.
    pub fn sleep(&self, duration: Duration) -> Sleep<P> {
        Self::sleep_on(&self.shared, duration)
    }

    /// A future that completes once the executor's clock reads `deadline`.
    pub fn sleep_until(&self, deadline: Duration) -> Sleep<P> {
        Sleep::new(self.shared.clone(), self.shared.tick_at(deadline))
    }

    fn sleep_on(shared: &Arc<Shared<P>>, duration: Duration) -> Sleep<P> {
        let deadline = shared
            .platform
            .now()
            .checked_add(duration)
            .map_or(u64::MAX, |at| shared.tick_at(at));
        Sleep::new(shared.clone(), deadline)
    }
}

impl<P: Platform> fmt::Debug for Spawner<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("cpu", &self.shared.cpu)
            .finish_non_exhaustive()
    }
}
