//! A non-blocking file descriptor that waits the way its caller waits:
//! a coroutine suspends until the reactor reports readiness, a plain thread
//! blocks in `poll(2)`, and async code gets `Poll::Pending` with its waker
//! registered. The sockets of [`crate::net`] are thin layers over this.

use super::entry::Entry;
use super::registration::Registration;
use super::waiters::Waiters;
use crate::context::{self, Caller};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Which readiness an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable (also: a connection to accept).
    Read,
    /// Writable (also: a connect that finished).
    Write,
}

/// A non-blocking source, registered with a reactor on its first wait.
pub(crate) struct Pollable<S> {
    // Declared first: deregistered before `source` closes the descriptor.
    registration: OnceLock<Registration>,
    /// Serializes the first registration.
    registering: Mutex<()>,
    /// Per direction: 1 + the generation at which an attempt found the
    /// socket exhausted (a short read or write), 0 if none did. Until the
    /// next readiness event the next attempt would surely fail with
    /// `WouldBlock`, so it is skipped: one system call less per wait.
    /// (Not once the socket reported a hang-up: see `Entry::is_closed`.)
    exhausted: [AtomicU64; 2],
    source: S,
}

impl<S: AsRawFd> Pollable<S> {
    /// Wraps a source that is already in non-blocking mode.
    pub(crate) fn new(source: S) -> Pollable<S> {
        Pollable {
            registration: OnceLock::new(),
            registering: Mutex::new(()),
            exhausted: [AtomicU64::new(0), AtomicU64::new(0)],
            source,
        }
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// Deregisters and returns the source (still non-blocking).
    pub(crate) fn into_inner(self) -> S {
        let Pollable {
            registration,
            source,
            ..
        } = self;
        drop(registration);
        source
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for
    /// `direction` between attempts: a coroutine suspends, a plain thread
    /// blocks. `timeout` bounds the whole call (`TimedOut` when it runs
    /// out). `exhausted` tells from a result whether the socket was left
    /// with nothing more to give (a short read or write), which lets the
    /// next call wait without trying first.
    ///
    /// # Panics
    ///
    /// Inside `Future::poll` (use [`poll_io`](Self::poll_io) there).
    pub(crate) fn wait_io<R>(
        &self,
        direction: Direction,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        exhausted: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        // Computed at the first wait only: most calls never wait.
        let mut deadline = None;
        let mut deadline = move || {
            *deadline.get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)))
        };
        match context::caller() {
            Caller::Coroutine(coroutine) => loop {
                let ticket = self.ticket(direction);
                if let Some(done) = self.attempt(direction, ticket, &mut op, &exhausted) {
                    return done;
                }
                let ready = Ready {
                    pollable: self,
                    direction,
                    ticket,
                };
                match deadline() {
                    // No timeout (or one too far to represent).
                    None => coroutine.wait(ready)?,
                    // A passed deadline makes the sleep ready at once.
                    Some(deadline) => coroutine.wait(ReadyBefore {
                        ready,
                        deadline: crate::time::sleep_until_async(deadline),
                    })?,
                }
            },
            Caller::Polling => crate::wait::refuse_in_poll(),
            Caller::Thread => loop {
                match op(&self.source) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    done => return done,
                }
                block_until_ready(self.source.as_raw_fd(), direction, deadline())?;
            },
        }
    }

    /// The async form of [`wait_io`](Self::wait_io): `Pending` (with the
    /// waker registered) while `op` would block.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
        exhausted: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let ticket = self.ticket(direction);
            if let Some(done) = self.attempt(direction, ticket, &mut op, &exhausted) {
                return Poll::Ready(done);
            }
            match self.poll_ready(cx, direction, ticket) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Tries `op` unless the socket is known to be exhausted at `ticket`;
    /// `None` if it would block.
    fn attempt<R>(
        &self,
        direction: Direction,
        ticket: u64,
        op: &mut impl FnMut(&S) -> io::Result<R>,
        exhausted: &impl Fn(&R) -> bool,
    ) -> Option<io::Result<R>> {
        let hint = &self.exhausted[direction as usize];
        if hint.load(Ordering::Relaxed) == ticket + 1 && !self.closed() {
            return None;
        }
        match op(&self.source) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            done => {
                if done.as_ref().is_ok_and(exhausted) {
                    hint.store(ticket + 1, Ordering::Relaxed);
                }
                Some(done)
            }
        }
    }

    /// Whether the reactor saw a hang-up or error on the socket.
    fn closed(&self) -> bool {
        self.registration
            .get()
            .is_some_and(|registration| registration.entry().is_closed())
    }

    /// Ready if readiness came since `ticket`, else registers the waker.
    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        ticket: u64,
    ) -> Poll<io::Result<()>> {
        let registration = match self.registration() {
            Ok(registration) => registration,
            Err(e) => return Poll::Ready(Err(e)),
        };
        waiters(registration, direction)
            .poll_ready(ticket, cx.waker())
            .map(Ok)
    }

    /// The generation to compare with after an attempt; 0 before the
    /// first registration (whose entry starts at 0, and whose `epoll_ctl`
    /// reports the readiness that is already there).
    fn ticket(&self, direction: Direction) -> u64 {
        self.registration
            .get()
            .map_or(0, |registration| waiters(registration, direction).ticket())
    }

    fn registration(&self) -> io::Result<&Registration> {
        if let Some(registration) = self.registration.get() {
            return Ok(registration);
        }
        let _registering = self.registering.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(registration) = self.registration.get() {
            return Ok(registration);
        }
        let registration = Registration::new(
            self.source.as_raw_fd(),
            mio::Interest::READABLE | mio::Interest::WRITABLE,
            Entry::io(),
        )?;
        Ok(self.registration.get_or_init(|| registration))
    }
}

pub(crate) fn waiters(registration: &Registration, direction: Direction) -> &Waiters {
    match (registration.entry(), direction) {
        (Entry::Io { read, .. }, Direction::Read) => read,
        (Entry::Io { write, .. }, Direction::Write) => write,
        (Entry::Callback(_), _) => unreachable!("a pollable registers an I/O entry"),
    }
}

/// Readiness of one direction since a ticket, as a future (for a coroutine
/// to wait on, possibly under a timeout).
struct Ready<'a, S> {
    pollable: &'a Pollable<S>,
    direction: Direction,
    ticket: u64,
}

impl<S: AsRawFd> Future for Ready<'_, S> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pollable.poll_ready(cx, self.direction, self.ticket)
    }
}

/// Readiness, or `TimedOut` at a deadline.
struct ReadyBefore<'a, S> {
    ready: Ready<'a, S>,
    deadline: crate::time::Sleep,
}

impl<S: AsRawFd> Future for ReadyBefore<'_, S> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(ready) = Pin::new(&mut self.ready).poll(cx) {
            return Poll::Ready(ready);
        }
        Pin::new(&mut self.deadline)
            .poll(cx)
            .map(|()| Err(timed_out()))
    }
}

/// For operations whose result says nothing about what is left (accept,
/// datagrams, connect).
pub(crate) fn never<R>(_: &R) -> bool {
    false
}

/// The error of an operation that ran out of time.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the operation timed out")
}

/// Time left until `deadline`, or `TimedOut` if none is.
fn left_until(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out())
    } else {
        Ok(left)
    }
}

/// Blocks the thread in `poll(2)` until `fd` is ready for `direction` (or
/// hangs up, or has an error: the next attempt reports it).
pub(crate) fn block_until_ready(
    fd: RawFd,
    direction: Direction,
    deadline: Option<Instant>,
) -> io::Result<()> {
    let timeout_ms = match deadline {
        None => -1,
        Some(deadline) => {
            let left = left_until(deadline)?;
            // Rounded up: never wake before the deadline.
            let ms = left.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    };
    let events = match direction {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    let mut pollfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid, initialized `pollfd`, and the count says one.
    let n = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
    if n < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(error);
    }
    // On a timeout the next loop finds the deadline passed.
    Ok(())
}
