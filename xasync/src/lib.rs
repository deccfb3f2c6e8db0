//! # xasync — asynchrony without coloured functions
//!
//! Plain functions run as stackful coroutines; waiting inside them suspends
//! the coroutine instead of the thread.
//!
//! ```
//! use std::time::Duration;
//! use xasync::{xasync, xawait};
//!
//! fn long_time_action() -> u64 {
//!     xasync::time::sleep(Duration::from_millis(50)); // suspends, does not block
//!     42
//! }
//!
//! let h = xasync(long_time_action); // starts a coroutine; no setup needed
//! // ... other work ...
//! assert_eq!(xawait(h), 42); // waits only here
//! ```
//!
//! One runtime serves three kinds of callers with the same functions: in a
//! coroutine started by [`xasync`], waiting suspends it; in an async task
//! started by [`spawn`], use the `_async` variants with `.await`; on a plain
//! thread, waiting blocks it. Every [`JoinHandle`] is also a future, and
//! [`xawait`] accepts any future, so the two worlds wait on each other.
//!
//! This crate is the std layer over [`xasync_core`]: the multi-threaded
//! runtime, timers, sync primitives, mmap stacks with guard pages, slab
//! stacks for millions of coroutines, and stack-overflow reports.
//!
//! # Thread state in coroutines
//!
//! A worker thread runs many coroutines in turn, each suspended where it
//! waits. What belongs to the thread is therefore shared by them:
//!
//! - **Never hold a `std::sync::Mutex` guard (or `RwLock` guard, or any
//!   lock that blocks the thread) across a wait.** The coroutine suspends
//!   with the lock held; when another coroutine on the same worker asks for
//!   it, `lock` blocks the worker's thread, so the holder — which only that
//!   worker can resume — never runs again: a deadlock, certain on one
//!   worker. Release the guard before waiting, or use
//!   [`sync::Mutex`], whose `lock` suspends instead.
//!   This is not detected, even in debug builds: a std guard leaves no
//!   trace a runtime could see (std's mutex is a futex word of its own,
//!   with no hook on lock or unlock and no record of who holds it), and the
//!   compiler does not check what a coroutine holds across a suspension as
//!   it checks an `async fn`'s `Send`.
//! - **`thread_local!`** values are the worker's, shared by all its
//!   coroutines; a started coroutine never changes thread, so it always
//!   sees the same value, but others may change it while it is suspended.
//!   For a value per coroutine, use [`coroutine_local!`] (see [`local`]).
//! - **`tracing`**: a subscriber keeps the entered spans per thread. With
//!   the `tracing` feature, a span entered in a coroutine (`span.enter()`
//!   held across a wait) stays that coroutine's: it is exited while the
//!   coroutine is suspended and entered again when it resumes, so other
//!   coroutines neither log under it nor take it as parent.
//!   `tracing::Instrument` on futures works with or without the feature.
//!   Install the subscriber globally (`set_global_default`): a scoped
//!   default (`with_default`, `set_default`) is the calling thread's and
//!   does not reach the workers, and setting one inside a coroutine and
//!   holding its guard across a wait mixes coroutines as `thread_local!`
//!   does.
#![cfg(unix)]

#[cfg(any(feature = "tokio", feature = "hyper"))]
pub mod compat;
mod context;
pub mod coroutine;
pub mod fs;
#[cfg(all(feature = "hook", target_os = "linux"))]
mod hook;
pub mod io;
pub mod local;
mod loom;
pub mod net;
pub mod runtime;
#[cfg(feature = "tracing")]
mod spans;
pub mod stack;
pub mod sync;
mod sys;
pub mod task;
pub mod time;
mod wait;

pub use runtime::{Builder, Handle, Runtime};
pub use task::{JoinError, JoinHandle, join_all, join_all_async, race, select, select_async};
pub use wait::{YieldNow, block_on, blocking, blocking_async, xawait, yield_now, yield_now_async};

use std::future::Future;

/// Starts `f` as a stackful coroutine and returns its handle; `f` runs
/// concurrently and may wait (sleep, receive, lock, `xawait`) without
/// blocking its worker thread.
///
/// Works anywhere: on a worker of a runtime it uses that runtime, elsewhere
/// the default runtime, started on first use (`XASYNC_WORKERS` sets its
/// worker count).
///
/// `f` must be `Send` because it may start on any worker; once started the
/// coroutine stays on that worker's thread (its stack may hold anything).
///
/// ```
/// let h = xasync::xasync(|| "done");
/// assert_eq!(xasync::xawait(h), "done");
/// ```
pub fn xasync<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::with_current(|handle| handle.xasync(f))
}

/// Runs an ordinary `Future` as a task (stackless) on the same scheduler
/// as the coroutines; same rules as [`xasync`] for which runtime.
///
/// ```
/// let h = xasync::spawn(async { 21 * 2 });
/// assert_eq!(xasync::xawait(h), 42);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::with_current(|handle| handle.spawn(future))
}

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
