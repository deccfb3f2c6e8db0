//! The task state word: flags in the low bits, a reference count above.
//!
//! Every transition is a read-modify-write of this one word, so the flags
//! always agree with each other and with the count.
//!
//! Running a queued task costs no read-modify-write: a Runnable's existence
//! is one flag, `SCHEDULED`, set by the wake-up that queued it and cleared
//! only when its run ends (idle or completed). A wake-up that finds it set
//! only records itself in `NOTIFIED`, which the run clears when it starts
//! (rarely set then, so usually a plain load) and reads when its poll
//! returns `Pending`.

/// A `Runnable` exists for the task: it is queued, about to be, or being
/// run. Invariant: at most one `Runnable` exists.
pub(crate) const SCHEDULED: usize = 1 << 0;

/// A wake-up arrived while the `Runnable` existed: if the poll it runs (or
/// is running) returns `Pending`, the task must run again.
pub(crate) const NOTIFIED: usize = 1 << 1;

/// The future is gone and the stage holds its result (output, panic or
/// cancellation). From here on only the `JoinHandle` touches the stage.
pub(crate) const COMPLETED: usize = 1 << 2;

/// Cancellation was requested: the next run drops the future instead of
/// polling it.
pub(crate) const CLOSED: usize = 1 << 3;

/// A `JoinHandle` exists (it wants the result and the completion wake-up).
pub(crate) const HANDLE: usize = 1 << 4;

/// The task went idle once under [`Runnable::run_tracked`](super::Runnable::run_tracked),
/// which then handed the scheduler a `TaskRef` (the Runnable's reference,
/// kept instead of dropped). Later idles drop it as usual.
pub(crate) const TRACKED: usize = 1 << 5;

/// The `JoinHandle` left a waker in the header's `awaiter` cell, which now
/// belongs to the completing side: it wakes that waker when it sets
/// `COMPLETED`. While this is set and the task is not completed, the
/// handle takes the cell back only by clearing the flag.
pub(crate) const JOIN_WAKER: usize = 1 << 6;

/// One reference (a `Runnable`, a `JoinHandle`, a `TaskRef` or a waker).
pub(crate) const REFERENCE: usize = 1 << 7;

/// The reference count in a state word.
pub(crate) const fn references(state: usize) -> usize {
    state >> REFERENCE.trailing_zeros()
}
