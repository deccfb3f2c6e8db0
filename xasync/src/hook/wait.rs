//! The one place where a hooked call waits: for a descriptor to become
//! ready in one direction, or for a deadline. A coroutine suspends (the
//! descriptor registered with its worker's reactor, the deadline in its
//! timing wheel); any other caller blocks in `poll(2)`.
//!
//! On the io_uring backend too, hooked calls wait for readiness (the
//! worker's ring watches its epoll instance) rather than lending their
//! buffer to the ring: a C caller may `close` the descriptor from another
//! coroutine while a call waits, which must end that call with `EBADF`
//! (`Watch::close`), and an operation in a ring holds the file open until
//! it is cancelled by descriptor; and a cancellation reaches a hooked call
//! as `ECANCELED`, not as an unwind, which `io::uring` would have to learn.

use super::coroutine;
use crate::context::CoroutineCx;
use crate::io::entry::Entry;
use crate::io::pollable::{self, Direction};
use crate::io::registration::Registration;
use crate::time::{Sleep, sleep_until_async};
use libc::c_int;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waited {
    /// The descriptor may be ready: try the call again.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// The wait cannot happen (the descriptor was closed: `EBADF`; or the
    /// reactor refused it): fail the call with this errno.
    Failed(c_int),
}

/// A descriptor's registration with a reactor, made at its first wait in
/// a coroutine and dropped by [`close`](Self::close) before the
/// descriptor is closed.
pub(super) struct Watch {
    fd: RawFd,
    state: Mutex<State>,
}

struct State {
    registration: Option<Registration>,
    /// Set by `close`: no registration may be made after it.
    closed: bool,
}

impl Watch {
    /// A watch of `fd`, not registered yet.
    pub(super) fn new(fd: RawFd) -> Watch {
        Watch {
            fd,
            state: Mutex::new(State {
                registration: None,
                closed: false,
            }),
        }
    }

    /// The ticket to take before trying the call (see `io/waiters.rs`): 0
    /// before the first registration, whose `epoll_ctl` reports the
    /// readiness already there.
    pub(super) fn ticket(&self, direction: Direction) -> u64 {
        self.lock().registration.as_ref().map_or(0, |registration| {
            pollable::waiters(registration, direction).ticket()
        })
    }

    /// Ready if readiness came since `ticket`; else registers the waker.
    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction, ticket: u64) -> Poll<Waited> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(Waited::Failed(libc::EBADF));
        }
        let registration = match &mut state.registration {
            Some(registration) => registration,
            none => match Registration::new(
                self.fd,
                mio::Interest::READABLE | mio::Interest::WRITABLE,
                Entry::io(),
            ) {
                Ok(registration) => none.insert(registration),
                Err(e) => return Poll::Ready(Waited::Failed(errno_of(&e))),
            },
        };
        pollable::waiters(registration, direction)
            .poll_ready(ticket, cx.waker())
            .map(|()| Waited::Ready)
    }

    /// Drops the registration (so that the descriptor's number can be
    /// reused) and wakes the coroutines waiting on it: their wait fails
    /// with `EBADF`.
    pub(super) fn close(&self) {
        let registration = {
            let mut state = self.lock();
            state.closed = true;
            state.registration.take()
        };
        if let Some(registration) = registration {
            wake(&registration);
        }
    }

    /// Wakes the coroutines waiting on the descriptor (after a `shutdown`):
    /// they try their call again.
    pub(super) fn wake(&self) {
        if let Some(registration) = &self.lock().registration {
            wake(registration);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wakes both directions' waiters of `registration`.
fn wake(registration: &Registration) {
    if let Entry::Io { read, write, .. } = registration.entry() {
        read.wake();
        write.wake();
    }
}

/// Waits until `watch`'s descriptor may be ready for `direction` — in a
/// coroutine, until readiness came after `ticket` — or `deadline` passed.
pub(super) fn wait(
    watch: &Watch,
    direction: Direction,
    ticket: u64,
    deadline: Option<Instant>,
) -> Waited {
    match coroutine() {
        Some(coroutine) => {
            let readiness = Readiness {
                watch,
                direction,
                ticket,
                deadline: deadline.map(sleep_until_async),
            };
            suspend(coroutine, readiness).unwrap_or(Waited::Failed(libc::ECANCELED))
        }
        None => {
            match pollable::block_until_ready(watch.fd, direction, deadline) {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => Waited::TimedOut,
                // Anything else: the next attempt reports it.
                _ => Waited::Ready,
            }
        }
    }
}

/// Suspends `coroutine` until `future` completes and returns its output;
/// `None` if the coroutine was cancelled meanwhile (its task cancelled, its
/// runtime shut down), or before: the unwind that cancels a suspended
/// coroutine must not cross the hook's frame, so the hooked call fails with
/// `ECANCELED` instead, and so does every later blocking hooked call of the
/// coroutine (see [`CoroutineCx::wait_or_cancelled`]).
pub(super) fn suspend<F: Future>(coroutine: &CoroutineCx<'_>, future: F) -> Option<F::Output> {
    coroutine.wait_or_cancelled(future)
}

/// Readiness since a ticket, or the deadline.
struct Readiness<'a> {
    watch: &'a Watch,
    direction: Direction,
    ticket: u64,
    deadline: Option<Sleep>,
}

impl Future for Readiness<'_> {
    type Output = Waited;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited> {
        let this = &mut *self;
        if let Poll::Ready(waited) = this.watch.poll_ready(cx, this.direction, this.ticket) {
            return Poll::Ready(waited);
        }
        match &mut this.deadline {
            Some(deadline) => Pin::new(deadline).poll(cx).map(|()| Waited::TimedOut),
            None => Poll::Pending,
        }
    }
}

/// The errno of an I/O error (`EIO` if it has none).
pub(super) fn errno_of(error: &io::Error) -> c_int {
    error.raw_os_error().unwrap_or(libc::EIO)
}
