//! Waiting for several descriptors: `poll`, `ppoll`, `select`. In a
//! coroutine, a wait that does not end at once watches the descriptors
//! with a temporary epoll instance (level-triggered, any descriptor that
//! `poll` takes) and waits for that instance to become readable, at the
//! one wait point (`wait.rs`); the result comes from the real call.

use super::real::call;
use super::wait::{self, Waited, Watch};
use super::{coroutine, errno, fail, set_errno};
use crate::io::pollable::Direction;
use libc::{c_int, fd_set, nfds_t, pollfd, sigset_t, timespec, timeval};
use std::time::{Duration, Instant};

/// Polls `fds` in a coroutine until one is ready or `deadline` passes
/// (`None`: never), returning what the real `poll` returns.
fn coroutine_poll(fds: &mut [pollfd], deadline: Option<Instant>) -> c_int {
    let (list, len) = (fds.as_mut_ptr(), fds.len() as nfds_t);
    // SAFETY: the caller's pollfds; no wait.
    let ready = || unsafe { call::poll(list, len, 0) };
    let first = ready();
    if first != 0 || deadline.is_some_and(|d| d <= Instant::now()) {
        return first;
    }
    // SAFETY: no pointer argument.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epfd < 0 {
        return fail(errno());
    }
    for entry in fds.iter() {
        watch(epfd, entry);
    }
    let watch = Watch::new(epfd);
    let done = loop {
        let ticket = watch.ticket(Direction::Read);
        let done = ready();
        if done != 0 {
            break done;
        }
        match wait::wait(&watch, Direction::Read, ticket, deadline) {
            Waited::Ready => {}
            Waited::TimedOut => break 0,
            Waited::Failed(error) => break fail(error),
        }
    };
    let error = errno();
    watch.close();
    // SAFETY: the epoll instance made above, closed once.
    unsafe { call::close(epfd) };
    set_errno(error);
    done
}

/// Adds one pollfd's descriptor to the epoll instance `epfd`.
fn watch(epfd: c_int, entry: &pollfd) {
    if entry.fd < 0 {
        return;
    }
    let mut events = 0;
    if entry.events & (libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND) != 0 {
        events |= libc::EPOLLIN as u32;
    }
    if entry.events & libc::POLLPRI != 0 {
        events |= libc::EPOLLPRI as u32;
    }
    if entry.events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) != 0 {
        events |= libc::EPOLLOUT as u32;
    }
    let mut event = libc::epoll_event { events, u64: 0 };
    // SAFETY: a valid event. Errors are ignored: a descriptor epoll takes
    // no interest in (a regular file: always ready) was reported by the
    // first, non-waiting poll; one listed twice already is watched (for
    // what the second entry asks too, after MOD).
    unsafe {
        if libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, entry.fd, &mut event) < 0
            && errno() == libc::EEXIST
        {
            event.events |= (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLPRI) as u32;
            libc::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, entry.fd, &mut event);
        }
    }
}

/// The deadline of a timeout that starts now.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The hooked `poll(2)`.
///
/// # Safety
///
/// As `poll(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || coroutine().is_none() || fds.is_null() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { call::poll(fds, nfds, timeout) };
    }
    // SAFETY: the caller's array of `nfds` pollfds.
    let fds = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    let deadline = u64::try_from(timeout)
        .ok()
        .and_then(|ms| deadline_after(Duration::from_millis(ms)));
    coroutine_poll(fds, deadline)
}

/// The hooked `ppoll(2)`; in a coroutine, `sigmask` is ignored (signals
/// go to the worker thread as they are).
///
/// # Safety
///
/// As `ppoll(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    // SAFETY: a non-null timeout is the caller's timespec.
    let timeout_ts = (!timeout.is_null()).then(|| unsafe { *timeout });
    let zero = timeout_ts.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0);
    if zero || coroutine().is_none() || fds.is_null() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { call::ppoll(fds, nfds, timeout, sigmask) };
    }
    let deadline = match timeout_ts {
        None => None,
        Some(t) => match (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec)) {
            (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => {
                deadline_after(Duration::new(secs, nanos))
            }
            _ => return fail(libc::EINVAL),
        },
    };
    // SAFETY: the caller's array of `nfds` pollfds.
    let fds = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    coroutine_poll(fds, deadline)
}

/// The hooked `select(2)`: in a coroutine, the sets become pollfds for
/// `coroutine_poll`, and the timeout is updated with the time left, as
/// Linux's.
///
/// # Safety
///
/// As `select(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *mut timeval,
) -> c_int {
    // SAFETY: a non-null timeout is the caller's timeval.
    let timeout_tv = (!timeout.is_null()).then(|| unsafe { *timeout });
    let zero = timeout_tv.is_some_and(|t| t.tv_sec == 0 && t.tv_usec == 0);
    let limit = usize::try_from(nfds).unwrap_or(usize::MAX);
    if zero || coroutine().is_none() || limit > libc::FD_SETSIZE {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { call::select(nfds, readfds, writefds, exceptfds, timeout) };
    }
    let deadline = match timeout_tv {
        None => None,
        Some(t) => match (u64::try_from(t.tv_sec), u64::try_from(t.tv_usec)) {
            (Ok(secs), Ok(micros)) if micros < 1_000_000 => {
                deadline_after(Duration::from_secs(secs) + Duration::from_micros(micros))
            }
            _ => return fail(libc::EINVAL),
        },
    };
    let sets = [
        (readfds, libc::POLLIN),
        (writefds, libc::POLLOUT),
        (exceptfds, libc::POLLPRI),
    ];
    let mut fds = Vec::new();
    for fd in 0..nfds {
        let mut events = 0;
        for &(set, event) in &sets {
            // SAFETY: a non-null set is the caller's, and `fd` < FD_SETSIZE.
            if !set.is_null() && unsafe { libc::FD_ISSET(fd, set) } {
                events |= event;
            }
        }
        if events != 0 {
            fds.push(pollfd {
                fd,
                events,
                revents: 0,
            });
        }
    }
    let done = coroutine_poll(&mut fds, deadline);
    if done < 0 {
        return done;
    }
    if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return fail(libc::EBADF);
    }
    let mut count = 0;
    for &(set, _) in &sets {
        if !set.is_null() {
            // SAFETY: the caller's set.
            unsafe { libc::FD_ZERO(set) };
        }
    }
    for p in &fds {
        let ready = [
            libc::POLLIN | libc::POLLHUP | libc::POLLERR,
            libc::POLLOUT | libc::POLLERR,
            libc::POLLPRI,
        ];
        for (&(set, event), ready) in sets.iter().zip(ready) {
            if !set.is_null() && p.events & event != 0 && p.revents & ready != 0 {
                // SAFETY: the caller's set, and `p.fd` < FD_SETSIZE.
                unsafe { libc::FD_SET(p.fd, set) };
                count += 1;
            }
        }
    }
    if let (Some(deadline), false) = (deadline, timeout.is_null()) {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: the caller's timeval.
        unsafe {
            (*timeout).tv_sec = left.as_secs() as libc::time_t;
            (*timeout).tv_usec = libc::suseconds_t::from(left.subsec_micros() as i32);
        }
    }
    count
}
