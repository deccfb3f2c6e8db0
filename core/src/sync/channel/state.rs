//! The locked state of a channel and the moves between buffer and waiters.
//!
//! Invariants (all under the lock):
//! 1. A receiver waits in line only while the buffer is empty: a sent value
//!    goes to the first waiting receiver before it may go to the buffer.
//! 2. A sender waits in line (its value parked in its slot) only while the
//!    buffer holds `cap` values or more: when a receive frees a place, the
//!    first parked value moves into the buffer and its sender is notified.
//! 3. A receiver slot holds `Some(value)` exactly when a sender handed that
//!    value to it; a sender slot holds `Some(value)` until a receiver takes
//!    the value. So a notified sender whose slot is empty has delivered.
//!
//! The buffer may briefly hold more than `cap` values: a value handed to a
//! receiver whose future is then dropped goes back to the front of the
//! buffer (or to the next waiting receiver) rather than being lost.

use super::error::{TryRecvError, TrySendError};
use crate::sync::waiters::{Waiters, WakeList};
use alloc::collections::VecDeque;

/// Everything a channel's lock protects.
#[derive(Debug)]
pub(super) struct State<T> {
    pub(super) buffer: VecDeque<T>,
    /// Buffer capacity; `usize::MAX` when unbounded.
    pub(super) cap: usize,
    pub(super) bounded: bool,
    pub(super) senders: usize,
    pub(super) receivers: usize,
    /// Waiting receivers; a slot holds the value handed to it.
    pub(super) receiving: Waiters<Option<T>>,
    /// Waiting senders; a slot holds the value parked by it.
    pub(super) sending: Waiters<Option<T>>,
}

impl<T> State<T> {
    /// A channel with one sender and one receiver.
    pub(super) fn new(cap: Option<usize>) -> Self {
        State {
            buffer: VecDeque::new(),
            cap: cap.unwrap_or(usize::MAX),
            bounded: cap.is_some(),
            senders: 1,
            receivers: 1,
            receiving: Waiters::new(),
            sending: Waiters::new(),
        }
    }

    /// Sends without waiting: to the first waiting receiver, else into the
    /// buffer if there is room and no sender waits before us.
    pub(super) fn try_send(
        &mut self,
        value: T,
        wakers: &mut WakeList,
    ) -> Result<(), TrySendError<T>> {
        if self.receivers == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        if let Some(slot) = self.receiving.first_mut() {
            *slot = Some(value);
            wakers.push(self.receiving.notify_first());
            return Ok(());
        }
        if self.buffer.len() < self.cap && self.sending.is_empty() {
            self.buffer.push_back(value);
            return Ok(());
        }
        Err(TrySendError::Full(value))
    }

    /// Receives without waiting: from the buffer (refilling it from the
    /// first parked sender), else straight from a parked sender (the
    /// rendezvous of a `bounded(0)` channel).
    pub(super) fn try_recv(&mut self, wakers: &mut WakeList) -> Result<T, TryRecvError> {
        if let Some(value) = self.buffer.pop_front() {
            if self.buffer.len() < self.cap
                && let Some(parked) = self.take_parked(wakers)
            {
                self.buffer.push_back(parked);
            }
            return Ok(value);
        }
        if let Some(parked) = self.take_parked(wakers) {
            return Ok(parked);
        }
        if self.senders == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Takes the value of the first parked sender, completing its send.
    fn take_parked(&mut self, wakers: &mut WakeList) -> Option<T> {
        let value = self.sending.first_mut()?.take();
        debug_assert!(value.is_some(), "a waiting sender without a value");
        wakers.push(self.sending.notify_first());
        value
    }

    /// Takes back a value that was handed to a receiver which will not
    /// return it: it goes to the next waiting receiver, else to the front of
    /// the buffer, where it was in the order of sends.
    pub(super) fn give_back(&mut self, value: T, wakers: &mut WakeList) {
        if let Some(slot) = self.receiving.first_mut() {
            *slot = Some(value);
            wakers.push(self.receiving.notify_first());
        } else {
            self.buffer.push_front(value);
        }
    }
}
