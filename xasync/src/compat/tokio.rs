//! Tokio-based crates in coroutines and tasks (feature `tokio`).
//!
//! Crates built on tokio (reqwest, hyper-util's client, tokio-postgres,
//! sqlx, `tokio::net`, `tokio::time`) need a tokio runtime's context on
//! the thread that creates or polls their futures: without one they panic
//! with "there is no reactor running". With this feature they work
//! unchanged under [`xawait`](crate::xawait) in coroutines and with
//! `.await` in tasks started by [`spawn`](crate::spawn):
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! let sleepers: Vec<_> = (0..10)
//!     .map(|_| xasync::xasync(|| xasync::xawait(tokio::time::sleep(Duration::from_millis(50)))))
//!     .collect();
//! xasync::join_all(sleepers);
//! assert!(start.elapsed() < Duration::from_secs(5)); // they overlapped
//! ```
//!
//! # Design
//!
//! One tokio driver thread per process, `xasync-tokio`, started on first
//! use: a current-thread tokio runtime with its I/O and time drivers, which
//! does nothing but drive them (and run the tasks `tokio::spawn` starts).
//! Every worker thread of every xasync runtime enters the driver's
//! [`handle`] as it starts and leaves it as it exits, so that tokio
//! resources created on a worker (sockets, timers) register with the
//! driver. Their futures are polled on the worker, by the coroutine or task
//! that awaits them, with xasync's wakers: when the driver sees a socket
//! ready or a timer due, it wakes the xasync task, which runs on its worker
//! as any woken task does.
//!
//! Entering the context per coroutine would not work: tokio's context is a
//! stack of guards per thread, which must be left in the reverse order of
//! entering, and coroutines that suspend while holding one interleave on
//! their worker. The worker's own guard is entered before any coroutine
//! runs and left after the last one has, so it nests around all of them.
//!
//! A plain thread waiting with [`xawait`](crate::xawait) (or
//! [`block_on`](crate::block_on)) enters the driver's context for the
//! wait, unless it is already in a tokio context, so tokio futures can be
//! polled there too. A tokio future *created* on a plain thread before the
//! wait (`xawait(tokio::time::sleep(d))` on `main`'s thread) still needs a
//! context at creation: create it inside the awaited future
//! (`xawait(async { tokio::time::sleep(d).await })`), in a coroutine, or
//! under `handle().enter()`. The threads of the
//! [blocking pool](crate::blocking) are plain threads in that sense.
//!
//! `tokio::spawn` from a coroutine or task starts a tokio task on the
//! driver thread, where tokio's own tasks run (hyper-util's client runs
//! its connections there); [`spawn`](crate::spawn) starts one on xasync's
//! workers. A tokio task is async code like any other: a waiting function
//! (`xawait`, `xasync::time::sleep`) in it would block the driver thread,
//! and every tokio socket and timer with it. `tokio::task::block_in_place` is not available (it needs tokio's
//! multi-threaded runtime); use [`blocking`](crate::blocking).
//!
//! # Cost
//!
//! Polling a tokio future on a worker costs what it costs in tokio: a
//! `tokio::sync::Notify` ping-pong between two coroutines takes the time it
//! takes between two tokio tasks. A readiness event crosses one thread: the
//! driver's `epoll_wait` sees it and wakes the xasync task, which unparks
//! its worker. That hop costs about 2.3 µs per event on a 2-vCPU VM (a
//! 1-byte TCP ping-pong over `tokio::net` takes 10.2 µs per round trip on
//! one worker, 5.7 µs in tokio's current-thread runtime, 5.3 µs over
//! [`xasync::net`](crate::net), whose sockets wait in the worker's own
//! reactor). Timers keep tokio's 1 ms resolution. Figures and command:
//! `docs/BENCHMARKS.md`, "tokio-based crates under xawait". The driver
//! itself is one thread and a few file descriptors (its `epoll` and
//! waker), once per process.
//!
//! Coroutine stacks: reqwest's futures need more than the default 64 KiB
//! in debug builds (128 KiB is enough); see
//! [`Builder::stack_size`](crate::Builder::stack_size).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::runtime::{EnterGuard, Handle};

/// The driver's handle, once started.
static DRIVER: OnceLock<Handle> = OnceLock::new();

/// The handle of the process's tokio driver, whose context every xasync
/// worker has entered; starts the driver thread on first use (every
/// [`Runtime`](crate::Runtime) starts it as it is built).
///
/// User code does not need it on workers. Elsewhere it gives a context to
/// create tokio futures in (`handle().enter()`), or runs tokio code on the
/// driver (`handle().spawn(..)`).
///
/// ```
/// use std::time::Duration;
///
/// // A plain thread: the sleep is created under the driver's context.
/// let _tokio = xasync::compat::tokio::handle().enter();
/// xasync::xawait(tokio::time::sleep(Duration::from_millis(1)));
/// ```
///
/// # Panics
///
/// If the driver thread or its runtime cannot be started (out of threads
/// or file descriptors).
pub fn handle() -> &'static Handle {
    try_handle().expect("xasync: failed to start the tokio driver")
}

/// The driver's handle, starting the driver if it has not started (a
/// failed start is tried again next time).
pub(crate) fn try_handle() -> io::Result<&'static Handle> {
    if let Some(handle) = DRIVER.get() {
        return Ok(handle);
    }
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = DRIVER.get() {
        return Ok(handle);
    }
    let handle = start_driver()?;
    Ok(DRIVER.get_or_init(|| handle))
}

/// Starts the driver thread and returns its runtime's handle.
fn start_driver() -> io::Result<Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("xasync-tokio".into())
        // Driving the runtime forever: its I/O and time drivers run when
        // this thread parks in `block_on`, and so do tokio's tasks.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// Enters the driver's context on this thread until the guard is dropped,
/// unless the thread already is in a tokio context (a tokio runtime's own
/// thread, or inside another `enter`), whose handle is left in place.
///
/// The guard must be dropped on this thread after every guard entered
/// after it: callers hold it around a whole worker loop or a whole wait.
/// If the driver cannot start (here, on a plain thread: a runtime's
/// workers find it started by [`Builder::build`](crate::Builder::build)),
/// says so once on standard error and enters nothing; tokio futures then
/// panic as they would without the feature.
pub(crate) fn enter() -> Option<EnterGuard<'static>> {
    if Handle::try_current().is_ok() {
        return None;
    }
    match try_handle() {
        Ok(handle) => Some(handle.enter()),
        Err(e) => {
            static REPORTED: AtomicBool = AtomicBool::new(false);
            if !REPORTED.swap(true, Ordering::Relaxed) {
                eprintln!("xasync: the tokio driver could not start: {e}");
            }
            None
        }
    }
}
