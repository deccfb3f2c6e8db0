//! A channel for exactly one value.
//!
//! ```
//! let (tx, rx) = xasync::sync::oneshot::channel();
//! xasync::xasync(move || tx.send(42).unwrap()).detach();
//! assert_eq!(rx.recv(), Ok(42));
//! ```

use crate::time::timeout_async;
use crate::xawait;
use std::time::Duration;
use xasync_core::sync::oneshot as core_oneshot;

pub use super::channel::RecvTimeoutError;
pub use core_oneshot::{RecvError, Sender, TryRecvError};

/// A oneshot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = core_oneshot::channel();
    (tx, Receiver(rx))
}

/// The receiving side: [`recv`](Self::recv) waits; the receiver itself is
/// also a future (through `Deref`, or [`recv_async`](Self::recv_async)).
#[derive(Debug)]
pub struct Receiver<T>(core_oneshot::Receiver<T>);

impl<T> Receiver<T> {
    /// Waits for the value (suspending a coroutine, blocking a thread);
    /// fails if the sender was dropped without sending.
    pub fn recv(self) -> Result<T, RecvError> {
        xawait(self.0)
    }

    /// As [`recv`](Self::recv), giving up after `timeout`: then the
    /// receiver stays usable, to wait again. Once the value has been
    /// received, or the sender dropped without sending, it fails with
    /// [`RecvTimeoutError::Disconnected`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use xasync::sync::oneshot::{self, RecvTimeoutError};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// let short = Duration::from_millis(10);
    /// assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Timeout));
    /// tx.send(7).unwrap();
    /// assert_eq!(rx.recv_timeout(short), Ok(7));
    /// assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Disconnected));
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match xawait(timeout_async(timeout, &mut self.0)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(RecvError)) => Err(RecvTimeoutError::Disconnected),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// The future of [`recv`](Self::recv).
    pub fn recv_async(self) -> core_oneshot::Receiver<T> {
        self.0
    }

    /// Takes the value if it has been sent.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.try_recv()
    }

    /// Refuses the value: the sender's `send` fails from now on.
    pub fn close(&mut self) {
        self.0.close()
    }
}
