//! The C code this library runs — coroutines it starts (C tasks and timer
//! callbacks) and fd callbacks on the event loop — and how its waiting
//! functions suspend coroutines and report their cancellation.
//!
//! A cancelled coroutine (task cancelled, timer cancelled, runtime
//! destroyed) that is suspended is normally unwound, so that the
//! destructors on its stack run. Unwinding through C frames is undefined,
//! so a waiting entry point catches that unwind where it would leave Rust:
//! the function returns `XASYNC_ERR_CANCELLED` to its C caller, the
//! coroutine is marked cancelled, and every later waiting call in it
//! returns `XASYNC_ERR_CANCELLED` at once without suspending, until the C
//! function returns. (Suspending again would leave the core a coroutine
//! that refuses to end.)
//!
//! The mark lives in a [`Running`] on the coroutine's own stack; the
//! thread-local `CURRENT` points to it exactly while that coroutine runs C
//! code on this thread: set by [`enter`], cleared by [`wait`] around every
//! suspension, so it never points into a suspended or finished stack.
//!
//! An fd callback runs on the event loop, between tasks, where nothing may
//! wait: its `Running` makes the waiting functions fail with
//! `XASYNC_ERR_BUSY` instead.

use crate::error::{Error, Result, is_panic};
use crate::task::Failure;
use crate::xasync_status::*;
use std::cell::Cell;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// A `void *` from C: a task's argument or result, a channel's item, a
/// callback's user data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ptr(*mut c_void);

// SAFETY: the library never dereferences these pointers, it only hands
// them back to C; the C program owns what they point to and has accepted
// (see the crate's ownership rules) that they move between threads.
unsafe impl Send for Ptr {}

impl Ptr {
    /// Wraps a pointer from C.
    pub(crate) fn new(raw: *mut c_void) -> Ptr {
        Ptr(raw)
    }

    /// The pointer (taking `self` whole, so that closures capture the
    /// `Send` wrapper, not the raw field).
    pub(crate) fn into_raw(self) -> *mut c_void {
        self.0
    }
}

/// What the library knows about C code it runs: a coroutine it started,
/// or an fd callback on the loop.
pub(crate) struct Running {
    /// The id of the runtime it runs on (0: the default runtime, or one
    /// that has no handle).
    pub(crate) runtime: u64,
    /// For the coroutine of a task: the serial number of the task (see
    /// `task::Task`), to tell that it awaits itself; 0 otherwise.
    pub(crate) task: u64,
    /// For the coroutine of a timer: the timer's identity (see
    /// `timer::Shared`); null otherwise.
    pub(crate) timer: *const (),
    /// An fd callback on the event loop: it must not wait.
    on_loop: bool,
    /// Set once a waiting call saw the coroutine being cancelled.
    cancelled: Cell<bool>,
    /// For the coroutine of a task: the failure its C function reported
    /// (`xasync_task_fail`), which replaces its result.
    pub(crate) failure: Cell<Option<Failure>>,
}

impl Running {
    /// A coroutine on runtime `runtime` (for a task: with its serial
    /// number; for a timer: with its identity).
    pub(crate) fn coroutine(runtime: u64, task: u64, timer: *const ()) -> Running {
        Running {
            runtime,
            task,
            timer,
            on_loop: false,
            cancelled: Cell::new(false),
            failure: Cell::new(None),
        }
    }

    /// An fd callback on the event loop of runtime `runtime`.
    pub(crate) fn loop_callback(runtime: u64) -> Running {
        Running {
            on_loop: true,
            ..Running::coroutine(runtime, 0, ptr::null())
        }
    }

    /// Whether this is an fd callback on the event loop (where nothing may
    /// wait).
    pub(crate) fn on_loop(&self) -> bool {
        self.on_loop
    }

    /// Whether a waiting call saw the coroutine being cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

thread_local! {
    /// The coroutine of this library running C code on this thread, if any.
    static CURRENT: Cell<*const Running> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with what this library knows about the C code running on this
/// thread (`None` on a plain thread, or in a coroutine started by Rust
/// code).
pub(crate) fn current<R>(f: impl FnOnce(Option<&Running>) -> R) -> R {
    let current = CURRENT.with(Cell::get);
    // SAFETY: `CURRENT` is non-null only between `enter` setting it and its
    // restoring guard, minus the suspensions inside `wait`, which clear it
    // first: the `Running` it points to is then alive on this thread's
    // current stack (borrowed by `enter` for that whole time), and is only
    // read here, on its own thread.
    f(unsafe { current.as_ref() })
}

/// Restores `CURRENT` when dropped.
struct Restore(*const Running);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `body` (which calls C) as the C code described by `running`.
pub(crate) fn enter<R>(running: &Running, body: impl FnOnce() -> R) -> R {
    let outer = CURRENT.with(|c| c.replace(running));
    let _restore = Restore(outer);
    body()
}

/// The error of a waiting call in a cancelled coroutine.
pub(crate) fn cancelled() -> Error {
    Error::new(
        XASYNC_ERR_CANCELLED,
        "the calling coroutine was cancelled (its task or timer was cancelled, or its runtime \
         destroyed): clean up and return",
    )
}

/// Fails with `XASYNC_ERR_CANCELLED` if the calling coroutine was
/// cancelled, `XASYNC_ERR_BUSY` in an fd callback or a fiber: where the C
/// caller may not wait.
pub(crate) fn check() -> Result<()> {
    current(|c| match c {
        Some(c) if c.on_loop => Err(Error::new(
            XASYNC_ERR_BUSY,
            "an fd callback runs on the event loop and must not wait: start a coroutine \
             (xasync_spawn) for work that waits",
        )),
        Some(c) if c.is_cancelled() => Err(cancelled()),
        _ if crate::fiber::in_fiber() => Err(Error::new(
            XASYNC_ERR_BUSY,
            "a fiber must not wait (its stack is not the coroutine's or thread's): switch back \
             to the group's base to wait",
        )),
        _ => Ok(()),
    })
}

/// Runs `op`, which may suspend the calling coroutine (or block the
/// thread), for a waiting entry point: fails at once in a cancelled
/// coroutine; turns the unwind that cancels a suspended coroutine into
/// `XASYNC_ERR_CANCELLED` (and marks the coroutine), and a panic into
/// `XASYNC_ERR_PANIC`.
pub(crate) fn wait<R>(op: impl FnOnce() -> R) -> Result<R> {
    check()?;
    let me = CURRENT.with(|c| c.replace(ptr::null()));
    let result = catch_unwind(AssertUnwindSafe(op));
    CURRENT.with(|c| c.set(me));
    result.map_err(|payload| {
        if is_panic(&*payload) {
            return Error::panic(&*payload);
        }
        // The runtime is unwinding this coroutine to cancel it: stop here,
        // before C frames, and let the C code return by itself.
        current(|c| {
            if let Some(c) = c {
                c.cancelled.set(true);
            }
        });
        cancelled()
    })
}

/// Waits for `future` for at most `limit` (its output, or `None`): in a
/// coroutine (or on a worker thread) with the runtime's timers; on a plain
/// thread by parking it with a deadline, so that a timed wait there does
/// not start the default runtime for its timer.
pub(crate) fn timeout<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    if current(|c| c.is_some()) || xasync::Handle::try_current().is_some() {
        return xasync::time::timeout(limit, future).ok();
    }
    /// Unparks the waiting thread.
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let deadline = Instant::now().checked_add(limit);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                thread::park_timeout(left);
            }
            None => thread::park(),
        }
    }
}
