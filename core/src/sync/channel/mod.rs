//! Multi-producer, multi-consumer channels, bounded or not.
//!
//! Both ends can be cloned and shared between threads. Values arrive in the
//! order they were sent. Waiting senders and receivers are each served in
//! arrival order, and a value is handed straight to a waiting receiver.
//!
//! * [`unbounded`]: sends never wait.
//! * [`bounded`]`(cap)`: sends wait while `cap` values are buffered.
//! * `bounded(0)` is a *rendezvous* channel: a send completes only when a
//!   receiver takes the value. [`Sender::try_send`] then succeeds only if a
//!   receiver is waiting, and [`Receiver::try_recv`] only if a sender is.
//!
//! Disconnection: when the last [`Sender`] is dropped, receivers still get
//! the buffered values, then [`RecvError`]. When the last [`Receiver`] is
//! dropped, buffered values are dropped and sends fail, giving the value
//! back.
//!
//! Cancellation: dropping a pending [`SendFut`] withdraws the value (it is
//! dropped with the future) unless a receive already took it or moved it
//! into the buffer, in which case it stays sent. Dropping a
//! [`RecvFut`] after a value was handed to it but before it was polled
//! gives the value to the next waiting receiver, or back to the front of
//! the buffer; nothing is lost. (Only in that case can a channel hold more
//! than `cap` values, one per such receiver.)
//!
//! ```
//! use futures::executor::block_on;
//! use xasync_core::sync::channel;
//!
//! let (tx, rx) = channel::bounded(1);
//! let producer = std::thread::spawn(move || {
//!     block_on(async {
//!         for i in 0..3 {
//!             tx.send_async(i).await.unwrap();
//!         }
//!     })
//! });
//! block_on(async {
//!     for i in 0..3 {
//!         assert_eq!(rx.recv_async().await, Ok(i));
//!     }
//!     producer.join().unwrap();
//!     assert_eq!(rx.recv_async().await, Err(channel::RecvError));
//! });
//! ```

mod error;
mod state;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};

use super::waiters::{Key, WakeList, poll_wait, wake_all};
use crate::spin::SpinLock;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use futures_core::Stream;
use state::State;

/// The part shared by all ends of a channel.
struct Chan<T> {
    state: SpinLock<State<T>>,
}

/// A channel without a capacity limit: sends never wait.
///
/// ```
/// use xasync_core::sync::channel;
///
/// let (tx, rx) = channel::unbounded();
/// tx.try_send("a").unwrap();
/// assert_eq!(rx.try_recv(), Ok("a"));
/// assert_eq!(rx.capacity(), None);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new(None)
}

/// A channel that buffers up to `cap` values; sends wait while it is full.
/// `bounded(0)` is a rendezvous channel (see the [module docs](self)).
///
/// No buffer space is reserved up front, so a huge `cap` costs nothing
/// until values are actually buffered.
///
/// ```
/// use xasync_core::sync::channel::{self, TrySendError};
///
/// let (tx, rx) = channel::bounded(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new(Some(cap))
}

fn new<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: SpinLock::new(State::new(cap)),
    });
    let receiver = Receiver {
        chan: chan.clone(),
        stream_key: None,
    };
    (Sender { chan }, receiver)
}

/// The sending end of a channel; clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving end of a channel; clone it for more consumers. It is also
/// a [`Stream`] of the values, which ends once the channel is empty and
/// every sender is gone.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The place in line of this handle's `Stream` polls.
    stream_key: Option<Key>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Resolves to an
    /// error holding the value if every receiver is gone.
    ///
    /// Dropping the future while it waits withdraws the value, unless a
    /// receive already took it (or moved it into the buffer): then it stays
    /// sent. Either way nothing is lost or duplicated.
    pub fn send_async(&self, value: T) -> SendFut<'_, T> {
        SendFut {
            sender: self,
            value: Some(value),
            key: None,
        }
    }

    /// Sends `value` if that is possible without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut wakers = WakeList::new();
        let mut state = self.chan.state.lock();
        let result = state.try_send(value, &mut wakers);
        drop(state);
        wakers.wake_all();
        result
    }

    /// Whether every receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        self.chan.state.lock().receivers == 0
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting while the channel is empty. Resolves to
    /// [`RecvError`] once the channel is empty and every sender is gone.
    pub fn recv_async(&self) -> RecvFut<'_, T> {
        RecvFut {
            receiver: self,
            key: None,
        }
    }

    /// Receives a value if one is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut wakers = WakeList::new();
        let mut state = self.chan.state.lock();
        let result = state.try_recv(&mut wakers);
        drop(state);
        wakers.wake_all();
        result
    }

    /// Whether every sender is gone (values may still be buffered).
    pub fn is_disconnected(&self) -> bool {
        self.chan.state.lock().senders == 0
    }
}

/// Methods both ends have.
macro_rules! common_methods {
    ($end:ident) => {
        impl<T> $end<T> {
            /// The number of buffered values.
            pub fn len(&self) -> usize {
                self.chan.state.lock().buffer.len()
            }

            /// Whether no value is buffered.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether the buffer is at capacity (always for `bounded(0)`,
            /// never for an unbounded channel).
            pub fn is_full(&self) -> bool {
                let state = self.chan.state.lock();
                state.bounded && state.buffer.len() >= state.cap
            }

            /// The capacity, or `None` if unbounded.
            pub fn capacity(&self) -> Option<usize> {
                let state = self.chan.state.lock();
                state.bounded.then_some(state.cap)
            }

            /// The number of live senders.
            pub fn sender_count(&self) -> usize {
                self.chan.state.lock().senders
            }

            /// The number of live receivers.
            pub fn receiver_count(&self) -> usize {
                self.chan.state.lock().receivers
            }
        }

        impl<T> fmt::Debug for $end<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($end)).finish_non_exhaustive()
            }
        }
    };
}

common_methods!(Sender);
common_methods!(Receiver);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().receivers += 1;
        Receiver {
            chan: self.chan.clone(),
            stream_key: None,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.chan.state.lock();
        state.senders -= 1;
        if state.senders == 0 {
            state.receiving.notify_all();
            drop(state);
            wake_all(&self.chan.state, |s| &mut s.receiving);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        cancel_recv(&self.chan, &mut self.stream_key);
        let mut state = self.chan.state.lock();
        state.receivers -= 1;
        if state.receivers == 0 {
            let buffered = mem::take(&mut state.buffer);
            state.sending.notify_all();
            drop(state);
            wake_all(&self.chan.state, |s| &mut s.sending);
            drop(buffered);
        }
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        poll_recv(&this.chan, &mut this.stream_key, cx).map(Result::ok)
    }
}

/// One poll of a receive: the common part of [`RecvFut`] and the `Stream`.
fn poll_recv<T>(
    chan: &Chan<T>,
    key: &mut Option<Key>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, RecvError>> {
    let mut wakers = WakeList::new();
    // A removed waiter's waker, dropped unlocked.
    let mut _old_waker: Option<Waker> = None;
    poll_wait(
        &chan.state,
        |s| &mut s.receiving,
        key,
        &mut (),
        cx.waker(),
        |state, key, ()| {
            if let Some(k) = key.take() {
                if state.receiving.is_notified(&k) || state.senders == 0 {
                    let removed = state.receiving.remove(k);
                    _old_waker = removed.waker;
                    if let Some(value) = removed.data {
                        return Some(Ok(value));
                    }
                    // Woken because the senders are gone: take what is left.
                } else {
                    *key = Some(k);
                    return None;
                }
            }
            match state.try_recv(&mut wakers) {
                Ok(value) => Some(Ok(value)),
                Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
                Err(TryRecvError::Empty) => None,
            }
        },
        |_, ()| None,
    )
}

/// Leaves the line of receivers, passing on a value handed over meanwhile.
/// Inlined for the common case of a receive that is not in line (it
/// finished): a check of the key.
#[inline(always)]
fn cancel_recv<T>(chan: &Chan<T>, key: &mut Option<Key>) {
    if let Some(key) = key.take() {
        leave_line(chan, key);
    }
}

/// [`cancel_recv`] for a receive in line.
#[cold]
fn leave_line<T>(chan: &Chan<T>, key: Key) {
    let mut wakers = WakeList::new();
    let mut state = chan.state.lock();
    let removed = state.receiving.remove(key);
    if let Some(value) = removed.data {
        state.give_back(value, &mut wakers);
    }
    drop(state);
    drop(removed.waker);
}

/// The future returned by [`Sender::send_async`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFut<'a, T> {
    sender: &'a Sender<T>,
    /// The value until it is sent or parked in a waiter slot.
    value: Option<T>,
    key: Option<Key>,
}

// The value is moved around freely, never pinned.
impl<T> Unpin for SendFut<'_, T> {}

impl<T> SendFut<'_, T> {
    /// Gives up sending: returns the value if no receiver has taken it yet
    /// (`None` means it was sent). For timeouts: race the future, then
    /// cancel it to get the value back.
    pub fn cancel(mut self) -> Option<T> {
        match self.key.take() {
            Some(key) => {
                let removed = self.sender.chan.state.lock().sending.remove(key);
                removed.data
            }
            None => self.value.take(),
        }
    }
}

impl<T> Future for SendFut<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let chan = &*this.sender.chan;
        let mut wakers = WakeList::new();
        // A removed waiter's waker, dropped unlocked.
        let mut _old_waker: Option<Waker> = None;
        poll_wait(
            &chan.state,
            |s| &mut s.sending,
            &mut this.key,
            &mut this.value,
            cx.waker(),
            |state, key, value| {
                if let Some(k) = key.take() {
                    if state.sending.is_notified(&k) || state.receivers == 0 {
                        let removed = state.sending.remove(k);
                        _old_waker = removed.waker;
                        return Some(match removed.data {
                            None => Ok(()),
                            Some(value) => Err(SendError(value)),
                        });
                    }
                    *key = Some(k);
                    return None;
                }
                let v = value.take().expect("SendFut polled after completion");
                match state.try_send(v, &mut wakers) {
                    Ok(()) => Some(Ok(())),
                    Err(TrySendError::Disconnected(v)) => Some(Err(SendError(v))),
                    Err(TrySendError::Full(v)) => {
                        *value = Some(v);
                        None
                    }
                }
            },
            // The value waits in the waiter's slot.
            |_, value| value.take(),
        )
    }
}

impl<T> Drop for SendFut<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let removed = self.sender.chan.state.lock().sending.remove(key);
            // The guard is gone: drop the withdrawn value and the waker.
            drop(removed);
        }
    }
}

impl<T> fmt::Debug for SendFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFut").finish_non_exhaustive()
    }
}

/// The future returned by [`Receiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFut<'a, T> {
    receiver: &'a Receiver<T>,
    key: Option<Key>,
}

impl<T> Future for RecvFut<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        poll_recv(&this.receiver.chan, &mut this.key, cx)
    }
}

impl<T> Drop for RecvFut<'_, T> {
    fn drop(&mut self) {
        cancel_recv(&self.receiver.chan, &mut self.key);
    }
}

impl<T> fmt::Debug for RecvFut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFut").finish_non_exhaustive()
    }
}
