//! Reads and writes: `read`, `write`, `readv`, `writev`, `recv`,
//! `recvfrom`, `recvmsg`, `send`, `sendto`, `sendmsg`, and the driver that
//! turns a real call failing with `EAGAIN` into a blocking one.

use super::fds::{self, Fd};
use super::real::call;
use super::wait::{self, Waited};
use super::{coroutine, errno, fail};
use crate::io::pollable::Direction;
use crate::io::uring::len32;
use io_uring::{opcode, squeue, types};
use libc::{c_int, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};
use std::sync::atomic::Ordering;

/// Runs `op`, a real call on `fd`, as the call the user expects. On a
/// descriptor the hooks emulate blocking for, `op` runs in non-blocking
/// mode and, while it fails with `EAGAIN`, the caller waits for
/// `direction` (up to the descriptor's timeout, after which the call fails
/// with `EAGAIN` as Linux's does) and tries again. Elsewhere `op` runs as
/// it is: outside coroutines, this costs a comparison unless `op` fails
/// with `EAGAIN`.
pub(super) fn blocking(fd: c_int, direction: Direction, op: impl FnMut() -> ssize_t) -> ssize_t {
    blocking_or_ring(fd, direction, op, || None)
}

/// As [`blocking`], for a call that `ring` can also give as a ring
/// operation on a socket: where `op` failed with `EAGAIN` in a coroutine
/// on a worker that parks in a ring, the call is made there rather than
/// waited for readiness, so the data comes with the completion.
///
/// `ring` refers to the caller's buffers, which the caller of the hook
/// lends for the call's duration.
fn blocking_or_ring(
    fd: c_int,
    direction: Direction,
    mut op: impl FnMut() -> ssize_t,
    ring: impl FnMut() -> Option<squeue::Entry>,
) -> ssize_t {
    if coroutine().is_some() {
        return match fds::emulating(fd) {
            Some(managed) if managed.make_nonblocking() => retry(&managed, direction, op, ring),
            _ => op(),
        };
    }
    let done = op();
    if done != -1 || errno() != libc::EAGAIN {
        return done;
    }
    // A descriptor a coroutine made non-blocking, used by a plain thread
    // (which waits for readiness: it has no ring).
    match fds::emulated(fd) {
        Some(managed) => retry(&managed, direction, op, ring),
        None => fail(libc::EAGAIN),
    }
}

/// Tries `op` until it does not fail with `EAGAIN`, waiting in between —
/// or making the call in a ring, if `ring` gives it as an operation there;
/// once a call on the socket had to wait in a ring, the next ones in that
/// direction go there without trying first (hooked echo on io_uring went
/// from 0.89× to 0.94× of epoll's round trips).
fn retry(
    fd: &Fd,
    direction: Direction,
    mut op: impl FnMut() -> ssize_t,
    mut ring: impl FnMut() -> Option<squeue::Entry>,
) -> ssize_t {
    let deadline = fd.file.deadline(direction);
    let waits_in_ring = fd.watch.waits_in_ring(direction);
    let mut try_first = !(fd.file.is_socket() && waits_in_ring.load(Ordering::Relaxed));
    loop {
        let ticket = fd.watch.ticket(direction);
        if try_first {
            let done = op();
            if done != -1 || errno() != libc::EAGAIN {
                return done;
            }
        }
        let sqe = if fd.file.is_socket() { ring() } else { None };
        // SAFETY: the operation is the call `op` makes, on the buffers the
        // hook's caller lent for it (see `blocking_or_ring`).
        let in_ring = sqe.and_then(|sqe| unsafe { wait::in_ring(&fd.watch, sqe, deadline) });
        if in_ring.is_some() {
            waits_in_ring.store(true, Ordering::Relaxed);
        }
        let waited = match in_ring {
            Some(Ok(done)) => return done as ssize_t,
            Some(Err(waited)) => waited,
            // Not in a ring after all (this call's flags, or the caller):
            // try before waiting for readiness.
            None if !try_first => {
                try_first = true;
                continue;
            }
            None => wait::wait(&fd.watch, direction, ticket, deadline),
        };
        try_first = true;
        match waited {
            Waited::Ready => {}
            Waited::TimedOut => return fail(libc::EAGAIN),
            Waited::Failed(error) => return fail(error),
        }
    }
}

/// A receive into `len` bytes at `buf` as a ring operation.
fn recv_op(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> Option<squeue::Entry> {
    let recv = opcode::Recv::new(types::Fd(fd), buf.cast(), len32(len));
    Some(recv.flags(flags).build())
}

/// A send of `len` bytes at `buf` as a ring operation. Only the caller's
/// flags: a write to a socket whose peer is gone raises `SIGPIPE` unless
/// the caller asked for `MSG_NOSIGNAL`, in the ring as in the real call.
fn send_op(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> Option<squeue::Entry> {
    let send = opcode::Send::new(types::Fd(fd), buf.cast(), len32(len));
    Some(send.flags(flags).build())
}

/// A `recvmsg` as a ring operation.
fn recvmsg_op(fd: c_int, msg: *mut msghdr, flags: c_int) -> Option<squeue::Entry> {
    let recvmsg = opcode::RecvMsg::new(types::Fd(fd), msg);
    Some(recvmsg.flags(flags as u32).build())
}

/// Runs `op(done)` — the call for the `len - done` bytes left — until all
/// `len` bytes are transferred, the end is reached (0), or it fails, as a
/// blocking write (or a read with `MSG_WAITALL`) does; returns the bytes
/// transferred, or the failure if there were none. On a descriptor the
/// hooks do not emulate blocking for, the first partial result is the
/// result. `ring(done)` is `op(done)` as a ring operation, if it has one.
fn all(
    fd: c_int,
    direction: Direction,
    len: usize,
    mut op: impl FnMut(usize) -> ssize_t,
    mut ring: impl FnMut(usize) -> Option<squeue::Entry>,
) -> ssize_t {
    let mut done = 0;
    loop {
        let step = blocking_or_ring(fd, direction, || op(done), || ring(done));
        let Ok(step) = usize::try_from(step) else {
            return if done > 0 { done as ssize_t } else { step };
        };
        done += step;
        if done >= len || step == 0 || fds::emulated(fd).is_none() {
            return done as ssize_t;
        }
    }
}

/// The hooked `read(2)`.
///
/// # Safety
///
/// As `read(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's arguments, passed on.
    let op = || unsafe { call::read(fd, buf, count) };
    blocking_or_ring(fd, Direction::Read, op, || recv_op(fd, buf, count, 0))
}

/// The hooked `write(2)`: blocking writes are written whole.
///
/// # Safety
///
/// As `write(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller's buffer, past what was written of it.
    let op = |done: usize| unsafe { call::write(fd, buf.byte_add(done), count - done) };
    // SAFETY: as above.
    let ring = |done: usize| send_op(fd, unsafe { buf.byte_add(done) }, count - done, 0);
    all(fd, Direction::Write, count, op, ring)
}

/// The hooked `readv(2)`.
///
/// # Safety
///
/// As `readv(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, passed on.
    let op = || unsafe { call::readv(fd, iov, iovcnt) };
    // In a ring, a readv from a socket is a recvmsg of the same vector.
    // SAFETY: a msghdr is plain data, for which zeros are valid.
    let mut header: msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = iov.cast_mut();
    header.msg_iovlen = iovcnt as _;
    blocking_or_ring(fd, Direction::Read, op, || recvmsg_op(fd, &mut header, 0))
}

/// The hooked `writev(2)`: blocking writes are written whole.
///
/// # Safety
///
/// As `writev(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    // SAFETY: the caller's vector (a bad one makes the real call fail).
    let total = unsafe { total_len(iov, iovcnt) };
    let op = |done| {
        // SAFETY: the caller's vector; `done` is at most its total.
        unsafe { advanced(iov, iovcnt, done, |iov, n| call::writev(fd, iov, n)) }
    };
    // (Not in a ring: the rest of the vector is built for each call.)
    all(fd, Direction::Write, total, op, |_| None)
}

/// The hooked `recv(2)`; `MSG_DONTWAIT` makes it the real call, and
/// `MSG_WAITALL` waits for the whole length.
///
/// # Safety
///
/// As `recv(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    let op = |done: usize| {
        // SAFETY: the caller's buffer, past what was received into it.
        unsafe { call::recv(fd, buf.byte_add(done), len - done, flags) }
    };
    // SAFETY: as above.
    let ring = |done: usize| recv_op(fd, unsafe { buf.byte_add(done) }, len - done, flags);
    receive(fd, len, flags, op, ring)
}

/// The hooked `recvfrom(2)`; flags as for `recv`.
///
/// # Safety
///
/// As `recvfrom(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    let op = |done: usize| {
        // SAFETY: the caller's arguments, past what was received.
        unsafe { call::recvfrom(fd, buf.byte_add(done), len - done, flags, addr, addrlen) }
    };
    // In a ring only without an address to report (a receive there gives
    // none).
    let ring = |done: usize| {
        // SAFETY: the caller's buffer, past what was received into it.
        let rest = unsafe { buf.byte_add(done) };
        recv_op(fd, rest, len - done, flags).filter(|_| addr.is_null())
    };
    receive(fd, len, flags, op, ring)
}

/// A receive of up to `len` bytes with `flags`; `ring` as for [`all`].
fn receive(
    fd: c_int,
    len: usize,
    flags: c_int,
    mut op: impl FnMut(usize) -> ssize_t,
    mut ring: impl FnMut(usize) -> Option<squeue::Entry>,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        op(0)
    } else if flags & libc::MSG_WAITALL != 0 {
        all(fd, Direction::Read, len, op, ring)
    } else {
        blocking_or_ring(fd, Direction::Read, || op(0), || ring(0))
    }
}

/// The hooked `recvmsg(2)`; `MSG_DONTWAIT` makes it the real call
/// (`MSG_WAITALL` is not emulated: it returns what a first read gets).
///
/// # Safety
///
/// As `recvmsg(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, passed on.
    let op = || unsafe { call::recvmsg(fd, msg, flags) };
    if flags & libc::MSG_DONTWAIT != 0 {
        return op();
    }
    blocking_or_ring(fd, Direction::Read, op, || recvmsg_op(fd, msg, flags))
}

/// The hooked `send(2)`: written whole unless `MSG_DONTWAIT`.
///
/// # Safety
///
/// As `send(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    let op = |done: usize| {
        // SAFETY: the caller's buffer, past what was sent of it.
        unsafe { call::send(fd, buf.byte_add(done), len - done, flags) }
    };
    // SAFETY: as above.
    let ring = |done: usize| send_op(fd, unsafe { buf.byte_add(done) }, len - done, flags);
    transmit(fd, len, flags, op, ring)
}

/// The hooked `sendto(2)`: written whole unless `MSG_DONTWAIT`.
///
/// # Safety
///
/// As `sendto(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    let op = |done: usize| {
        // SAFETY: the caller's arguments, past what was sent.
        unsafe { call::sendto(fd, buf.byte_add(done), len - done, flags, addr, addrlen) }
    };
    // In a ring only without an address (a send there takes one only
    // since Linux 6.0).
    let ring = |done: usize| {
        // SAFETY: the caller's buffer, past what was sent of it.
        let rest = unsafe { buf.byte_add(done) };
        send_op(fd, rest, len - done, flags).filter(|_| addr.is_null())
    };
    transmit(fd, len, flags, op, ring)
}

/// The hooked `sendmsg(2)`: written whole unless `MSG_DONTWAIT` (the
/// ancillary data goes with the first part).
///
/// # Safety
///
/// As `sendmsg(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if msg.is_null() {
        // SAFETY: passed on, for the real call's error.
        return unsafe { call::sendmsg(fd, msg, flags) };
    }
    // SAFETY: the caller's message header.
    let header = unsafe { *msg };
    // SAFETY: the header's vector (its length is a size_t; a bad one makes
    // the real call fail).
    let total = unsafe { total_len(header.msg_iov, header.msg_iovlen as c_int) };
    let op = |done: usize| {
        if done == 0 {
            // SAFETY: the caller's arguments, passed on.
            return unsafe { call::sendmsg(fd, msg, flags) };
        }
        let advance = |iov: *const iovec, n: c_int| {
            let rest = msghdr {
                msg_iov: iov.cast_mut(),
                msg_iovlen: n as _,
                msg_control: std::ptr::null_mut(),
                msg_controllen: 0,
                ..header
            };
            // SAFETY: the caller's message, past what was sent.
            unsafe { call::sendmsg(fd, &rest, flags) }
        };
        // SAFETY: the header's vector; `done` is at most its total.
        unsafe { advanced(header.msg_iov, header.msg_iovlen as c_int, done, advance) }
    };
    // (Not in a ring: the rest of the message is built for each call.)
    transmit(fd, total, flags, op, |_| None)
}

/// A send of `len` bytes with `flags`; `ring` as for [`all`].
fn transmit(
    fd: c_int,
    len: usize,
    flags: c_int,
    mut op: impl FnMut(usize) -> ssize_t,
    ring: impl FnMut(usize) -> Option<squeue::Entry>,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 {
        op(0)
    } else {
        all(fd, Direction::Write, len, op, ring)
    }
}

/// The total length of an I/O vector (0 if it is not one).
///
/// # Safety
///
/// A non-null `iov` must point to `count` iovecs.
unsafe fn total_len(iov: *const iovec, count: c_int) -> usize {
    match usize::try_from(count) {
        Ok(count) if !iov.is_null() => {
            // SAFETY: the caller's vector of `count` iovecs.
            let iovs = unsafe { std::slice::from_raw_parts(iov, count) };
            iovs.iter()
                .map(|v| v.iov_len)
                .fold(0, usize::saturating_add)
        }
        _ => 0,
    }
}

/// Calls `f` with the I/O vector `iov` past its first `skip` bytes.
///
/// # Safety
///
/// A non-null `iov` must point to `count` iovecs, and `skip` must not
/// exceed their total length.
unsafe fn advanced<R>(
    iov: *const iovec,
    count: c_int,
    skip: usize,
    f: impl FnOnce(*const iovec, c_int) -> R,
) -> R {
    if skip == 0 {
        return f(iov, count);
    }
    // SAFETY: as `total_len`: the caller's vector (not empty: `skip` > 0).
    let iovs = unsafe { std::slice::from_raw_parts(iov, usize::try_from(count).unwrap_or(0)) };
    let mut skip = skip;
    let mut rest = Vec::with_capacity(iovs.len());
    for v in iovs {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        rest.push(iovec {
            // SAFETY: within the caller's buffer (`skip` < its length).
            iov_base: unsafe { v.iov_base.byte_add(skip) },
            iov_len: v.iov_len - skip,
        });
        skip = 0;
    }
    f(rest.as_ptr(), rest.len() as c_int)
}
