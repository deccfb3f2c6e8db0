//! The runtime: worker threads that run coroutines and futures as tasks.
//!
//! A [`Runtime`] is a value: build one with [`Runtime::builder`], spawn on it,
//! shut it down (or drop it) to cancel what is left. The free functions
//! ([`xasync`](crate::xasync), [`spawn`](crate::spawn), ...) use the runtime
//! of the current worker thread, or a default runtime started on first use
//! (its worker count comes from `XASYNC_WORKERS`, else the number of CPUs).
//!
//! ```
//! use xasync::Runtime;
//!
//! let rt = Runtime::builder().workers(2).stack_size(32 * 1024).build().unwrap();
//! let handle = rt.xasync(|| 6 * 7);
//! assert_eq!(handle.join().unwrap(), 42);
//! rt.shutdown();
//! ```

mod blocking;
mod coarse;
mod dump;
mod metrics;
mod park;
pub(crate) use park::current_worker;
mod shared;
mod sleepers;
pub(crate) mod tasks;
#[cfg(all(test, loom))]
mod tests;
mod timers;
mod trace;
mod watchdog;
mod worker;

pub use dump::{Dump, TaskDump, TaskKind, TaskState};
pub use metrics::{Metrics, WorkerMetrics};

use crate::context;
use crate::stack::{GuardPolicy, PooledStack, StackConfig};
use crate::task::JoinHandle;
use shared::{Hook, Shared, Tag};
use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
use xasync_core::task::stackful::Stackful;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = xasync::Runtime::builder()
///     .workers(4)
///     .stack_size(128 * 1024)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// # rt.shutdown();
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    workers: Option<usize>,
    stacks: StackConfig,
    thread_name: String,
    max_blocking_threads: usize,
    hooks: worker::Hooks,
    stall: Option<Duration>,
    dump_on_sigquit: Option<bool>,
    trace: Option<std::path::PathBuf>,
    io: Option<crate::io::IoBackend>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: None,
            stacks: StackConfig::default(),
            thread_name: "xasync-worker".into(),
            max_blocking_threads: 512,
            hooks: worker::Hooks::default(),
            stall: None,
            dump_on_sigquit: None,
            trace: None,
            io: None,
        }
    }
}

impl Builder {
    /// Number of worker threads (default: the number of CPUs).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Usable bytes per coroutine stack (default 64 KiB, rounded up to pages).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stacks.size = bytes;
        self
    }

    /// Which coroutine stacks get guards (default:
    /// [`GuardPolicy::default`]: every one; on kernels without guard
    /// regions at most a quarter of `vm.max_map_count` at once, after which
    /// spawned coroutines fail for want of a stack).
    pub fn guard_policy(mut self, guard: GuardPolicy) -> Self {
        self.stacks.guard = guard;
        self
    }

    /// Where the guard policy would fail for want of a guarded stack (on
    /// kernels without guard regions, past its budget of mappings), gives
    /// coroutines canary-checked slab stacks instead: as many coroutines as
    /// memory holds, at default kernel limits. See
    /// [`GuardPolicy::unguarded_beyond`].
    ///
    /// # Safety
    ///
    /// The code run in the runtime's coroutines must not overflow their
    /// stacks: an unguarded stack's overflow is detected only when its
    /// coroutine next suspends, after it has written into another
    /// coroutine's stack.
    pub unsafe fn unguarded_stacks(mut self) -> Self {
        // SAFETY: forwarded to our caller.
        self.stacks.guard = unsafe { self.stacks.guard.unguarded_beyond() };
        self
    }

    /// Free stacks each worker keeps for reuse (default
    /// [`DEFAULT_STACK_CACHE`](crate::stack::DEFAULT_STACK_CACHE), 16,384).
    pub fn stack_cache(mut self, stacks: usize) -> Self {
        self.stacks.cache = stacks;
        self
    }

    /// The kernel interface the workers wait and do I/O through (default:
    /// `XASYNC_IO=uring|epoll` if set, else io_uring where the kernel
    /// allows it, else epoll). [`build`](Self::build) fails with
    /// `Unsupported` if io_uring is asked for here and not available.
    pub fn io(mut self, backend: crate::io::IoBackend) -> Self {
        self.io = Some(backend);
        self
    }

    /// Name of the worker threads (default `xasync-worker`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Most threads of the pool for [`blocking`](crate::blocking) closures
    /// (default 512).
    pub fn max_blocking_threads(mut self, threads: usize) -> Self {
        self.max_blocking_threads = threads;
        self
    }

    /// Runs `f` on each worker thread as it starts, before it runs any
    /// task (like tokio's hook of the same name): to set up thread-local
    /// state, pin the thread, enter another library's context for the
    /// thread's whole life. [`Handle::current`] in `f` is this runtime's.
    /// Replaces an earlier hook.
    ///
    /// It runs on the worker threads only, not on the threads of the
    /// blocking pool. A panic in `f` is reported on standard error and the
    /// worker goes on.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// static STARTED: AtomicUsize = AtomicUsize::new(0);
    /// static STOPPED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// let rt = xasync::Runtime::builder()
    ///     .workers(2)
    ///     .on_thread_start(|| {
    ///         assert!(xasync::Handle::try_current().is_some()); // a worker already
    ///         STARTED.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .on_thread_stop(|| {
    ///         STOPPED.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.xasync(|| 6 * 7).join().unwrap(), 42);
    /// rt.shutdown();
    /// assert_eq!(STARTED.load(Ordering::Relaxed), 2);
    /// assert_eq!(STOPPED.load(Ordering::Relaxed), 2);
    /// ```
    pub fn on_thread_start<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.start = Some(worker::Hook::new(f));
        self
    }

    /// Runs `f` on each worker thread before it exits, once it has run its
    /// last task (at [`shutdown`](Runtime::shutdown), or when the runtime
    /// is dropped): the counterpart of
    /// [`on_thread_start`](Self::on_thread_start). Tasks spawned by `f`
    /// are cancelled, the runtime being shut down. Replaces an earlier
    /// hook.
    ///
    /// A worker still busy when [`shutdown_timeout`](Runtime::shutdown_timeout)
    /// gives up runs `f` later, when it ends. A panic in `f` is reported on
    /// standard error.
    ///
    /// ```
    /// // Hooks that panic leave the workers working.
    /// let rt = xasync::Runtime::builder()
    ///     .workers(1)
    ///     .on_thread_start(|| panic!("start"))
    ///     .on_thread_stop(|| panic!("stop"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.xasync(|| 1).join().unwrap(), 1);
    /// rt.shutdown();
    /// ```
    pub fn on_thread_stop<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.stop = Some(worker::Hook::new(f));
        self
    }

    /// How long a worker may stay inside one task (a poll of a future, a
    /// coroutine's run between two suspensions) before the watchdog
    /// reports it on standard error (through `tracing` with that feature):
    /// the task's name, how long it has run, and the worker's backtrace.
    /// Zero turns the watchdog off. Default: `XASYNC_STALL_MS` if set,
    /// else 100 ms. Stalls are counted in [`Metrics::stalls`].
    ///
    /// The report is made once per stall, within 10 ms of the threshold;
    /// the backtrace is captured by the worker's thread itself, in a
    /// handler of `SIGURG` (see the README's "Debugging a running
    /// program").
    pub fn stall_threshold(mut self, threshold: Duration) -> Self {
        self.stall = Some(threshold);
        self
    }

    /// Prints a [dump](Runtime::dump) of the runtime's coroutines on
    /// standard error when the process receives `SIGQUIT` (Ctrl-\\ in a
    /// terminal, `kill -QUIT`), instead of ending it, as Go prints its
    /// goroutines. Default: whether `XASYNC_DUMP_ON_SIGQUIT` is `1`. The
    /// signal handler only counts the signal; the runtime's monitor thread
    /// takes and prints the dump within 10 ms, and the workers list their
    /// coroutines between tasks, without stopping.
    pub fn dump_on_sigquit(mut self, enabled: bool) -> Self {
        self.dump_on_sigquit = Some(enabled);
        self
    }

    /// Records a timeline of the runtime and writes it to `path` when the
    /// runtime shuts down (when its last worker exits), in Chrome's
    /// trace-event JSON format, which Perfetto (ui.perfetto.dev) and
    /// `chrome://tracing` open: per worker, when it ran which task (named
    /// coroutines by name), slept and was woken, and the stalls the
    /// watchdog saw. Each worker keeps its latest 65,536 events. Default:
    /// `XASYNC_TRACE`, if set. Costs two clock reads per poll while on.
    pub fn trace(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.trace = Some(path.into());
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero workers or a zero stack size; the OS error if
    /// a thread cannot be started (with the feature `tokio`, also the tokio
    /// driver's, on first use).
    ///
    /// # Panics
    ///
    /// If `XASYNC_STALL_MS` is set but not a number.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a runtime needs at least one worker",
                ));
            }
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.stacks.size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the stack size must not be zero",
            ));
        }
        // The workers enter the tokio driver's context as they start: it
        // must be running, and if it cannot start, neither can they.
        #[cfg(feature = "tokio")]
        crate::compat::tokio::try_handle()?;
        let deques: Vec<_> = (0..workers)
            .map(|_| crossbeam_deque::Worker::new_lifo())
            .collect();
        let blocking = blocking::BlockingPool::new(
            self.max_blocking_threads,
            format!("{}-blocking", self.thread_name),
        );
        let shared = Arc::new(Shared::new(
            deques
                .iter()
                .map(crossbeam_deque::Worker::stealer)
                .collect(),
            blocking,
            self.stacks,
            trace::path(self.trace).map(trace::Trace::new),
            crate::io::IoBackend::resolve(self.io)?,
        )?);
        let monitor = watchdog::Monitor::start(
            &shared,
            watchdog::threshold(self.stall),
            watchdog::dump_on_sigquit(self.dump_on_sigquit),
            &self.thread_name,
        )?;
        let mut threads = Vec::with_capacity(workers);
        for (index, deque) in deques.into_iter().enumerate() {
            let start = worker::Start {
                index,
                shared: shared.clone(),
                deque,
                hooks: self.hooks.clone(),
            };
            let spawned = thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || worker::run(start));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    let partial = Runtime {
                        handle: Handle { shared },
                        threads,
                        monitor: Some(monitor),
                    };
                    partial.stop(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        Ok(Runtime {
            handle: Handle { shared },
            threads,
            monitor: Some(monitor),
        })
    }
}

/// A running set of worker threads. Dropping it shuts it down.
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    /// Stopped before the workers exit: it signals their threads.
    monitor: Option<watchdog::Monitor>,
}

impl Runtime {
    /// A runtime with the default configuration.
    ///
    /// # Errors
    ///
    /// If a worker thread cannot be started.
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// A [`Builder`] with the default configuration.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A cloneable handle for spawning from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Starts `f` as a coroutine on this runtime. See [`crate::xasync`].
    pub fn xasync<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle.xasync(f)
    }

    /// Runs `future` as a task on this runtime. See [`crate::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// A snapshot of the runtime's live tasks; see [`Handle::dump`].
    pub fn dump(&self) -> Dump {
        self.handle.dump()
    }

    /// The runtime's counters; see [`Handle::metrics`].
    pub fn metrics(&self) -> Metrics {
        self.handle.metrics()
    }

    /// Runs `future` on this runtime and waits for its output: the calling
    /// thread blocks (a coroutine suspends).
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::xawait(self.spawn(future))
    }

    /// Shuts down: cancels every task that has not finished, waits for
    /// that, and joins the worker threads.
    ///
    /// Cancellation is cooperative. A task is cancelled at its next
    /// suspension (or right away if it is waiting): a coroutine unwinds on
    /// its worker, running the destructors on its stack — which may wait,
    /// like any coroutine code — and a future is dropped. Whatever the
    /// tasks do (wait, yield forever, ping-pong over channels, serve
    /// connections), this ends as soon as each has been cancelled, except
    /// for a task that never suspends (a loop that neither waits nor
    /// yields) or a destructor that waits for something that never comes:
    /// nothing can stop those, and `shutdown` waits for them. Use
    /// [`shutdown_timeout`](Self::shutdown_timeout) to bound the wait.
    ///
    /// Called from one of the runtime's own coroutines, it cannot wait for
    /// the task it runs in: it starts the shutdown and returns, and the
    /// workers finish in the background (that coroutine is cancelled at its
    /// next suspension).
    pub fn shutdown(mut self) {
        self.monitor.take();
        self.stop(Duration::ZERO);
        self.join_workers(None);
    }

    /// Shuts down within a bound: lets the tasks run for up to `grace` to
    /// finish on their own, then cancels the rest as
    /// [`shutdown`](Self::shutdown) does and waits up to `grace` again (at
    /// least [`MIN_CANCEL_WAIT`]) for that. Workers still busy then (with a
    /// task that never suspends, see [`shutdown`](Self::shutdown)) are
    /// left to finish in the background. Returns whether every task had
    /// finished on its own.
    pub fn shutdown_timeout(mut self, grace: Duration) -> bool {
        self.monitor.take();
        let finished = self.stop(grace);
        let wait = grace.max(MIN_CANCEL_WAIT);
        self.join_workers(Instant::now().checked_add(wait));
        finished
    }

    /// Joins the worker threads, until `deadline` at most (`None`: however
    /// long it takes); those still running then are detached. From one of
    /// the runtime's own workers, detaches them all: they can only end
    /// after the task running this does.
    fn join_workers(&mut self, deadline: Option<Instant>) {
        let here = thread::current().id();
        if self.threads.iter().any(|t| t.thread().id() == here) {
            self.threads.clear();
            return;
        }
        for thread in std::mem::take(&mut self.threads) {
            if let Some(deadline) = deadline {
                while !thread.is_finished() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                }
                if !thread.is_finished() {
                    continue; // detached
                }
            }
            let _ = thread.join();
        }
    }

    fn stop(&self, grace: Duration) -> bool {
        let shared = &self.handle.shared;
        let deadline = Instant::now() + grace;
        let mut finished = false;
        if !grace.is_zero() {
            shared.census.store(true, Ordering::Release);
            shared.notify_all();
            while !finished && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
                finished = shared.unfinished_published() == 0;
            }
        }
        shared.closing.store(true, Ordering::Release);
        shared.notify_all();
        finished
    }
}

/// The least time [`Runtime::shutdown_timeout`] waits for cancelled tasks
/// to unwind.
pub const MIN_CANCEL_WAIT: Duration = Duration::from_millis(100);

impl Drop for Runtime {
    /// Shuts down as [`Runtime::shutdown`] does.
    fn drop(&mut self) {
        self.monitor.take();
        if !self.handle.shared.closing.load(Ordering::Acquire) {
            self.stop(Duration::ZERO);
        }
        self.join_workers(None);
        self.handle.shared.blocking.shutdown();
    }
}

/// A cloneable reference to a runtime, for spawning.
#[derive(Clone)]
#[repr(transparent)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.remotes.len())
            .finish_non_exhaustive()
    }
}

/// A worker for the timers of a thread that is not one: spread by thread.
fn thread_slot(workers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    thread::current().id().hash(&mut hasher);
    (hasher.finish() % workers as u64) as usize
}

/// Runs `f` on a nested coroutine with a stack of `size` bytes of its own
/// (for a coroutine that asked for more than the pool's stacks): waiting
/// inside it suspends the task around it, as for any nested coroutine.
fn run_on_own_stack<T: 'static>(
    size: usize,
    name: Option<Box<str>>,
    f: impl FnOnce() -> T + 'static,
) -> T {
    let stack = crate::stack::GuardedStack::new(size)
        .unwrap_or_else(|e| panic!("no stack of {size} bytes for a coroutine: {e}"));
    let mut inner =
        crate::coroutine::CoroutineOn::<(), (), T, _>::with_stack(stack, move |_, ()| f());
    if let Some(name) = name {
        inner = inner.with_name(String::from(name));
    }
    match inner.resume(()) {
        crate::coroutine::CoroutineResult::Return(value) => value,
        crate::coroutine::CoroutineResult::Yield(()) => {
            unreachable!("the nested coroutine never yields")
        }
    }
}

/// The lazily started default runtime.
static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// How many workers the default runtime gets from `XASYNC_WORKERS`.
fn workers_from_env() -> Option<usize> {
    let value = std::env::var("XASYNC_WORKERS").ok()?;
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!(
            "XASYNC_WORKERS must be a positive integer (number of worker threads), got {value:?}"
        ),
    }
}

impl Handle {
    /// The runtime of the current worker thread, else the default runtime
    /// (started on first use).
    ///
    /// # Panics
    ///
    /// If the default runtime cannot start, or `XASYNC_WORKERS` is not a
    /// positive integer.
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|| Handle::default_runtime().clone())
    }

    /// The runtime of the current worker thread, if this is one.
    pub fn try_current() -> Option<Handle> {
        worker::with_current_shared(|shared| Handle {
            shared: shared.clone(),
        })
    }

    /// Runs `f` with [`current`](Self::current)'s handle, without the
    /// reference-count traffic of cloning it.
    pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> R {
        let mut f = Some(f);
        let on_worker = worker::with_current_shared(|shared| {
            // SAFETY: `Handle` is a `repr(transparent)` wrapper of `Arc<Shared>`.
            let handle = unsafe { &*core::ptr::from_ref(shared).cast::<Handle>() };
            (f.take().expect("called once"))(handle)
        });
        match on_worker {
            Some(result) => result,
            None => (f.take().expect("called once"))(Handle::default_runtime()),
        }
    }

    /// The default runtime's handle, starting it if needed.
    fn default_runtime() -> &'static Handle {
        DEFAULT
            .get_or_init(|| {
                let mut builder = Builder::default();
                if let Some(n) = workers_from_env() {
                    builder = builder.workers(n);
                }
                builder
                    .build()
                    .expect("failed to start the default xasync runtime")
            })
            .handle()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.remotes.len()
    }

    /// A snapshot of the runtime's live tasks: for each coroutine its id,
    /// name, state, worker, age, time since it last ran, and where it waits;
    /// for each future that has waited, its id, name and state; the named
    /// tasks that have not started or waited yet, as ready; and how many
    /// unnamed ones of those it could not list (see [`Dump`]).
    ///
    /// Each worker lists its own coroutines between the tasks it runs, a
    /// slice at a time, and none stops for long; a worker stuck inside one
    /// task cannot answer, and the dump gives up on it after two seconds
    /// ([`Dump::missing_workers`]). Called from a coroutine, it suspends
    /// while the workers answer; from a thread, it blocks.
    pub fn dump(&self) -> Dump {
        // One dump at a time: a second would take the workers' answers
        // over. (The crate's mutex: a coroutine waiting here suspends.)
        let _one = self.shared.dumping.lock();
        // The named tasks no worker may know of yet, listed before the
        // workers answer: one that starts or waits meanwhile is in both
        // lists (and merged), rather than in neither.
        let unstarted = tasks::listed(&self.shared.unstarted_names);
        let futures = tasks::listed(&self.shared.future_names);
        let (reply, answers) = crate::sync::channel::unbounded();
        for remote in self.shared.remotes.iter() {
            *remote.dump_reply.lock().unwrap_or_else(|e| e.into_inner()) = Some(reply.clone());
            remote.dump_asked.store(true, Ordering::Release);
            remote.parker.unpark();
        }
        drop(reply);
        let deadline = Instant::now() + dump::DUMP_WAIT;
        let mut answered = vec![false; self.shared.remotes.len()];
        let mut dump = Dump::default();
        while answered.contains(&false) {
            let left = deadline.saturating_duration_since(Instant::now());
            match answers.recv_timeout(left) {
                Ok((index, tasks)) => {
                    answered[index] = true;
                    dump.tasks.extend(tasks);
                }
                Err(_) => break,
            }
        }
        dump.missing_workers = (0..answered.len()).filter(|&i| !answered[i]).collect();
        let known: std::collections::HashSet<u64> = dump.tasks.iter().map(|t| t.task).collect();
        let unknown = |(id, _): &(u64, String)| !known.contains(id);
        dump.tasks.extend(
            (unstarted.into_iter().filter(unknown)).map(|(id, name)| TaskDump::unstarted(id, name)),
        );
        dump.tasks.extend(
            (futures.into_iter().filter(unknown))
                .map(|(id, name)| TaskDump::future(id, Some(name), true)),
        );
        // The coroutine taking the dump (one of this runtime's: on one of
        // its workers) is running, not waiting for the dump.
        if let (context::Caller::Coroutine(me), Some(here)) =
            (context::caller(), worker::current_index(&self.shared))
        {
            let me = me.node().id();
            let mine = dump.tasks.iter_mut().find(|task| {
                task.kind == TaskKind::Coroutine && task.id == me && task.worker == Some(here)
            });
            if let Some(task) = mine {
                task.state = TaskState::Running;
            }
        }
        dump.unlisted = self.metrics().live.saturating_sub(dump.tasks.len() as u64);
        dump.tasks
            .sort_by_key(|task| (task.kind == TaskKind::Future, task.id));
        dump
    }

    /// The runtime's counters, in total and per worker (see [`Metrics`]).
    /// Reading them costs a look at each worker's; counting them costs the
    /// workers a store per event.
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let workers = shared
            .remotes
            .iter()
            .map(|remote| {
                let queued = remote.stealer.len() + remote.inbox.len();
                remote
                    .counters
                    .worker(queued as u64, remote.activity.load(Ordering::Relaxed))
            })
            .collect();
        let mut metrics = Metrics::total(workers, &shared.elsewhere, shared.injector.len() as u64);
        metrics.blocking_threads = shared.blocking.threads() as u64;
        metrics
    }

    /// Starts `f` as a coroutine on this runtime. See [`crate::xasync`].
    pub fn xasync<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (runnable, handle) = self.coroutine(|| None, f);
        self.queue(runnable, handle)
    }

    /// Starts `f` as a coroutine of `options` (see [`crate::task::Builder`]).
    pub(crate) fn xasync_with<F, T>(&self, options: crate::task::Options, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let crate::task::Options { name, stack_size } = options;
        let Some(name) = name else {
            return match stack_size.filter(|&size| size > self.shared.stacks.size) {
                None => self.xasync(f),
                Some(size) => self.xasync(move || run_on_own_stack(size, None, f)),
            };
        };
        // Listed by name until it starts, for dumps.
        let names = &self.shared.unstarted_names;
        let listing = tasks::Listing::new(name.clone(), names);
        let slot = listing.slot().clone();
        let started = move || {
            let task = listing.task();
            drop(listing);
            Some((name, task))
        };
        let (runnable, handle) = match stack_size.filter(|&size| size > self.shared.stacks.size) {
            None => self.coroutine(started, f),
            Some(size) => {
                let nested = Some(slot.name().into());
                self.coroutine(started, move || run_on_own_stack(size, nested, f))
            }
        };
        tasks::list_name(&slot, names, handle.task().id() as u64);
        self.queue(runnable, handle)
    }

    /// The task of a coroutine running `f`, called by the name `named()`
    /// gives as it starts (with its task's id). (A closure rather than the
    /// name itself: the unnamed coroutines' is of size zero, so that their
    /// tasks neither carry nor drop a name.)
    fn coroutine<N, F, T>(
        &self,
        named: N,
        f: F,
    ) -> (
        xasync_core::task::Runnable,
        xasync_core::task::JoinHandle<T>,
    )
    where
        N: FnOnce() -> Option<(Box<str>, u64)> + Send + 'static,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let coroutine = Stackful::<_, T, PooledStack>::new(move |suspender| {
            tasks::run(suspender, named(), |node| {
                context::run_coroutine(suspender, node, f)
            })
        });
        // SAFETY: the coroutine is pinned to the worker that first runs it
        // (`Tag::Unstarted` becomes `Tag::Pinned` before that run); the
        // scheduler routes its Runnables there and nowhere else (queued ones
        // are dropped there at exit). Once started it is never without a
        // reference held on that worker: its Runnable while it runs or is
        // queued, and from its first wait on, the worker's registry (its
        // `run_tracked` reference), released there only after it finished.
        // So its last reference is never dropped elsewhere unfinished.
        unsafe {
            xasync_core::task::raw::spawn_stackful(
                coroutine,
                Hook::new(&self.shared),
                Tag::Unstarted.word(),
            )
        }
    }

    /// Runs `future` as a task on this runtime. See [`crate::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, handle) = xasync_core::task::spawn(future, Hook::new(&self.shared));
        self.queue(runnable, handle)
    }

    /// Runs `future` as a task of `options` (see [`crate::task::Builder`]).
    pub(crate) fn spawn_with<F>(
        &self,
        options: crate::task::Options,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(name) = options.name else {
            return self.spawn(future);
        };
        let names = &self.shared.future_names;
        let listing = tasks::Listing::new(name, names);
        let slot = listing.slot().clone();
        let future = tasks::Named::new(listing, future);
        let (runnable, handle) = xasync_core::task::spawn(future, Hook::new(&self.shared));
        tasks::list_name(&slot, names, handle.task().id() as u64);
        self.queue(runnable, handle)
    }

    /// Queues a new task — or, once the runtime is shutting down, cancels
    /// it right here (it has not started: dropping it is safe on any
    /// thread), so that its handle reports the cancellation.
    fn queue<T>(
        &self,
        runnable: xasync_core::task::Runnable,
        handle: xasync_core::task::JoinHandle<T>,
    ) -> JoinHandle<T> {
        if self.shared.closing.load(Ordering::Acquire) {
            drop(runnable);
        } else {
            // A shutdown racing with this is handled where the task lands:
            // a worker cancels what it runs, and the global queue is
            // emptied by whoever finds it stopped.
            self.shared.schedule(runnable);
        }
        JoinHandle::new(handle)
    }

    /// The timers of worker `index`.
    pub(crate) fn timers(&self, index: usize) -> &timers::Timers {
        &self.shared.remotes[index].timers
    }

    /// Registers a timer waking `waker` at `deadline` (`None`: never) on
    /// the current worker, or on a worker chosen by thread from elsewhere;
    /// returns the worker and the timer's key.
    pub(crate) fn register_timer(
        &self,
        deadline: Option<Instant>,
        waker: std::task::Waker,
    ) -> (usize, xasync_core::time::TimerKey) {
        let shared = &self.shared;
        let here = worker::current_index(shared);
        let index = here.unwrap_or_else(|| thread_slot(shared.remotes.len()));
        let tick = shared.clock.tick_of(deadline);
        let (key, earliest) = shared.remotes[index].timers.insert(tick, waker);
        if earliest && here != Some(index) {
            // The worker may be parked until a later deadline.
            shared.remotes[index].parker.unpark();
        }
        (index, key)
    }

    /// The worker whose reactor an I/O registration made here goes to: the
    /// current worker, or from elsewhere one chosen by thread.
    pub(crate) fn reactor_index(&self) -> usize {
        worker::current_index(&self.shared)
            .unwrap_or_else(|| thread_slot(self.shared.remotes.len()))
    }

    /// The reactor of worker `index`.
    pub(crate) fn reactor(&self, index: usize) -> &crate::io::reactor::Reactor {
        self.shared.remotes[index].parker.reactor()
    }

    /// Runs a blocking closure on the runtime's blocking pool; see
    /// [`crate::blocking`].
    pub fn blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (runnable, handle) =
            xasync_core::task::spawn(async move { f() }, self.shared.blocking.scheduler());
        runnable.schedule();
        JoinHandle::new(handle)
    }
}
