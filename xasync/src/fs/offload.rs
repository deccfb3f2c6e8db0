//! Where file system calls run when not in a ring: the runtime's blocking
//! pool (a coroutine suspends while a pool thread makes the call; a plain
//! thread makes it itself). A coroutine on a worker that uses io_uring
//! opens (`File::open`, `File::create`, `FileOptions::open`), reads,
//! writes and syncs files in the worker's ring instead (see `file.rs`);
//! opening with std's `OpenOptions` (`File::open_with`: they do not show
//! their flags), metadata (std's `Metadata` cannot be made from a
//! `statx` result), seeks and the path functions still come here.

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
