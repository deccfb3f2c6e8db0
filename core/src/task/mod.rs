//! Tasks: a future (or a stackful coroutine, see [`stackful`]) plus the
//! state machine that schedules it, independent of any scheduler.
//!
//! [`spawn`] returns a [`Runnable`] — run it to poll the future once — and a
//! [`JoinHandle`] for the result. Waking the task hands a new `Runnable` to
//! the [`Schedule`] hook the scheduler supplied. This is the seam where the
//! std runtime's workers, a kernel's per-CPU executor and the
//! [`LocalExecutor`](crate::executor::LocalExecutor) meet.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use xasync_core::task::{self, Runnable};
//!
//! let queue = Arc::new(Mutex::new(Vec::<Runnable>::new()));
//! let q = queue.clone();
//! let (runnable, mut handle) = task::spawn(async { 6 * 7 }, move |r| q.lock().unwrap().push(r));
//! assert!(runnable.run().is_none()); // polled to completion
//! assert!(handle.is_finished());
//! let waker = std::task::Waker::noop();
//! let mut cx = std::task::Context::from_waker(&waker);
//! assert_eq!(handle.poll_join(&mut cx).map(Result::unwrap), std::task::Poll::Ready(42));
//! ```
//!
//! # Threads
//!
//! [`spawn`] requires a `Send` future: its Runnable may run anywhere.
//! [`raw::spawn_unchecked`] accepts any future, and makes the scheduler
//! promise to run (and drop) the Runnable only where the future may live —
//! how the std runtime keeps a started coroutine on its worker.
//!
//! # Writing a scheduler
//!
//! What only a scheduler needs — spawning with unchecked thread rules, a
//! task's registry handle, tasks for stackful coroutines, the yield hint —
//! is in [`raw`], apart from the API that futures and their users need.

mod cell;
mod join;
mod memory;
pub mod raw;
mod runnable;
pub mod stackful;
mod state;

pub use join::{JoinError, JoinHandle};
pub use runnable::{Ran, Runnable};

use cell::WAKER_VTABLE;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// How a task asks to be run: the scheduler's side of the seam.
pub trait Schedule: Send + Sync + 'static {
    /// Queues `runnable` to be run. Called when the task is woken (from any
    /// thread, possibly from inside another task's poll), never while a lock
    /// of the task is held.
    fn schedule(&self, runnable: Runnable);
}

impl<F: Fn(Runnable) + Send + Sync + 'static> Schedule for F {
    fn schedule(&self, runnable: Runnable) {
        self(runnable)
    }
}

/// Creates a task running `future`, scheduled through `schedule`.
///
/// Nothing runs until the returned [`Runnable`] is run (or queued by the
/// caller). The task's tag starts at 0.
pub fn spawn<F, S>(future: F, schedule: S) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: a Send future may be polled and dropped on any thread.
    unsafe { raw::spawn_unchecked(future, schedule, 0) }
}

/// A future that finishes its own cancellation over polls instead of being
/// dropped at once: a stackful coroutine unwinds its stack inside polls of
/// its task, so that its destructors may wait (see [`Suspender`]).
pub(crate) trait PollCancel: Future {
    /// Advances the cancellation; `Ready` once it has ended (the future is
    /// then dropped).
    fn poll_cancel(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

/// A waker that unparks the calling thread: for blocking a thread on a
/// future (`std::thread::park` until woken).
#[cfg(feature = "std")]
pub fn thread_waker() -> core::task::Waker {
    struct Unpark(std::thread::Thread);
    impl alloc::task::Wake for Unpark {
        fn wake(self: alloc::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &alloc::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    core::task::Waker::from(alloc::sync::Arc::new(Unpark(std::thread::current())))
}

/// Whether `waker` is a waker of a task of this module, whose clone is one
/// atomic increment (no executor code runs): the sync primitives may clone
/// it while holding their lock.
#[inline]
pub(crate) fn is_task_waker(waker: &core::task::Waker) -> bool {
    core::ptr::eq(waker.vtable(), &WAKER_VTABLE)
}
