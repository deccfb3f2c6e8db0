//! TCP: [`TcpListener`] and [`TcpStream`].

use super::addr::{RawAddr, each_addr};
use super::ring;
use super::stream::{Stream, stream_io_traits};
use crate::io::pollable::{Direction, Pollable, never, timed_out};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;

/// Pending connections a listener queues (`listen(2)` backlog; the kernel
/// caps it at `net.core.somaxconn`).
const BACKLOG: libc::c_int = 1024;

/// A TCP socket server, listening for connections.
///
/// [`accept`](Self::accept) suspends a coroutine (blocks a plain thread)
/// until a connection comes; async code uses
/// [`accept_async`](Self::accept_async).
///
/// ```
/// use std::io::{Read, Write};
/// use xasync::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = xasync::xasync(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0; 4];
///     conn.read_exact(&mut buf).unwrap();
///     conn.write_all(&buf).unwrap(); // echo
/// });
/// let client = xasync::xasync(move || {
///     let mut conn = TcpStream::connect(addr).unwrap();
///     conn.write_all(b"ping").unwrap();
///     let mut buf = [0; 4];
///     conn.read_exact(&mut buf).unwrap();
///     buf
/// });
/// server.join().unwrap();
/// assert_eq!(&client.join().unwrap(), b"ping");
/// ```
pub struct TcpListener {
    io: Pollable<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each address it resolves to is tried in turn) and
    /// listens, with `SO_REUSEADDR` set and a backlog of 1024.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that does not parse or resolve,
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied`, ...
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |addr| {
            let listener = mio::net::TcpListener::bind(addr)?;
            // A second listen(2) only changes the backlog (mio uses 128).
            // SAFETY: `listener` owns a valid listening socket.
            if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(TcpListener {
                io: Pollable::new(listener),
            })
        })
    }

    /// Accepts a connection: suspends a coroutine (blocks a thread) until
    /// one comes. The stream is non-blocking and not yet registered.
    ///
    /// # Errors
    ///
    /// What `accept4(2)` reports, e.g. `EMFILE` (out of file descriptors,
    /// `raw_os_error() == Some(libc::EMFILE)`): the connection stays queued,
    /// so a server should wait a little and accept again.
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`accept_async`](Self::accept_async).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_within(None)
    }

    /// [`accept`](Self::accept) waiting at most `timeout` (`TimedOut`
    /// after that).
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_within(Some(timeout))
    }

    fn accept_within(&self, timeout: Option<Duration>) -> io::Result<(TcpStream, SocketAddr)> {
        let mut peer = RawAddr::empty();
        let listener = self.io.get_ref().as_raw_fd();
        if let Some(accepted) = ring::accept(listener, Some(&mut peer), timeout) {
            let stream = mio::net::TcpStream::from_std(accepted?.into());
            return Ok((TcpStream::from_mio(stream), peer.to_socket_addr()?));
        }
        let (stream, addr) = self
            .io
            .wait_io(Direction::Read, timeout, |l| l.accept(), never)?;
        Ok((TcpStream::from_mio(stream), addr))
    }

    /// The future of [`accept`](Self::accept).
    pub async fn accept_async(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (for hand-written futures).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept(), never)
            .map_ok(|(stream, addr)| (TcpStream::from_mio(stream), addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Reads and clears `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Deregisters the listener and returns it as a blocking std listener.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::from(self.io.into_inner());
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

/// Takes over a std listener, switching it to non-blocking mode.
///
/// # Panics
///
/// If the socket cannot be made non-blocking (`ioctl(FIONBIO)` fails only
/// for an invalid descriptor).
impl From<std::net::TcpListener> for TcpListener {
    fn from(listener: std::net::TcpListener) -> TcpListener {
        listener
            .set_nonblocking(true)
            .expect("xasync: cannot make a TCP listener non-blocking");
        TcpListener {
            io: Pollable::new(mio::net::TcpListener::from_std(listener)),
        }
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A TCP connection.
///
/// In a coroutine it is a plain [`std::io::Read`] + [`std::io::Write`]
/// whose calls suspend the coroutine while the socket is not ready (so
/// `BufReader`, `io::copy` or `serde_json::from_reader` work unchanged); on
/// a plain thread they block; async code uses its
/// [`AsyncRead`](futures_io::AsyncRead) and
/// [`AsyncWrite`](futures_io::AsyncWrite) implementations. `&TcpStream`
/// reads and writes too, so one task may read while another writes; any
/// task on any worker may use the stream.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use xasync::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// xasync::xasync(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     conn.write_all(b"hello\nworld\n").unwrap();
/// })
/// .detach();
/// let lines = xasync::xawait(xasync::xasync(move || {
///     let conn = TcpStream::connect(addr).unwrap();
///     BufReader::new(conn).lines().map(Result::unwrap).collect::<Vec<_>>()
/// }));
/// assert_eq!(lines, ["hello", "world"]);
/// ```
pub struct TcpStream {
    stream: Stream<mio::net::TcpStream>,
}

impl TcpStream {
    fn from_mio(stream: mio::net::TcpStream) -> TcpStream {
        TcpStream {
            stream: Stream::new(stream),
        }
    }

    /// Connects to `addr` (each address it resolves to in turn):
    /// suspends a coroutine (blocks a thread) until connected.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that does not parse or resolve,
    /// `ConnectionRefused`, `NetworkUnreachable`, ...
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`connect_async`](Self::connect_async).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |addr| TcpStream::connect_within(addr, None))
    }

    /// Connects to `addr`, waiting at most `timeout` (`TimedOut` after).
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_within(*addr, Some(timeout))
    }

    /// Connects by readiness on both backends: `IORING_OP_CONNECT` was
    /// measured slower (docs/BENCHMARKS.md, "More operations on the ring").
    fn connect_within(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?);
        match stream
            .stream
            .io
            .wait_io(Direction::Write, timeout, connected, never)
        {
            Ok(()) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(timed_out()),
            Err(e) => Err(e),
        }
    }

    /// The future of [`connect`](Self::connect). Resolving a host name
    /// blocks (as `std` does); pass a `SocketAddr` to avoid it.
    pub async fn connect_async(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?);
            let io = &stream.stream.io;
            match std::future::poll_fn(|cx| io.poll_io(cx, Direction::Write, connected, never))
                .await
            {
                Ok(()) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any addresses",
            )
        }))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.io.get_ref().local_addr()
    }

    /// Shuts down the reading half, the writing half (the peer then reads
    /// end of stream), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.stream.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.stream.io.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.stream.io.get_ref().set_ttl(ttl)
    }

    /// Reads and clears `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.stream.io.get_ref().take_error()
    }

    /// Bounds each read (of the waiting `Read` implementation) to `timeout`;
    /// a read that runs out fails with `TimedOut`. `None`: no bound.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration (as `std`).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.timeouts.set_read(timeout)
    }

    /// Bounds each write to `timeout`, as [`set_read_timeout`](Self::set_read_timeout).
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

    /// Reads without consuming: waits like `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (fd, timeout) = (self.as_raw_fd(), self.stream.timeouts.read());
        if let Some(peeked) = ring::recv(fd, buf, libc::MSG_PEEK, timeout) {
            return peeked;
        }
        self.stream.io.wait_io(
            Direction::Read,
            self.stream.timeouts.read(),
            |s| s.peek(buf),
            never,
        )
    }

    /// Deregisters the stream and returns it as a blocking std stream.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let stream = std::net::TcpStream::from(self.stream.io.into_inner());
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

/// Whether a non-blocking connect has finished (`WouldBlock`: not yet).
fn connected(stream: &mio::net::TcpStream) -> io::Result<()> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

stream_io_traits!(TcpStream);

/// Takes over a connected std stream, switching it to non-blocking mode.
///
/// # Panics
///
/// If the socket cannot be made non-blocking (`ioctl(FIONBIO)` fails only
/// for an invalid descriptor).
impl From<std::net::TcpStream> for TcpStream {
    fn from(stream: std::net::TcpStream) -> TcpStream {
        stream
            .set_nonblocking(true)
            .expect("xasync: cannot make a TCP stream non-blocking");
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.io.get_ref().as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
