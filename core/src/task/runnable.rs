//! The right to run a task once.

use super::cell::{Header, OnIdle};
use core::fmt;
use core::ptr::NonNull;

/// A task ready to run. Exactly one exists per task at a time; running it
/// polls the future once (or drops it, if the task was cancelled).
///
/// Dropping a Runnable without running it cancels the task: the future is
/// dropped where the Runnable is dropped.
pub struct Runnable {
    header: NonNull<Header>,
}

// SAFETY: a Runnable is a pointer to a thread-safe header plus the right to
// poll; for futures that are not Send, `spawn_unchecked`'s caller promised
// to run it only on the right thread.
unsafe impl Send for Runnable {}
// SAFETY: all `&self` methods touch only atomics.
unsafe impl Sync for Runnable {}

impl Runnable {
    /// Wraps the task's one Runnable reference.
    pub(super) fn new(header: NonNull<Header>) -> Self {
        Runnable { header }
    }

    /// Polls the task once.
    ///
    /// Returns the Runnable back when the task yielded through
    /// [`yield_hint`](super::raw::yield_hint): queue it again (typically behind
    /// the other ready tasks). Otherwise the task is done with for now: it
    /// completed, went to sleep until woken, or was woken during the poll
    /// and already rescheduled itself.
    #[inline]
    pub fn run(self) -> Option<Runnable> {
        self.run_with(OnIdle::Release).again
    }

    /// Polls the task once, like [`run`](Self::run), and the first time the
    /// task goes idle (pending, not woken meanwhile) also hands back a
    /// [`TaskRef`](super::raw::TaskRef) to it — at no extra cost (it is the
    /// Runnable's own reference, kept). A scheduler registers only tasks
    /// that actually wait this way (to cancel them at shutdown), instead of
    /// every task it spawns.
    #[inline]
    pub fn run_tracked(self) -> Ran {
        self.run_with(OnIdle::Track)
    }

    #[inline]
    fn run_with(self, on_idle: OnIdle) -> Ran {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: we hold the Runnable, whose reference `run` consumes or
        // hands on.
        unsafe { (this.header.as_ref().vtable.run)(this.header, on_idle) }
    }

    /// Requests the task's cancellation, as
    /// [`JoinHandle::cancel`](super::JoinHandle::cancel) does: running this
    /// Runnable then drops the future (or, for a stackful coroutine, starts
    /// unwinding it) instead of polling it. How a scheduler shutting down
    /// stops the tasks it is handed.
    pub fn cancel(&self) {
        // SAFETY: our reference keeps the task alive.
        unsafe { super::cell::close(self.header) }
    }

    /// The scheduler's word for this task (0 unless set).
    #[inline]
    pub fn tag(&self) -> usize {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }
            .tag
            .load(crate::loom::Ordering::Relaxed)
    }

    /// Sets the scheduler's word (e.g. the worker a coroutine is pinned to).
    #[inline]
    pub fn set_tag(&self, tag: usize) {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }
            .tag
            .store(tag, crate::loom::Ordering::Relaxed);
    }

    /// Hands the Runnable to the task's scheduler, as a wake-up would.
    pub fn schedule(self) {
        let this = core::mem::ManuallyDrop::new(self);
        let runnable = Runnable {
            header: this.header,
        };
        // SAFETY: the Runnable is this task's only one.
        unsafe { (this.header.as_ref().vtable.schedule)(this.header, runnable) }
    }
}

/// What [`Runnable::run_tracked`] left behind.
#[derive(Debug, Default)]
#[must_use = "a yielded Runnable must be queued again, and a TaskRef kept or dropped"]
pub struct Ran {
    /// The task yielded: queue it again (see [`Runnable::run`]).
    pub again: Option<Runnable>,
    /// The task went idle for the first time: a reference to it.
    pub idle: Option<super::raw::TaskRef>,
}

impl Drop for Runnable {
    fn drop(&mut self) {
        // SAFETY: we hold the Runnable and give it up: the future is
        // dropped and the task completes as cancelled.
        unsafe { (self.header.as_ref().vtable.cancel_unrun)(self.header) };
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runnable")
            .field("tag", &self.tag())
            .finish_non_exhaustive()
    }
}
