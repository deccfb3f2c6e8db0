//! UDP: [`UdpSocket`].

use super::addr::{RawAddr, each_addr};
use super::ring;
use super::timeouts::Timeouts;
use crate::io::pollable::{Direction, Pollable, never};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// A UDP socket. `send`/`recv` (and their `_to`/`_from` forms) suspend a
/// coroutine or block a thread; the `_async` forms return futures.
///
/// ```
/// use xasync::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = b.local_addr().unwrap();
/// let got = xasync::xasync(move || {
///     let mut buf = [0; 16];
///     let (n, _from) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"datagram", to).unwrap();
/// assert_eq!(got.join().unwrap(), b"datagram");
/// ```
pub struct UdpSocket {
    io: Pollable<mio::net::UdpSocket>,
    timeouts: Timeouts,
}

impl UdpSocket {
    fn from_mio(socket: mio::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            io: Pollable::new(socket),
            timeouts: Timeouts::default(),
        }
    }

    /// Binds to `addr` (each address it resolves to in turn).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that does not parse or resolve,
    /// `AddrInUse`, ...
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            mio::net::UdpSocket::bind(addr).map(UdpSocket::from_mio)
        })
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts. Does not wait.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |addr| self.io.get_ref().connect(addr))
    }

    /// Sends a datagram to `addr`; waits while the send buffer is full.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let (fd, timeout) = (self.as_raw_fd(), self.timeouts.write());
        each_addr(addr, |addr| {
            if let Some(sent) = ring::send_msg(fd, &[IoSlice::new(buf)], Some(&addr), timeout) {
                return sent;
            }
            self.io.wait_io(
                Direction::Write,
                self.timeouts.write(),
                |s| s.send_to(buf, addr),
                never,
            )
        })
    }

    /// Receives a datagram (truncated to `buf`) and its source; waits for
    /// one.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        if let Some(received) = self.recv_from_ring(buf, 0) {
            return received;
        }
        self.io.wait_io(
            Direction::Read,
            self.timeouts.read(),
            |s| s.recv_from(buf),
            never,
        )
    }

    /// Sends to the connected address.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        if let Some(sent) = ring::send(self.as_raw_fd(), buf, self.timeouts.write()) {
            return sent;
        }
        self.io.wait_io(
            Direction::Write,
            self.timeouts.write(),
            |s| s.send(buf),
            never,
        )
    }

    /// Receives from the connected address.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(received) = ring::recv(self.as_raw_fd(), buf, 0, self.timeouts.read()) {
            return received;
        }
        self.io.wait_io(
            Direction::Read,
            self.timeouts.read(),
            |s| s.recv(buf),
            never,
        )
    }

    /// Receives a datagram without consuming it.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        if let Some(peeked) = self.recv_from_ring(buf, libc::MSG_PEEK) {
            return peeked;
        }
        self.io.wait_io(
            Direction::Read,
            self.timeouts.read(),
            |s| s.peek_from(buf),
            never,
        )
    }

    /// `recvmsg(2)` with `flags` in the ring (`None`: wait for readiness).
    fn recv_from_ring(
        &self,
        buf: &mut [u8],
        flags: libc::c_int,
    ) -> Option<io::Result<(usize, SocketAddr)>> {
        let (fd, timeout) = (self.as_raw_fd(), self.timeouts.read());
        let mut from = RawAddr::empty();
        let bufs = &mut [IoSliceMut::new(buf)];
        let received = ring::recv_msg(fd, bufs, Some(&mut from), flags, timeout)?;
        Some(received.and_then(|n| Ok((n, from.to_socket_addr()?))))
    }

    /// The future of [`send_to`](Self::send_to) (to a resolved address).
    pub async fn send_to_async(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Write, |s| s.send_to(buf, addr), never)
        })
        .await
    }

    /// The future of [`recv_from`](Self::recv_from).
    pub async fn recv_from_async(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Read, |s| s.recv_from(buf), never)
        })
        .await
    }

    /// The future of [`send`](Self::send).
    pub async fn send_async(&self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            self.io
                .poll_io(cx, Direction::Write, |s| s.send(buf), never)
        })
        .await
    }

    /// The future of [`recv`](Self::recv).
    pub async fn recv_async(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.recv(buf), never))
            .await
    }

    /// Bounds each receive to `timeout` (`TimedOut` after); `None`: no bound.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration (as `std`).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_read(timeout)
    }

    /// Bounds each send to `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_write(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.read())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.write())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Reads and clears `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Deregisters the socket and returns it as a blocking std socket.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let socket = std::net::UdpSocket::from(self.io.into_inner());
        socket.set_nonblocking(false)?;
        Ok(socket)
    }
}

/// Takes over a std socket, switching it to non-blocking mode.
///
/// # Panics
///
/// If the socket cannot be made non-blocking (only for an invalid
/// descriptor).
impl From<std::net::UdpSocket> for UdpSocket {
    fn from(socket: std::net::UdpSocket) -> UdpSocket {
        socket
            .set_nonblocking(true)
            .expect("xasync: cannot make a UDP socket non-blocking");
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
