//! The socket operations a coroutine runs in its worker's ring, on memory
//! borrowed from its frame (see `io::uring`): each returns `None` for a
//! caller that must wait for readiness instead (not a coroutine, or a
//! worker on epoll), which then makes the call the readiness way.
//!
//! Each takes a timeout (`None`: without end), after which it fails with
//! `TimedOut` and the operation was taken back from the kernel.

use super::addr::RawAddr;
use crate::io::uring;
use io_uring::{opcode, types};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Most buffers one vectored transfer passes, as std's `writev` does
/// (`IOV_MAX`): the rest wait for the next call, as a short transfer's do.
const MAX_BUFFERS: usize = 1024;

/// Accepts a connection on `listener`: the new socket, non-blocking and
/// close-on-exec, and its peer's address written into `peer` if given.
pub(crate) fn accept(
    listener: RawFd,
    peer: Option<&mut RawAddr>,
    timeout: Option<Duration>,
) -> Option<io::Result<OwnedFd>> {
    if !uring::usable_here() {
        return None;
    }
    let (addr, len) = match peer {
        Some(peer) => (peer.as_mut_ptr(), std::ptr::from_mut(peer.len_mut())),
        None => (std::ptr::null_mut(), std::ptr::null_mut()),
    };
    // A connection already waiting is taken at once, without a trip
    // through the ring: under a burst of connections, one suspension per
    // accept let the listen queue overflow (and the connections it dropped
    // retry a second later).
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: the peer's address and length, if any, are valid for
    // writing; the descriptor made is ours alone.
    match unsafe { libc::accept4(listener, addr, len, flags) } {
        -1 => match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::WouldBlock => {}
            e => return Some(Err(e)),
        },
        // SAFETY: a descriptor the kernel just made for us alone.
        fd => return Some(Ok(unsafe { OwnedFd::from_raw_fd(fd) })),
    }
    // SAFETY: the peer's address and length, if any, are borrowed
    // exclusively for the whole call.
    let accepted = unsafe {
        uring::run_here(timeout, || {
            opcode::Accept::new(types::Fd(listener), addr, len)
                .flags(flags)
                .build()
        })
    }?;
    Some(accepted.map(|fd| {
        // SAFETY: a descriptor the kernel just made for us alone.
        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
    }))
}

/// Receives into `buf` (`recv(2)` with `flags`).
pub(crate) fn recv(
    socket: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
    timeout: Option<Duration>,
) -> Option<io::Result<usize>> {
    let (ptr, len) = (buf.as_mut_ptr(), uring::len32(buf.len()));
    // SAFETY: `buf` is borrowed, exclusively, for the whole call.
    let received = unsafe {
        uring::run_here(timeout, || {
            opcode::Recv::new(types::Fd(socket), ptr, len)
                .flags(flags)
                .build()
        })
    }?;
    Some(received.map(|n| n as usize))
}

/// Sends `buf` (`send(2)`; a peer gone is an error, not a `SIGPIPE`).
pub(crate) fn send(
    socket: RawFd,
    buf: &[u8],
    timeout: Option<Duration>,
) -> Option<io::Result<usize>> {
    let (ptr, len) = (buf.as_ptr(), uring::len32(buf.len()));
    // SAFETY: `buf` is borrowed for the whole call.
    let sent = unsafe {
        uring::run_here(timeout, || {
            opcode::Send::new(types::Fd(socket), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        })
    }?;
    Some(sent.map(|n| n as usize))
}

/// Receives into `bufs` in turn (`recvmsg(2)` with `flags`), and the
/// sender's address into `from` if given.
pub(crate) fn recv_msg(
    socket: RawFd,
    bufs: &mut [IoSliceMut<'_>],
    mut from: Option<&mut RawAddr>,
    flags: libc::c_int,
    timeout: Option<Duration>,
) -> Option<io::Result<usize>> {
    let count = bufs.len().min(MAX_BUFFERS);
    // `IoSliceMut` is ABI-compatible with `iovec` on Unix.
    let mut msg = message(bufs.as_mut_ptr().cast(), count, from.as_deref_mut());
    let msg_ptr = &raw mut msg;
    // SAFETY: the buffers (borrowed exclusively), the address and the
    // header that points to them live in this frame for the whole call;
    // the kernel writes the address's length into the header, which we
    // read only after the call.
    let received = unsafe {
        uring::run_here(timeout, || {
            opcode::RecvMsg::new(types::Fd(socket), msg_ptr)
                .flags(flags as u32)
                .build()
        })
    }?;
    if let Some(from) = from {
        *from.len_mut() = msg.msg_namelen;
    }
    Some(received.map(|n| n as usize))
}

/// Sends `bufs` in turn (`sendmsg(2)`), to `to` if given (else to the
/// connected peer); a peer gone is an error, not a `SIGPIPE`.
pub(crate) fn send_msg(
    socket: RawFd,
    bufs: &[IoSlice<'_>],
    to: Option<&SocketAddr>,
    timeout: Option<Duration>,
) -> Option<io::Result<usize>> {
    let mut to = to.map(RawAddr::new);
    let count = bufs.len().min(MAX_BUFFERS);
    // `IoSlice` is ABI-compatible with `iovec`; the kernel only reads
    // the buffers of a send.
    let msg = message(bufs.as_ptr().cast_mut().cast(), count, to.as_mut());
    let msg_ptr = &raw const msg;
    // SAFETY: the buffers, the address and the header live in this frame
    // for the whole call.
    let sent = unsafe {
        uring::run_here(timeout, || {
            opcode::SendMsg::new(types::Fd(socket), msg_ptr)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        })
    }?;
    Some(sent.map(|n| n as usize))
}

/// A message header over `count` buffers at `iov` and the address `addr`.
fn message(iov: *mut libc::iovec, count: usize, addr: Option<&mut RawAddr>) -> libc::msghdr {
    // SAFETY: all zeros is a valid `msghdr` (no address, buffers or
    // control data); `msghdr` has private padding fields on some targets,
    // so it is not built as a literal.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = count as _;
    if let Some(addr) = addr {
        msg.msg_name = addr.as_mut_ptr().cast();
        msg.msg_namelen = addr.len();
    }
    msg
}
