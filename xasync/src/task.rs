//! Handles on running coroutines and tasks, and ways to wait for several.

use crate::{xasync, xawait};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub use xasync_core::task::JoinError;

/// The handle of a coroutine or task: wait for its result, cancel it, or
/// chain more work after it. Dropping it detaches the task (it keeps running).
///
/// Waiting follows the crate's naming rule: [`join`](Self::join) suspends a
/// coroutine or blocks a thread; [`join_async`](Self::join_async) returns a
/// future. The handle is itself a future whose output is the task's value,
/// so async code can `.await` a coroutine (a panic in the task is re-raised
/// by the awaiter).
///
/// ```
/// let h = xasync::xasync(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// ```
#[must_use = "dropping a JoinHandle detaches the task; call `detach()` to say so"]
pub struct JoinHandle<T> {
    inner: xasync_core::task::JoinHandle<T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: xasync_core::task::JoinHandle<T>) -> Self {
        JoinHandle { inner }
    }

    /// Waits for the task; its value, or why there is none (it panicked or
    /// was cancelled).
    pub fn join(self) -> Result<T, JoinError> {
        xawait(self.inner)
    }

    /// A future of [`join`](Self::join)'s result.
    pub fn join_async(self) -> impl Future<Output = Result<T, JoinError>> + Send
    where
        T: Send,
    {
        self.inner
    }

    /// Waits for the task for at most `timeout`; if it has not finished by
    /// then, cancels it and waits for the cancellation to end (a coroutine's
    /// destructors have run when this returns). Its value, or why there is
    /// none: a task cancelled this way gives an error whose
    /// [`is_cancelled`](JoinError::is_cancelled) is true. A task that
    /// finishes as the time runs out keeps its value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let slow = xasync::xasync(|| xasync::time::sleep(Duration::from_secs(60)));
    /// let error = slow.join_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert!(error.is_cancelled());
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<T, JoinError> {
        xawait(self.join_timeout_async(timeout))
    }

    /// A future of [`join_timeout`](Self::join_timeout)'s result.
    pub async fn join_timeout_async(mut self, timeout: Duration) -> Result<T, JoinError> {
        match crate::time::timeout_async(timeout, &mut self.inner).await {
            Ok(result) => result,
            Err(_elapsed) => {
                self.inner.cancel();
                self.inner.await
            }
        }
    }

    /// Whether the task has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// Cancels the task: unless it finishes first, its future is dropped —
    /// a suspended coroutine is unwound on its worker, so the destructors on
    /// its stack run (they may wait, like any coroutine code) — and
    /// [`join`](Self::join) returns a cancellation error once that is done.
    /// Cancellation is cooperative: it takes effect at the task's next
    /// suspension.
    pub fn cancel(&self) {
        self.inner.cancel()
    }

    /// Lets the task run on with nobody waiting for it.
    pub fn detach(self) {
        self.inner.detach()
    }

    /// Starts `f` as a coroutine that receives this task's value when it is
    /// ready (the seed's `chain`). A panic of this task is re-raised in the
    /// new one.
    ///
    /// ```
    /// let h = xasync::xasync(|| 20).then(|v| v + 22);
    /// assert_eq!(xasync::xawait(h), 42);
    /// ```
    pub fn then<U, F>(self, f: F) -> JoinHandle<U>
    where
        T: Send + 'static,
        U: Send + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        xasync(move || f(xawait(self)))
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut().inner.poll_join(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            Poll::Ready(Err(error)) => error.resume(),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Configures a task before it starts, in the style of
/// [`std::thread::Builder`]: its name (shown in stack-overflow reports,
/// [dumps](crate::Runtime::dump) and the stall watchdog's reports) and,
/// for a coroutine, its stack size.
///
/// ```
/// let h = xasync::task::Builder::new()
///     .name("conn 42")
///     .stack_size(256 * 1024)
///     .xasync(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a Builder does nothing until it spawns"]
pub struct Builder {
    options: Options,
}

/// What a [`Builder`] sets.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: Option<usize>,
}

impl Builder {
    /// A builder with nothing set: an unnamed task with the runtime's
    /// stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.options.name = Some(name.into().into_boxed_str());
        self
    }

    /// Usable bytes of the coroutine's stack, at least. Up to the
    /// runtime's [stack size](crate::Builder::stack_size), the coroutine
    /// gets a stack of its worker's pool as usual; a larger one gets a
    /// guarded stack of its own, mapped when it starts (a coroutine that
    /// cannot get it panics). Futures have no stack: ignored for them.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.options.stack_size = Some(bytes);
        self
    }

    /// Starts `f` as a coroutine on the current runtime, like
    /// [`xasync`].
    pub fn xasync<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::Handle::with_current(|handle| self.xasync_on(handle, f))
    }

    /// Starts `f` as a coroutine on `handle`'s runtime.
    pub fn xasync_on<F, T>(self, handle: &crate::Handle, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        handle.xasync_with(self.options, f)
    }

    /// Runs `future` as a task on the current runtime, like
    /// [`spawn`](crate::spawn()).
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::Handle::with_current(|handle| self.spawn_on(handle, future))
    }

    /// Runs `future` as a task on `handle`'s runtime.
    pub fn spawn_on<F>(self, handle: &crate::Handle, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.spawn_with(self.options, future)
    }
}

/// Waits for every handle; their values in order. A panic of one of the
/// tasks is re-raised (after all have finished).
///
/// ```
/// let handles: Vec<_> = (0..4).map(|i| xasync::xasync(move || i * i)).collect();
/// assert_eq!(xasync::join_all(handles), [0, 1, 4, 9]);
/// ```
pub fn join_all<T>(handles: impl IntoIterator<Item = JoinHandle<T>>) -> Vec<T> {
    let results: Vec<Result<T, JoinError>> = handles.into_iter().map(JoinHandle::join).collect();
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| e.resume()))
        .collect()
}

/// The future of [`join_all`].
pub async fn join_all_async<T>(handles: impl IntoIterator<Item = JoinHandle<T>>) -> Vec<T> {
    let mut values = Vec::new();
    for handle in handles {
        values.push(handle.await);
    }
    values
}

/// Waits for the first of `handles` to finish: its index, its result, and
/// the other handles (still running) in their original order.
///
/// # Panics
///
/// If `handles` is empty.
pub fn select<T>(handles: Vec<JoinHandle<T>>) -> (usize, Result<T, JoinError>, Vec<JoinHandle<T>>) {
    xawait(select_async(handles))
}

/// The future of [`select`].
pub fn select_async<T>(
    mut handles: Vec<JoinHandle<T>>,
) -> impl Future<Output = (usize, Result<T, JoinError>, Vec<JoinHandle<T>>)> {
    assert!(!handles.is_empty(), "select needs at least one handle");
    std::future::poll_fn(move |cx| {
        for index in 0..handles.len() {
            if let Poll::Ready(result) = handles[index].inner.poll_join(cx) {
                let mut rest = std::mem::take(&mut handles);
                // The finished one: its result is returned instead.
                drop(rest.remove(index));
                return Poll::Ready((index, result, rest));
            }
        }
        Poll::Pending
    })
}

/// Waits for the first of `handles` to finish and cancels the others; the
/// winner's value (its panic is re-raised).
///
/// # Panics
///
/// If `handles` is empty.
pub fn race<T>(handles: Vec<JoinHandle<T>>) -> T {
    let (_, result, rest) = select(handles);
    for loser in &rest {
        loser.cancel();
    }
    result.unwrap_or_else(|e| e.resume())
}
