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
//! [`spawn_unchecked`] accepts any future, and makes the scheduler promise to
//! run (and drop) the Runnable only where the future may live — how the std
//! runtime keeps a started coroutine on its worker.

mod join;
mod memory;
mod raw;
mod runnable;
pub mod stackful;
mod state;

pub use join::{JoinError, JoinHandle, TaskRef};
pub use runnable::{Ran, Runnable};

use crate::stack;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use raw::{ByDrop, ByPoll, Header, TaskCell, WAKER_VTABLE};
use stackful::{Stackful, Suspender};
use state::{HANDLE, SCHEDULED};

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
    unsafe { spawn_unchecked(future, schedule, 0) }
}

/// Creates a task for a future that is not `Send`, with a scheduler `tag`
/// (see [`Runnable::tag`]).
///
/// # Safety
///
/// The scheduler must run and drop every [`Runnable`] of this task, and
/// drop the last reference to it while the future has not finished, only on
/// threads where the future may be polled and dropped (for a stackful
/// coroutine: the thread it first ran on). If the output is not `Send`,
/// the same holds for the last reference while the output is unclaimed
/// (the [`JoinHandle`] is `Send` only for `Send` outputs).
pub unsafe fn spawn_unchecked<F, S>(
    future: F,
    schedule: S,
    tag: usize,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    S: Schedule,
{
    // One reference for the Runnable, one for the JoinHandle.
    let header = TaskCell::<_, _, ByDrop>::allocate(future, schedule, SCHEDULED | HANDLE, 2, tag);
    (Runnable::new(header), JoinHandle::new(header))
}

/// [`spawn_unchecked`], also returning a [`TaskRef`] for the scheduler's
/// registry of live tasks (cheaper than [`JoinHandle::task`]: no extra
/// atomic operation).
///
/// # Safety
///
/// As for [`spawn_unchecked`].
pub unsafe fn spawn_tracked<F, S>(
    future: F,
    schedule: S,
    tag: usize,
) -> (Runnable, JoinHandle<F::Output>, TaskRef)
where
    F: Future + 'static,
    S: Schedule,
{
    // References for the Runnable, the JoinHandle and the TaskRef.
    let header = TaskCell::<_, _, ByDrop>::allocate(future, schedule, SCHEDULED | HANDLE, 3, tag);
    (
        Runnable::new(header),
        JoinHandle::new(header),
        TaskRef::new(header),
    )
}

/// A future that finishes its own cancellation over polls instead of being
/// dropped at once: a stackful coroutine unwinds its stack inside polls of
/// its task, so that its destructors may wait (see [`Suspender`]).
pub(crate) trait PollCancel: Future {
    /// Advances the cancellation; `Ready` once it has ended (the future is
    /// then dropped).
    fn poll_cancel(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

/// Creates a task for a stackful coroutine, with a scheduler `tag`.
///
/// Unlike a future spawned with [`spawn_unchecked`], a cancelled coroutine
/// task is not dropped at once: its next runs unwind the coroutine, whose
/// destructors may wait like any coroutine code (see [`Suspender`]), and
/// the task completes as cancelled when the unwinding ends.
///
/// # Safety
///
/// As for [`spawn_unchecked`]: once started, the coroutine must be run and
/// dropped only on the thread of its first run.
pub unsafe fn spawn_stackful<F, T, St, S>(
    coroutine: Stackful<F, T, St>,
    schedule: S,
    tag: usize,
) -> (Runnable, JoinHandle<T>)
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    St: stack::Stack + Default,
    S: Schedule,
{
    let header =
        TaskCell::<_, _, ByPoll>::allocate(coroutine, schedule, SCHEDULED | HANDLE, 2, tag);
    (Runnable::new(header), JoinHandle::new(header))
}

/// [`spawn_stackful`], also returning a [`TaskRef`] (see [`spawn_tracked`]).
///
/// # Safety
///
/// As for [`spawn_stackful`].
pub unsafe fn spawn_stackful_tracked<F, T, St, S>(
    coroutine: Stackful<F, T, St>,
    schedule: S,
    tag: usize,
) -> (Runnable, JoinHandle<T>, TaskRef)
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    St: stack::Stack + Default,
    S: Schedule,
{
    let header =
        TaskCell::<_, _, ByPoll>::allocate(coroutine, schedule, SCHEDULED | HANDLE, 3, tag);
    (
        Runnable::new(header),
        JoinHandle::new(header),
        TaskRef::new(header),
    )
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

/// Asks for the task being polled with `cx` to be queued again when this
/// poll returns `Pending`, without a wake-up (no atomic read-modify-write:
/// the cheapest `yield`).
///
/// Returns `false` when `cx` is not the context a task of this module is
/// being polled with (a combinator's own context, another executor): the
/// caller must then wake `cx.waker()` itself.
#[inline]
pub fn yield_hint(cx: &Context<'_>) -> bool {
    let waker = cx.waker();
    if !is_task_waker(waker) {
        return false;
    }
    // SAFETY: a waker with our vtable points to a live task header (the
    // waker holds or borrows a reference).
    let header = unsafe { &*waker.data().cast::<Header>() };
    if header.polling.load(crate::loom::Ordering::Relaxed) != core::ptr::from_ref(cx) as usize {
        return false;
    }
    header.yielded.store(true, crate::loom::Ordering::Relaxed);
    true
}
