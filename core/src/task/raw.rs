//! The scheduler author's side of tasks: spawning under thread rules the
//! compiler cannot check, a handle for a registry of live tasks, tasks for
//! stackful coroutines, and the yield hint.
//!
//! **Warning:** these are for writing a scheduler (the std runtime's
//! workers, a kernel's per-CPU executor, [`LocalExecutor`]); most of them
//! are `unsafe`, with contracts about which thread runs and drops what.
//! Code that only runs futures wants [`spawn`](super::spawn) and an
//! executor. (The same split as embassy-executor's `raw` module.)
//!
//! [`LocalExecutor`]: crate::executor::LocalExecutor

use super::cell::{ByDrop, ByPoll, Header, TaskCell};
use super::stackful::{Stackful, Suspender};
use super::state::{HANDLE, SCHEDULED};
use super::{JoinHandle, Runnable, Schedule};
use crate::stack;
use core::future::Future;
use core::task::Context;

pub use super::join::TaskRef;

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
    if !super::is_task_waker(waker) {
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
