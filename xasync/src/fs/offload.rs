//! Where file system calls run. Today: the runtime's blocking pool (a
//! coroutine suspends while a pool thread makes the call; a plain thread
//! makes it itself). This is the one seam an io_uring backend replaces:
//! every operation of [`crate::fs`] is an owned closure over owned
//! buffers, which is exactly the shape of an io_uring submission.

use crate::task::JoinHandle;

/// Runs a file system operation, waiting as the caller waits.
///
/// # Panics
///
/// Inside `Future::poll` (use [`run_async`]).
pub(crate) fn run<T, F>(op: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    crate::blocking(op)
}

/// Starts a file system operation; the handle resolves to its result.
pub(crate) fn run_async<T, F>(op: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    crate::blocking_async(op)
}
