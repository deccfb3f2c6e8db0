//! What the two stream sockets (TCP and Unix) share: reads and writes that
//! wait as their caller waits, with timeouts, and the `std::io` and
//! `futures-io` trait implementations.

use super::ring;
use super::timeouts::Timeouts;
use crate::io::pollable::{Direction, Pollable};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

/// A connected stream socket.
pub(crate) struct Stream<S> {
    pub(crate) io: Pollable<S>,
    pub(crate) timeouts: Timeouts,
}

impl<S> Stream<S>
where
    S: AsRawFd,
    for<'a> &'a S: Read + Write,
{
    pub(crate) fn new(source: S) -> Stream<S> {
        Stream {
            io: Pollable::new(source),
            timeouts: Timeouts::default(),
        }
    }

    /// Reads into `buf`; an empty `buf` reads 0 bytes at once (`recv(2)`
    /// would wait for data to read none of it).
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (fd, timeout) = (self.io.get_ref().as_raw_fd(), self.timeouts.read());
        if let Some(received) = ring::recv(fd, buf, 0, timeout) {
            return received;
        }
        let len = buf.len();
        self.io.wait_io(
            Direction::Read,
            self.timeouts.read(),
            |mut s| s.read(buf),
            short(len),
        )
    }

    pub(crate) fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let (fd, timeout) = (self.io.get_ref().as_raw_fd(), self.timeouts.read());
        if let Some(received) = ring::recv_msg(fd, bufs, None, 0, timeout) {
            return received;
        }
        let len = total(bufs.iter().map(|b| b.len()));
        self.io.wait_io(
            Direction::Read,
            self.timeouts.read(),
            |mut s| s.read_vectored(bufs),
            short(len),
        )
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let (fd, timeout) = (self.io.get_ref().as_raw_fd(), self.timeouts.write());
        if let Some(sent) = ring::send(fd, buf, timeout) {
            return sent;
        }
        self.io.wait_io(
            Direction::Write,
            self.timeouts.write(),
            |mut s| s.write(buf),
            short(buf.len()),
        )
    }

    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let (fd, timeout) = (self.io.get_ref().as_raw_fd(), self.timeouts.write());
        if let Some(sent) = ring::send_msg(fd, bufs, None, timeout) {
            return sent;
        }
        let len = total(bufs.iter().map(|b| b.len()));
        self.io.wait_io(
            Direction::Write,
            self.timeouts.write(),
            |mut s| s.write_vectored(bufs),
            short(len),
        )
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .poll_io(cx, Direction::Read, |mut s| s.read(buf), short(len))
    }

    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let len = total(bufs.iter().map(|b| b.len()));
        self.io.poll_io(
            cx,
            Direction::Read,
            |mut s| s.read_vectored(bufs),
            short(len),
        )
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Write, |mut s| s.write(buf), short(buf.len()))
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = total(bufs.iter().map(|b| b.len()));
        self.io.poll_io(
            cx,
            Direction::Write,
            |mut s| s.write_vectored(bufs),
            short(len),
        )
    }
}

/// A transfer of `n` bytes (but not 0, end of stream) out of `len`
/// asked for left the socket exhausted: its buffer was drained (read) or
/// filled (write).
fn short(len: usize) -> impl Fn(&usize) -> bool {
    move |&n| n > 0 && n < len
}

fn total(lens: impl Iterator<Item = usize>) -> usize {
    lens.fold(0, usize::saturating_add)
}

/// `AsyncWrite::poll_close`: shuts the writing half down (the peer reads
/// end of stream); a socket the peer already dropped is closed enough.
pub(crate) fn close_write(
    shutdown: impl FnOnce(Shutdown) -> io::Result<()>,
) -> Poll<io::Result<()>> {
    match shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
        done => Poll::Ready(done),
    }
}

/// Implements `Read`, `Write`, `AsyncRead` and `AsyncWrite` for a stream
/// type and for shared references to it, through its `stream` field, and
/// gives the type the same reads and writes as inherent methods: with both
/// `std::io::Read` and `futures::AsyncReadExt` in scope, `conn.read(..)`
/// would otherwise be ambiguous (E0034).
macro_rules! stream_io_traits {
    ($ty:ty) => {
        $crate::net::stream::stream_io_traits!(@for $ty);
        $crate::net::stream::stream_io_traits!(@for &$ty);

        impl $ty {
            /// Reads into `buf`, waiting until something arrives
            /// (suspending a coroutine, blocking a thread), within the
            /// read timeout if one is set; 0 at the end of the stream.
            ///
            /// # Panics
            ///
            /// Inside `Future::poll`; use [`read_async`](Self::read_async).
            #[inline]
            pub fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.stream.read(buf)
            }

            /// Writes from `buf`, waiting for room (within the write
            /// timeout if one is set); the number of bytes written.
            ///
            /// # Panics
            ///
            /// Inside `Future::poll`; use [`write_async`](Self::write_async).
            #[inline]
            pub fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.stream.write(buf)
            }

            /// Reads exactly `buf.len()` bytes (`UnexpectedEof` if the
            /// stream ends first).
            pub fn read_exact(&self, buf: &mut [u8]) -> std::io::Result<()> {
                std::io::Read::read_exact(&mut &*self, buf)
            }

            /// Writes all of `buf`.
            pub fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
                std::io::Write::write_all(&mut &*self, buf)
            }

            /// The future of [`read`](Self::read) (no timeout: combine
            /// with [`timeout_async`](crate::time::timeout_async)).
            pub async fn read_async(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.stream.poll_read(cx, buf)).await
            }

            /// The future of [`write`](Self::write).
            pub async fn write_async(&self, buf: &[u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.stream.poll_write(cx, buf)).await
            }

            /// The future of [`read_exact`](Self::read_exact).
            pub async fn read_exact_async(&self, buf: &mut [u8]) -> std::io::Result<()> {
                $crate::io::exact::read_exact(self, buf).await
            }

            /// The future of [`write_all`](Self::write_all).
            pub async fn write_all_async(&self, buf: &[u8]) -> std::io::Result<()> {
                $crate::io::exact::write_all(self, buf).await
            }
        }
    };
    (@for $t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.stream.read(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.stream.read_vectored(bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.stream.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.stream.write_vectored(bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.stream.poll_read(cx, buf)
            }
            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.stream.poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.stream.poll_write(cx, buf)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.stream.poll_write_vectored(cx, bufs)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::stream::close_write(|how| self.shutdown(how))
            }
        }
    };
}

pub(crate) use stream_io_traits;
