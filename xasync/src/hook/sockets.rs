//! Descriptor life and mode: `socket`, `socketpair`, `accept`, `accept4`,
//! `connect`, `pipe`, `pipe2`, `close`, `dup`, `dup2`, `dup3`, `fcntl`,
//! `ioctl(FIONBIO)`, `setsockopt(SO_RCVTIMEO, SO_SNDTIMEO)`, `shutdown`.

use super::fds;
use super::io::blocking;
use super::real::call;
use super::wait::{self, Waited};
use super::{coroutine, errno, fail};
use crate::io::pollable::Direction;
use libc::{c_int, c_ulong, c_void, sockaddr, socklen_t};
use std::time::Duration;

/// The hooked `socket(2)`: the new socket is managed.
///
/// # Safety
///
/// As `socket(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let fd = unsafe { call::socket(domain, ty, protocol) };
    fds::created(fd, ty & libc::SOCK_NONBLOCK != 0, true)
}

/// The hooked `socketpair(2)`: both sockets are managed.
///
/// # Safety
///
/// As `socketpair(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let done = unsafe { call::socketpair(domain, ty, protocol, sv) };
    if done == 0 {
        // SAFETY: on success the kernel wrote two descriptors to `sv`.
        unsafe { created_pair(sv, ty & libc::SOCK_NONBLOCK != 0, true) };
    }
    done
}

/// The hooked `pipe(2)`: both ends are managed.
///
/// # Safety
///
/// As `pipe(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let done = unsafe { call::pipe(fds) };
    if done == 0 {
        // SAFETY: on success the kernel wrote two descriptors to `fds`.
        unsafe { created_pair(fds, false, false) };
    }
    done
}

/// The hooked `pipe2(2)`: both ends are managed.
///
/// # Safety
///
/// As `pipe2(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let done = unsafe { call::pipe2(fds, flags) };
    if done == 0 {
        // SAFETY: on success the kernel wrote two descriptors to `fds`.
        unsafe { created_pair(fds, flags & libc::O_NONBLOCK != 0, false) };
    }
    done
}

/// Manages the two new descriptors at `pair`, sockets or pipe ends.
///
/// # Safety
///
/// `pair` must point to two descriptors.
unsafe fn created_pair(pair: *const c_int, user_nonblocking: bool, socket: bool) {
    // SAFETY: the caller's two descriptors. (Two descriptions, each its own.)
    let [a, b] = unsafe { *pair.cast::<[c_int; 2]>() };
    fds::created(a, user_nonblocking, socket);
    fds::created(b, user_nonblocking, socket);
}

/// The hooked `accept(2)`: waits like a blocking accept; the new socket is
/// managed.
///
/// # Safety
///
/// As `accept(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let op = || unsafe { call::accept(fd, addr, len) } as isize;
    fds::created(blocking(fd, Direction::Read, op) as c_int, false, true)
}

/// The hooked `accept4(2)`: as `accept`.
///
/// # Safety
///
/// As `accept4(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let op = || unsafe { call::accept4(fd, addr, len, flags) } as isize;
    let accepted = blocking(fd, Direction::Read, op) as c_int;
    fds::created(accepted, flags & libc::SOCK_NONBLOCK != 0, true)
}

/// The hooked `connect(2)`: waits like a blocking connect (up to
/// `SO_SNDTIMEO`, after which it fails with `EINPROGRESS`, as Linux's).
///
/// # Safety
///
/// As `connect(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let real = || unsafe { call::connect(fd, addr, len) };
    // The connect is started, then waited for.
    let (managed, mut ticket) = match coroutine() {
        Some(_) => match fds::emulating(fd) {
            Some(managed) if managed.make_nonblocking() => {
                let ticket = managed.watch.ticket(Direction::Write);
                let done = real();
                if done == 0 || errno() != libc::EINPROGRESS {
                    return done;
                }
                (managed, ticket)
            }
            _ => return real(),
        },
        None => {
            let done = real();
            if done == 0 || errno() != libc::EINPROGRESS {
                return done;
            }
            match fds::emulated(fd) {
                Some(managed) => (managed, 0),
                None => return fail(libc::EINPROGRESS),
            }
        }
    };
    let deadline = managed.file.deadline(Direction::Write);
    loop {
        match wait::wait(&managed.watch, Direction::Write, ticket, deadline) {
            Waited::Ready => {}
            Waited::TimedOut => return fail(libc::EINPROGRESS),
            Waited::Failed(error) => return fail(error),
        }
        ticket = managed.watch.ticket(Direction::Write);
        match connect_result(fd) {
            Some(0) => return 0,
            Some(error) => return fail(error),
            None => {}
        }
    }
}

/// The outcome of a background connect: `None` while it goes on, else 0
/// or its error.
fn connect_result(fd: c_int) -> Option<c_int> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd; no wait.
    if unsafe { call::poll(&mut pollfd, 1, 0) } == 0 {
        return None;
    }
    let mut error: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: SO_ERROR writes an int to a buffer of that size.
    let got = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut error).cast(),
            &mut len,
        )
    };
    Some(if got < 0 { errno() } else { error })
}

/// The hooked `close(2)`: the descriptor's registration goes first, so
/// that its number can be reused.
///
/// # Safety
///
/// As `close(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    fds::remove(fd);
    // SAFETY: the caller's argument, passed on.
    unsafe { call::close(fd) }
}

/// The hooked `dup(2)`: a copy of a managed descriptor is managed, with
/// the same mode.
///
/// # Safety
///
/// As `dup(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: the caller's argument, passed on.
    duplicated(fd, unsafe { call::dup(fd) })
}

/// The hooked `dup2(2)`.
///
/// # Safety
///
/// As `dup2(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    replace(old, new, || unsafe { call::dup2(old, new) })
}

/// The hooked `dup3(2)`.
///
/// # Safety
///
/// As `dup3(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    replace(old, new, || unsafe { call::dup3(old, new, flags) })
}

/// A `dup2`-like call that closes `new` if open: its registration must go
/// first — but only if the call will succeed, so `old` is checked.
fn replace(old: c_int, new: c_int, op: impl FnOnce() -> c_int) -> c_int {
    // SAFETY: F_GETFD reads the descriptor's flags, no argument.
    if old != new && unsafe { call::fcntl(old, libc::F_GETFD, 0) } >= 0 {
        fds::remove(new);
    }
    duplicated(old, op())
}

/// Records `copy` (unless the call failed) as a copy of `fd`.
fn duplicated(fd: c_int, copy: c_int) -> c_int {
    if copy >= 0 && copy != fd {
        match fds::get(fd) {
            Some(managed) => fds::insert(copy, managed.file.clone()),
            None => fds::remove(copy),
        }
    }
    copy
}

/// The hooked `fcntl(2)` (declared variadic in C; its one optional
/// argument is passed in the same register as a fixed one on the CPUs
/// Linux runs on): `F_GETFL` reports the `O_NONBLOCK` the user set,
/// `F_SETFL` records it, `F_DUPFD` copies are managed.
///
/// # Safety
///
/// As `fcntl(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    file_control(fd, cmd, arg, |arg| unsafe { call::fcntl(fd, cmd, arg) })
}

/// The hooked `fcntl64` (glibc's name for `fcntl` under
/// `_FILE_OFFSET_BITS=64`): as `fcntl`.
///
/// # Safety
///
/// As `fcntl(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    file_control(fd, cmd, arg, |arg| unsafe { call::fcntl64(fd, cmd, arg) })
}

fn file_control(fd: c_int, cmd: c_int, arg: c_ulong, real: impl FnOnce(c_ulong) -> c_int) -> c_int {
    match cmd {
        libc::F_GETFL => {
            let flags = real(arg);
            match fds::get(fd) {
                Some(managed) if flags >= 0 => {
                    if managed.file.user_nonblocking() {
                        flags | libc::O_NONBLOCK
                    } else {
                        flags & !libc::O_NONBLOCK
                    }
                }
                _ => flags,
            }
        }
        libc::F_SETFL => {
            let Some(managed) = fds::get(fd) else {
                return real(arg);
            };
            let user = arg & libc::O_NONBLOCK as c_ulong != 0;
            let kernel = if managed.file.is_nonblocking() {
                arg | libc::O_NONBLOCK as c_ulong
            } else {
                arg
            };
            let done = real(kernel);
            if done >= 0 {
                managed.file.set_user_nonblocking(user);
            }
            done
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => duplicated(fd, real(arg)),
        _ => real(arg),
    }
}

/// The hooked `ioctl(2)` (variadic in C, as `fcntl`): `FIONBIO` on a
/// managed descriptor records the mode the user sets.
///
/// # Safety
///
/// As `ioctl(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let real = || unsafe { call::ioctl(fd, request, arg) };
    if request != libc::FIONBIO as c_ulong || arg.is_null() {
        return real();
    }
    let Some(managed) = fds::get(fd) else {
        return real();
    };
    // SAFETY: FIONBIO's argument points to an int.
    let on = unsafe { *arg.cast::<c_int>() } != 0;
    // The hooks keep a descriptor they made non-blocking so.
    let done = if managed.file.is_nonblocking() {
        // SAFETY: F_GETFD reads the descriptor's flags: is it open?
        match unsafe { call::fcntl(fd, libc::F_GETFD, 0) } {
            failed if failed < 0 => failed,
            _ => 0,
        }
    } else {
        real()
    };
    if done == 0 {
        managed.file.set_user_nonblocking(on);
    }
    done
}

/// The hooked `setsockopt(2)`: `SO_RCVTIMEO` and `SO_SNDTIMEO` are also
/// recorded, for the hooks to time out as the kernel would.
///
/// # Safety
///
/// As `setsockopt(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let done = unsafe { call::setsockopt(fd, level, name, value, len) };
    let direction = match name {
        libc::SO_RCVTIMEO => Direction::Read,
        libc::SO_SNDTIMEO => Direction::Write,
        _ => return done,
    };
    if done != 0 || level != libc::SOL_SOCKET || (len as usize) < size_of::<libc::timeval>() {
        return done;
    }
    if let Some(managed) = fds::get(fd) {
        // SAFETY: the kernel accepted it as a timeval.
        let tv = unsafe { value.cast::<libc::timeval>().read_unaligned() };
        let timeout = Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64);
        managed.file.set_timeout(direction, timeout);
    }
    done
}

/// The hooked `shutdown(2)`: coroutines waiting on the socket try again
/// (and find the end of the stream, or `EPIPE`).
///
/// # Safety
///
/// As `shutdown(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let done = unsafe { call::shutdown(fd, how) };
    if done == 0
        && let Some(managed) = fds::get(fd)
    {
        managed.watch.wake();
    }
    done
}
