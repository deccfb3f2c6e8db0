//! Multi-producer, multi-consumer channels, bounded or not.
//!
//! [`Sender::send`] and [`Receiver::recv`] wait (suspending a coroutine,
//! blocking a thread); `send_async` / `recv_async` return futures;
//! `try_send` / `try_recv` never wait. When every sender is gone, receivers
//! get the remaining items and then [`RecvError`]; when every receiver is
//! gone, sends fail and return the value.
//!
//! ```
//! let (tx, rx) = xasync::sync::channel::unbounded();
//! tx.send("hello").unwrap();
//! drop(tx);
//! assert_eq!(rx.recv(), Ok("hello"));
//! assert!(rx.recv().is_err()); // disconnected and drained
//! ```

use super::{forward, wraps};
use crate::time::timeout_async;
use crate::xawait;
use std::fmt;
use std::time::Duration;
use xasync_core::sync::channel as core_channel;

pub use core_channel::{RecvError, RecvFut, SendError, SendFut, TryRecvError, TrySendError};

/// A channel of unlimited capacity: sends never wait.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = core_channel::unbounded();
    (Sender(tx), Receiver(rx))
}

/// A channel holding at most `cap` items: sends wait while it is full.
/// `bounded(0)` is a rendezvous channel: a send completes when a receiver
/// takes the value.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = core_channel::bounded(cap);
    (Sender(tx), Receiver(rx))
}

/// The sending side; clone it for more producers.
pub struct Sender<T>(core_channel::Sender<T>);

/// The receiving side; clone it for more consumers.
pub struct Receiver<T>(core_channel::Receiver<T>);

wraps!(Sender<T>, core_channel::Sender<T>);
wraps!(Receiver<T>, core_channel::Receiver<T>);

/// The methods both ends forward to the core's.
macro_rules! common_methods {
    ($end:ident) => {
        impl<T> $end<T> {
            forward! {
                /// The number of buffered values.
                fn len(&self) -> usize;
                /// Whether no value is buffered.
                fn is_empty(&self) -> bool;
                /// Whether the buffer is at capacity (always for
                /// `bounded(0)`, never for an unbounded channel).
                fn is_full(&self) -> bool;
                /// The capacity, or `None` if unbounded.
                fn capacity(&self) -> Option<usize>;
                /// The number of live senders.
                fn sender_count(&self) -> usize;
                /// The number of live receivers.
                fn receiver_count(&self) -> usize;
            }
        }
    };
}
common_methods!(Sender);
common_methods!(Receiver);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver(self.0.clone())
    }
}

/// Why [`Sender::send_timeout`] failed; the value comes back.
#[derive(PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full until the timeout.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// Why [`Receiver::recv_timeout`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the timeout.
    Timeout,
    /// Every sender is gone and the channel is empty.
    Disconnected,
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out sending on a full channel"),
            SendTimeoutError::Disconnected(_) => {
                f.write_str("sending on a channel with no receiver")
            }
        }
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out receiving on an empty channel"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on an empty channel with no sender")
            }
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Fails (returning
    /// the value) once every receiver is gone.
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        xawait(self.0.send_async(value))
    }

    /// As [`send`](Self::send), giving up after `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let mut sending = self.0.send_async(value);
        match xawait(timeout_async(timeout, &mut sending)) {
            Ok(result) => result.map_err(|SendError(v)| SendTimeoutError::Disconnected(v)),
            // A receiver may have taken it just now: then it was sent.
            Err(_) => sending
                .cancel()
                .map_or(Ok(()), |v| Err(SendTimeoutError::Timeout(v))),
        }
    }

    forward! {
        /// The future of [`send`](Self::send). Dropping it while it waits
        /// withdraws the value, unless a receiver already took it.
        fn send_async(&self, value: T) -> SendFut<'_, T>;
        /// Sends `value` if that is possible without waiting.
        fn try_send(&self, value: T) -> Result<(), TrySendError<T>>;
        /// Whether every receiver is gone.
        fn is_disconnected(&self) -> bool;
    }
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting while the channel is empty. Fails
    /// once every sender is gone and the channel is drained.
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        xawait(self.0.recv_async())
    }

    /// As [`recv`](Self::recv), giving up after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match xawait(timeout_async(timeout, self.0.recv_async())) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(RecvError)) => Err(RecvTimeoutError::Disconnected),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }

    forward! {
        /// The future of [`recv`](Self::recv).
        fn recv_async(&self) -> RecvFut<'_, T>;
        /// Receives a value if one is there now.
        fn try_recv(&self) -> Result<T, TryRecvError>;
        /// Whether every sender is gone (values may still be buffered).
        fn is_disconnected(&self) -> bool;
    }

    /// The values as they arrive, until every sender is gone: waits
    /// between them.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// The wrapped core receiver, which is a `Stream`.
    pub fn into_inner(self) -> core_channel::Receiver<T> {
        self.0
    }
}
