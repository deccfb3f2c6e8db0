//! The task state word: flags in the low bits, a reference count above.
//!
//! Every transition is a compare-and-swap on this one word, so the flags
//! always agree with each other and with the count.

/// A `Runnable` exists for the task: it is queued, about to be, or (with
/// `RUNNING`) a wake-up arrived while it ran and it must run again.
/// Invariant: at most one `Runnable` exists.
pub(crate) const SCHEDULED: usize = 1 << 0;

/// The `Runnable` is being run: only its holder touches the future.
pub(crate) const RUNNING: usize = 1 << 1;

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

/// One reference (a `Runnable`, a `JoinHandle`, a `TaskRef` or a waker).
pub(crate) const REFERENCE: usize = 1 << 6;

/// The reference count in a state word.
pub(crate) const fn references(state: usize) -> usize {
    state >> REFERENCE.trailing_zeros()
}
