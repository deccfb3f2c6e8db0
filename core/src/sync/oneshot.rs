//! A channel for a single value.
//!
//! [`Sender::send`] never waits; the [`Receiver`] is itself the future of
//! the value. If the sender is dropped without sending, the receiver gets
//! [`RecvError`]; if the receiver is dropped or [closed](Receiver::close)
//! first, `send` gives the value back.
//!
//! ```
//! use futures::executor::block_on;
//! use xasync_core::sync::oneshot;
//!
//! let (tx, rx) = oneshot::channel();
//! std::thread::spawn(move || tx.send(42).unwrap());
//! assert_eq!(block_on(rx), Ok(42));
//!
//! let (tx, rx) = oneshot::channel::<u8>();
//! drop(tx);
//! assert_eq!(block_on(rx), Err(oneshot::RecvError));
//! ```

use crate::spin::SpinLock;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// A new oneshot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(SpinLock::new(State {
        value: None,
        waker: None,
        sender_gone: false,
        receiver_closed: false,
    }));
    let receiver = Receiver {
        inner: inner.clone(),
    };
    (Sender { inner: Some(inner) }, receiver)
}

#[derive(Debug)]
struct State<T> {
    value: Option<T>,
    /// The receiver's waker.
    waker: Option<Waker>,
    /// The sender has sent or was dropped.
    sender_gone: bool,
    /// The receiver was closed or dropped.
    receiver_closed: bool,
}

/// Sends the value of a [`oneshot`](self) channel.
pub struct Sender<T> {
    /// `None` once sent.
    inner: Option<Arc<SpinLock<State<T>>>>,
}

/// Receives the value of a [`oneshot`](self) channel; a future of it.
pub struct Receiver<T> {
    inner: Arc<SpinLock<State<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver; gives it back if the receiver is
    /// closed or dropped.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a Sender sends once");
        let mut state = inner.lock();
        if state.receiver_closed {
            drop(state);
            // Dropping `self` now still tells the receiver the sender left.
            self.inner = Some(inner);
            return Err(value);
        }
        state.value = Some(value);
        state.sender_gone = true;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the receiver is closed or dropped: a send would fail.
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.lock().receiver_closed)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut state = inner.lock();
        state.sender_gone = true;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.inner.lock();
        match state.value.take() {
            Some(value) => Ok(value),
            None if state.sender_gone || state.receiver_closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses the value from now on: a later [`Sender::send`] fails. A value
    /// sent before can still be received.
    pub fn close(&mut self) {
        self.inner.lock().receiver_closed = true;
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut spare = None;
        loop {
            let mut state = self.inner.lock();
            if let Some(value) = state.value.take() {
                return Poll::Ready(Ok(value));
            }
            if state.sender_gone || state.receiver_closed {
                return Poll::Ready(Err(RecvError));
            }
            if state
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                return Poll::Pending;
            }
            // Clone and drop wakers only with the lock released.
            match spare.take() {
                Some(waker) => {
                    let replaced = state.waker.replace(waker);
                    drop(state);
                    drop(replaced);
                    return Poll::Pending;
                }
                None => {
                    drop(state);
                    spare = Some(cx.waker().clone());
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.receiver_closed = true;
        let value = state.value.take();
        let waker = state.waker.take();
        drop(state);
        drop((value, waker));
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The sender was dropped without sending (or the receiver was closed
/// before a value arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

/// Why [`Receiver::try_recv`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value yet; it may still come.
    Empty,
    /// No value, and none can come any more.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("oneshot value not sent yet"),
            TryRecvError::Closed => f.write_str("oneshot channel closed without a value"),
        }
    }
}

impl core::error::Error for RecvError {}
impl core::error::Error for TryRecvError {}
