//! The fortified variants that C code built with `-O2 -D_FORTIFY_SOURCE`
//! calls instead (when the compiler knows the buffer's size): the check
//! glibc makes, then the hook.

use super::real::call;
use libc::{c_int, c_void, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

/// Aborts as glibc does when a fortified call would overflow its buffer.
fn check(fits: bool) {
    if !fits {
        // SAFETY: reports the overflow and aborts; takes nothing.
        unsafe { call::__chk_fail() };
    }
}

/// The hooked `__read_chk`.
///
/// # Safety
///
/// As `read(2)`'s, with `buflen` the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    nbytes: size_t,
    buflen: size_t,
) -> ssize_t {
    check(nbytes <= buflen);
    // SAFETY: the caller's arguments, checked.
    unsafe { super::io::read(fd, buf, nbytes) }
}

/// The hooked `__recv_chk`.
///
/// # Safety
///
/// As `recv(2)`'s, with `buflen` the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    check(len <= buflen);
    // SAFETY: the caller's arguments, checked.
    unsafe { super::io::recv(fd, buf, len, flags) }
}

/// The hooked `__recvfrom_chk`.
///
/// # Safety
///
/// As `recvfrom(2)`'s, with `buflen` the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    check(len <= buflen);
    // SAFETY: the caller's arguments, checked.
    unsafe { super::io::recvfrom(fd, buf, len, flags, addr, addrlen) }
}

/// Whether `nfds` pollfds fit in `fdslen` bytes.
fn pollfds_fit(nfds: nfds_t, fdslen: size_t) -> bool {
    usize::try_from(nfds).is_ok_and(|n| n <= fdslen / size_of::<pollfd>())
}

/// The hooked `__poll_chk`.
///
/// # Safety
///
/// As `poll(2)`'s, with `fdslen` the size of `fds` in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    check(pollfds_fit(nfds, fdslen));
    // SAFETY: the caller's arguments, checked.
    unsafe { super::poll::poll(fds, nfds, timeout) }
}

/// The hooked `__ppoll_chk`.
///
/// # Safety
///
/// As `ppoll(2)`'s, with `fdslen` the size of `fds` in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __ppoll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
    fdslen: size_t,
) -> c_int {
    check(pollfds_fit(nfds, fdslen));
    // SAFETY: the caller's arguments, checked.
    unsafe { super::poll::ppoll(fds, nfds, timeout, sigmask) }
}
