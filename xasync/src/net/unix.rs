//! Unix domain stream sockets: [`UnixListener`] and [`UnixStream`].

use super::ring;
use super::stream::{Stream, stream_io_traits};
use crate::io::pollable::{Direction, Pollable, never};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::Duration;

/// A Unix domain socket server. Waits like [`TcpListener`](super::TcpListener).
///
/// ```
/// use std::io::{Read, Write};
/// use xasync::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("xasync-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path).unwrap();
/// let server = xasync::xasync(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     conn.write_all(b"hi").unwrap();
/// });
/// let mut conn = UnixStream::connect(&path).unwrap(); // a plain thread blocks
/// let mut got = String::new();
/// conn.read_to_string(&mut got).unwrap();
/// server.join().unwrap();
/// assert_eq!(got, "hi");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    io: Pollable<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` and listens.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists, `NotFound` for a missing directory, ...
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Pollable::new(mio::net::UnixListener::bind(path)?),
        })
    }

    /// Accepts a connection: suspends a coroutine (blocks a thread) until
    /// one comes.
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`accept_async`](Self::accept_async).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.accept_within(None)
    }

    /// [`accept`](Self::accept) waiting at most `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(UnixStream, SocketAddr)> {
        self.accept_within(Some(timeout))
    }

    fn accept_within(&self, timeout: Option<Duration>) -> io::Result<(UnixStream, SocketAddr)> {
        // The peer's address is asked of the new socket (`getpeername(2)`):
        // std builds a Unix `SocketAddr` only that way, not from the raw
        // address the kernel could write.
        if let Some(accepted) = ring::accept(self.as_raw_fd(), None, timeout) {
            let stream = mio::net::UnixStream::from_std(accepted?.into());
            let peer = stream.peer_addr()?;
            return Ok((UnixStream::from_mio(stream), peer));
        }
        let (stream, addr) = self
            .io
            .wait_io(Direction::Read, timeout, |l| l.accept(), never)?;
        Ok((UnixStream::from_mio(stream), addr))
    }

    /// The future of [`accept`](Self::accept).
    pub async fn accept_async(&self) -> io::Result<(UnixStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (for hand-written futures).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept(), never)
            .map_ok(|(stream, addr)| (UnixStream::from_mio(stream), addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Deregisters the listener and returns it as a blocking std listener.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let listener = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(
            self.io.into_inner(),
        ));
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

/// Takes over a std listener, switching it to non-blocking mode.
///
/// # Panics
///
/// If the socket cannot be made non-blocking (only for an invalid
/// descriptor).
impl From<std::os::unix::net::UnixListener> for UnixListener {
    fn from(listener: std::os::unix::net::UnixListener) -> UnixListener {
        listener
            .set_nonblocking(true)
            .expect("xasync: cannot make a Unix listener non-blocking");
        UnixListener {
            io: Pollable::new(mio::net::UnixListener::from_std(listener)),
        }
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A Unix domain stream connection; waits like
/// [`TcpStream`](super::TcpStream) (`Read`/`Write` in coroutines and
/// threads, `AsyncRead`/`AsyncWrite` in async code).
pub struct UnixStream {
    stream: Stream<mio::net::UnixStream>,
}

impl UnixStream {
    fn from_mio(stream: mio::net::UnixStream) -> UnixStream {
        UnixStream {
            stream: Stream::new(stream),
        }
    }

    /// Connects to the socket file `path`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused` (nobody listens), ...
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?);
        stream
            .stream
            .io
            .wait_io(Direction::Write, None, connected, never)?;
        Ok(stream)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a), UnixStream::from_mio(b)))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.io.get_ref().local_addr()
    }

    /// Shuts down the reading half, the writing half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.io.get_ref().shutdown(how)
    }

    /// Reads and clears `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.stream.io.get_ref().take_error()
    }

    /// Bounds each read to `timeout` (`TimedOut` after); `None`: no bound.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration (as `std`).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.timeouts.set_read(timeout)
    }

    /// Bounds each write to `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.timeouts.set_write(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.stream.timeouts.read())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.stream.timeouts.write())
    }

    /// Deregisters the stream and returns it as a blocking std stream.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let stream = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(
            self.stream.io.into_inner(),
        ));
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

/// Whether a non-blocking connect has finished (`WouldBlock`: not yet).
fn connected(stream: &mio::net::UnixStream) -> io::Result<()> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

stream_io_traits!(UnixStream);

/// Takes over a connected std stream, switching it to non-blocking mode.
///
/// # Panics
///
/// If the socket cannot be made non-blocking (only for an invalid
/// descriptor).
impl From<std::os::unix::net::UnixStream> for UnixStream {
    fn from(stream: std::os::unix::net::UnixStream) -> UnixStream {
        stream
            .set_nonblocking(true)
            .expect("xasync: cannot make a Unix stream non-blocking");
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.io.get_ref().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
