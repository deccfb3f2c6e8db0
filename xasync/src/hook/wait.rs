//! Where a hooked call waits: for a descriptor to become ready in one
//! direction, or for a deadline. A coroutine suspends (the descriptor
//! registered with its worker's reactor, the deadline in its timing
//! wheel); any other caller blocks in `poll(2)`.
//!
//! On the io_uring backend, a coroutine's receive or send on a socket
//! that would block is made in its worker's ring instead ([`in_ring`]),
//! with the caller's buffer: the data comes with the completion, and the
//! descriptor is never registered in epoll. (Pipes stay on readiness: the
//! ring fails a read from a non-blocking pipe with `EAGAIN` rather than
//! waiting for it.) Two things a readiness wait gives for free are kept:
//! a `close` of the descriptor from any thread ends the call with `EBADF`
//! (`Watch::close` wakes the call, which cancels its operation in its own
//! worker's ring — another worker's ring is never touched), and the
//! operation is submitted under the watch's lock, so that it names this
//! descriptor's file and never a later one given the same number; and a
//! cancellation of the coroutine ends the call with `ECANCELED` rather
//! than unwinding through the hook (`io::uring::run_here_until`).

use super::coroutine;
use crate::context::CoroutineCx;
use crate::io::entry::Entry;
use crate::io::pollable::{self, Direction};
use crate::io::registration::Registration;
use crate::io::uring::{self, Finish};
use crate::time::{Sleep, sleep_until_async};
use io_uring::{opcode, squeue, types};
use libc::c_int;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
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
    /// By direction (read, write): a call had to wait in a ring, so the
    /// next one is likely to as well and goes there without trying first
    /// (a ring operation finding data ready completes at once anyway).
    waits_in_ring: [AtomicBool; 2],
}

struct State {
    registration: Option<Registration>,
    /// Set by `close`: no registration, and no operation in a ring, may
    /// be made after it.
    closed: bool,
    /// The calls waiting in a ring, which `close` wakes, by number.
    in_ring: Vec<(u64, Waker)>,
    /// The number of the next call to wait in a ring.
    next: u64,
}

impl Watch {
    /// A watch of `fd`, not registered yet.
    pub(super) fn new(fd: RawFd) -> Watch {
        Watch {
            fd,
            state: Mutex::new(State {
                registration: None,
                closed: false,
                in_ring: Vec::new(),
                next: 0,
            }),
            waits_in_ring: [AtomicBool::new(false), AtomicBool::new(false)],
        }
    }

    /// Whether calls in `direction` had to wait in a ring.
    pub(super) fn waits_in_ring(&self, direction: Direction) -> &AtomicBool {
        &self.waits_in_ring[direction as usize]
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
    /// reused) and wakes the coroutines waiting on it, for readiness or in
    /// a ring: their wait fails with `EBADF`.
    pub(super) fn close(&self) {
        let (registration, in_ring) = {
            let mut state = self.lock();
            state.closed = true;
            (
                state.registration.take(),
                std::mem::take(&mut state.in_ring),
            )
        };
        if let Some(registration) = registration {
            wake(&registration);
        }
        for (_, waker) in in_ring {
            waker.wake();
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
            // On a ring's worker, a one-shot poll in the ring: the
            // descriptor is never registered in epoll, whose every later
            // event would otherwise wake the worker's ring for nothing
            // once the calls go to the ring (one more `epoll_wait` per
            // message after a hooked `connect`).
            let events = match direction {
                Direction::Read => libc::POLLIN,
                Direction::Write => libc::POLLOUT,
            };
            let poll = opcode::PollAdd::new(types::Fd(watch.fd), events as u32).build();
            // SAFETY: a poll refers to no memory.
            if let Some(polled) = unsafe { in_ring(watch, poll, deadline) } {
                return polled.map_or_else(|waited| waited, |_| Waited::Ready);
            }
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

/// Runs `sqe`, the call on `watch`'s descriptor, in the ring of the
/// caller's worker: its count, or how its wait ended — `Ready` if it
/// failed with `EAGAIN` (try again), `TimedOut` at `deadline`, `Failed`
/// with its error, `EBADF` once the descriptor is closed, or `ECANCELED`
/// if the coroutine is cancelled. `None` if the caller is not a coroutine
/// on a worker that parks in a ring.
///
/// The operation is submitted under the watch's lock, after checking that
/// the descriptor is open: `close` takes that lock before closing, so the
/// kernel takes hold of this descriptor's file, never of another one
/// given its number since.
///
/// # Safety
///
/// What `sqe` refers to stays valid, and unused by others as the call
/// needs, until this returns.
pub(super) unsafe fn in_ring(
    watch: &Watch,
    sqe: squeue::Entry,
    deadline: Option<Instant>,
) -> Option<Result<u32, Waited>> {
    let start = || {
        let state = watch.lock();
        match state.closed {
            true => Err(Waited::Failed(libc::EBADF)),
            false => Ok((sqe, state)),
        }
    };
    let end = Closing {
        watch,
        number: None,
    };
    let timeout = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
    // SAFETY: by this function's contract.
    let ended = unsafe { uring::run_here_until(start, end, timeout) }?;
    Some(match ended {
        Finish::Completed(Ok(count)) => Ok(count),
        Finish::Completed(Err(e)) if e.raw_os_error() == Some(libc::EAGAIN) => Err(Waited::Ready),
        Finish::Completed(Err(e)) => Err(Waited::Failed(errno_of(&e))),
        Finish::Ended(waited) => Err(waited),
        Finish::TimedOut => Err(Waited::TimedOut),
        Finish::Cancelled => Err(Waited::Failed(libc::ECANCELED)),
    })
}

/// The close of a watch's descriptor (`Failed(EBADF)`), which ends a call
/// waiting in a ring (its deadline is the ring operation's timeout).
struct Closing<'a> {
    watch: &'a Watch,
    /// Its number among the watch's calls in a ring, once polled.
    number: Option<u64>,
}

impl Future for Closing<'_> {
    type Output = Waited;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited> {
        let this = &mut *self;
        let mut state = this.watch.lock();
        if state.closed {
            return Poll::Ready(Waited::Failed(libc::EBADF));
        }
        let state = &mut *state;
        let known = this
            .number
            .and_then(|number| state.in_ring.iter_mut().find(|(n, _)| *n == number));
        match known {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let number = state.next;
                state.next += 1;
                state.in_ring.push((number, cx.waker().clone()));
                this.number = Some(number);
            }
        }
        Poll::Pending
    }
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        if let Some(number) = self.number {
            self.watch.lock().in_ring.retain(|(n, _)| *n != number);
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
