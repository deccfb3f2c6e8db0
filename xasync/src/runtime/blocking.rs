//! The blocking pool: threads for closures that block (file I/O, CPU-heavy
//! work, foreign calls), so that workers keep running coroutines.
//!
//! Jobs are ordinary tasks whose future runs the closure in one poll; their
//! Runnables go to this pool's queue instead of a worker. Threads start on
//! demand up to a maximum and exit after being idle for a while.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use xasync_core::task::Runnable;

/// How long an idle blocking thread waits for work before exiting.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A pool of threads for blocking closures.
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    condvar: Condvar,
    max_threads: usize,
    name: String,
}

struct State {
    queue: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
    closing: bool,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, name: String) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    closing: false,
                }),
                condvar: Condvar::new(),
                max_threads: max_threads.max(1),
                name,
            }),
        }
    }

    /// A scheduling hook that queues Runnables on this pool.
    pub(crate) fn scheduler(&self) -> impl Fn(Runnable) + Send + Sync + 'static {
        let inner = self.inner.clone();
        move |runnable| Inner::submit(&inner, runnable)
    }

    /// How many threads the pool has now.
    pub(crate) fn threads(&self) -> usize {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .threads
    }

    /// Stops the threads once the queue is empty.
    pub(crate) fn shutdown(&self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closing = true;
        self.inner.condvar.notify_all();
    }
}

impl Inner {
    fn submit(inner: &Arc<Inner>, runnable: Runnable) {
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(runnable);
        if state.idle > 0 {
            inner.condvar.notify_one();
            return;
        }
        if state.threads < inner.max_threads {
            state.threads += 1;
            drop(state);
            let pool = inner.clone();
            let spawned = std::thread::Builder::new()
                .name(inner.name.clone())
                .spawn(move || pool.work());
            if spawned.is_err() {
                // Out of threads: the queued job waits for a running one.
                inner
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .threads -= 1;
            }
        }
    }

    fn work(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(runnable) = state.queue.pop_front() {
                drop(state);
                // The job runs in one poll; `None` unless it yielded.
                if let Some(again) = runnable.run() {
                    again.schedule();
                }
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if state.closing {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .condvar
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }
}
