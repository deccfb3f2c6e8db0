//! hyper on xasync (feature `hyper`): its I/O, timer and executor traits
//! over xasync's sockets, timers and tasks, with nothing of tokio.
//!
//! * [`HyperIo`] wraps an xasync socket ([`TcpStream`](crate::net::TcpStream),
//!   [`UnixStream`](crate::net::UnixStream), or anything implementing
//!   `futures_io`'s `AsyncRead`/`AsyncWrite`) as hyper's
//!   [`Read`](hyper::rt::Read)/[`Write`](hyper::rt::Write).
//! * [`HyperTimer`] is hyper's [`Timer`](hyper::rt::Timer) on xasync's
//!   timers. Give it to hyper's connection builders: without a timer hyper
//!   silently drops its time limits, the HTTP/1 server's header-read
//!   timeout included (or panics where one was configured explicitly).
//! * [`HyperExecutor`] is hyper's [`Executor`](hyper::rt::Executor): it
//!   starts the futures hyper spawns (HTTP/2 streams, client connections)
//!   as xasync tasks.
//!
//! A connection served in a coroutine, its handler plain code:
//!
//! ```
//! use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
//! use std::convert::Infallible;
//! use xasync::compat::hyper::{HyperIo, HyperTimer};
//! use xasync::{net::TcpListener, xasync, xawait};
//!
//! fn serve(listener: TcpListener) {
//!     loop {
//!         let Ok((socket, _)) = listener.accept() else { continue };
//!         xasync(move || {
//!             let service = service_fn(|_request: Request<Incoming>| async {
//!                 Ok::<_, Infallible>(Response::new(String::from("hello")))
//!             });
//!             let connection = http1::Builder::new()
//!                 .timer(HyperTimer)
//!                 .serve_connection(HyperIo::new(socket), service);
//!             let _ = xawait(connection);
//!         })
//!         .detach();
//!     }
//! }
//! # let _ = serve;
//! ```
//!
//! The adapter costs one zeroing of the part of hyper's read buffer that
//! was never written, per buffer (reading through the safe
//! `futures_io::AsyncRead` needs initialized memory).

use futures_io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// An xasync socket as hyper's [`Read`](hyper::rt::Read) and
/// [`Write`](hyper::rt::Write) (like hyper-util's `TokioIo` for tokio's).
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        HyperIo { inner }
    }

    /// The wrapped socket.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped socket, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the socket.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let len = unfilled.len();
        let n = match Pin::new(&mut self.get_mut().inner).poll_read(cx, unfilled) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        // A reader is trusted with the bytes, not with the count.
        assert!(n <= len, "AsyncRead::poll_read read {n} bytes into {len}");
        // SAFETY: `initialize_unfilled` initialized all `len` bytes past the
        // filled part, and `n <= len`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // xasync's sockets write vectors with one `writev`.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on xasync's timers: the current
/// worker's timing wheel (from elsewhere, the current or default
/// runtime's).
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

/// The sleep [`HyperTimer`] gives hyper: an xasync
/// [`Sleep`](crate::time::Sleep).
#[derive(Debug)]
struct HyperSleep(crate::time::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep_async(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep_until_async(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Moving the deadline of one of ours keeps its allocation (hyper
        // resets its keep-alive and header timers on every request).
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// hyper's [`Executor`](hyper::rt::Executor): runs the futures hyper
/// spawns as detached tasks of the current (or default) xasync runtime, as
/// [`spawn`](crate::spawn) does.
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperExecutor;

impl<F> hyper::rt::Executor<F> for HyperExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        crate::spawn(future).detach();
    }
}
