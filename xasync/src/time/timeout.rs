//! Bounding how long a wait may take.

use super::sleep::{Sleep, sleep_async};
use crate::xawait;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error of a wait that ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline has elapsed")
    }
}

/// Waits for `future` for at most `duration`: its output, or [`Elapsed`].
/// Suspends a coroutine, blocks a thread.
///
/// When time runs out the future is dropped. For most futures that
/// cancels what they were doing, but a [`JoinHandle`](crate::JoinHandle)
/// dropped this way only detaches its task, which runs on: use
/// [`JoinHandle::join_timeout`](crate::JoinHandle::join_timeout) to time
/// out and cancel the task in one call.
///
/// ```
/// use std::time::Duration;
/// let slow = xasync::time::sleep_async(Duration::from_secs(60));
/// assert!(xasync::time::timeout(Duration::from_millis(5), slow).is_err());
/// ```
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    xawait(timeout_async(duration, future))
}

/// The future of [`timeout`].
pub fn timeout_async<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep_async(duration),
    }
}

/// The future of [`timeout_async`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out); `sleep`
        // is Unpin.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        if let Poll::Ready(output) = unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
