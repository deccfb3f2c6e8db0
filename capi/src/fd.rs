//! File-descriptor readiness callbacks (the seed's event mechanism): a C
//! callback with user data, called on the event loop each time a file
//! descriptor becomes ready, until unwatched. Built on
//! [`xasync::io::callback::register_fd`].

use crate::coroutine::{self, Ptr, Running};
use crate::error::{Error, Result, clear_out, status};
use crate::runtime::{self, xasync_runtime};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use xasync::io::callback::{self, FdRegistration, Interest, Readiness};

/// A file descriptor watched by `xasync_fd_watch`. Release it exactly once
/// with `xasync_fd_unwatch`.
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_watch {
    /// The handle's id (see the crate documentation); 0 is never issued.
    pub id: u64,
}

/// Readiness to read (or accept): an interest, and an event.
pub const XASYNC_READABLE: u32 = 1;
/// Readiness to write (or a connect finished): an interest, and an event.
pub const XASYNC_WRITABLE: u32 = 2;
/// Event: the peer closed its side, or the descriptor hung up.
pub const XASYNC_READ_CLOSED: u32 = 4;
/// Event: writing can no longer succeed.
pub const XASYNC_WRITE_CLOSED: u32 = 8;
/// Event: an error is pending on the descriptor (`SO_ERROR`).
pub const XASYNC_ERROR: u32 = 16;

/// An fd callback: receives the descriptor, the events (`XASYNC_READABLE`,
/// ... or-ed together) and the `user_data` given with it. It runs on the
/// event loop, between tasks: it must be short, must not block, and cannot
/// wait (waiting functions fail there with `XASYNC_ERR_BUSY`; start a
/// coroutine for work that waits). It must not unwind or `longjmp` out.
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
pub type xasync_fd_callback =
    Option<unsafe extern "C" fn(fd: c_int, events: u32, user_data: *mut c_void)>;

/// A descriptor that C owns, lent to the reactor while it is watched.
struct CFd(RawFd);

impl AsFd for CFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: non-negative (checked by `watch`), and open until
        // `xasync_fd_unwatch` returns, which drops this value: the
        // caller's contract.
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }
}

/// The watches' handle table.
pub(crate) const WATCH: Kind = Kind::new(0x57, "watch", "unwatched");
static WATCHES: Table<FdRegistration<CFd>> = Table::new(WATCH);

/// The C bits of `ready`.
fn events(ready: Readiness) -> u32 {
    [
        (ready.is_readable(), XASYNC_READABLE),
        (ready.is_writable(), XASYNC_WRITABLE),
        (ready.is_read_closed(), XASYNC_READ_CLOSED),
        (ready.is_write_closed(), XASYNC_WRITE_CLOSED),
        (ready.is_error(), XASYNC_ERROR),
    ]
    .into_iter()
    .filter_map(|(set, bit)| set.then_some(bit))
    .fold(0, |all, bit| all | bit)
}

/// The body of `xasync_fd_watch`: the registration.
///
/// # Safety
///
/// As `xasync_fd_watch`.
unsafe fn watch(
    rt: xasync_runtime,
    fd: c_int,
    interest: u32,
    callback: xasync_fd_callback,
    user_data: *mut c_void,
) -> Result<FdRegistration<CFd>> {
    let callback = callback.ok_or_else(|| Error::null("callback"))?;
    if fd < 0 {
        return Err(Error::new(
            XASYNC_ERR_INVALID_ARGUMENT,
            format!("{fd} is not a file descriptor"),
        ));
    }
    let interest = match interest {
        XASYNC_READABLE => Interest::READABLE,
        XASYNC_WRITABLE => Interest::WRITABLE,
        both if both == XASYNC_READABLE | XASYNC_WRITABLE => Interest::BOTH,
        other => {
            return Err(Error::new(
                XASYNC_ERR_INVALID_ARGUMENT,
                format!("interest {other:#x} is not XASYNC_READABLE and/or XASYNC_WRITABLE"),
            ));
        }
    };
    let (handle, runtime) = runtime::handle(rt)?;
    let user_data = Ptr::new(user_data);
    let register = move || {
        callback::register_fd(CFd(fd), interest, move |ready| {
            let raw = user_data.into_raw();
            let me = Running::loop_callback(runtime);
            // SAFETY: a C callback of type `xasync_fd_callback`, as the
            // caller of `watch` promised, which does not unwind.
            coroutine::enter(&me, || unsafe { callback(fd, events(ready), raw) });
        })
    };
    // Register in the reactor of one of the runtime's workers: from here if
    // this is one of them (or no runtime was named), else from a coroutine
    // started there.
    let registered = if rt.id == 0 {
        register()
    } else {
        coroutine::wait(|| handle.xasync(register).join())?
            .unwrap_or_else(|_| Err(io::Error::other("the runtime is shutting down")))
    };
    registered.map_err(|e| {
        Error::new(
            XASYNC_ERR_SYSTEM,
            format!("cannot watch file descriptor {fd}: {e}"),
        )
    })
}

/// Calls `callback(fd, events, user_data)` on the event loop of the runtime
/// `rt` (`XASYNC_CURRENT_RUNTIME`: the caller's, else the default runtime)
/// each time `fd` *becomes* ready for `interest` (`XASYNC_READABLE`,
/// `XASYNC_WRITABLE`, or both or-ed), and stores the watch's handle in
/// `*out`.
///
/// Readiness is edge-triggered: make `fd` non-blocking and consume what is
/// there (read until `EAGAIN`), or the next call waits for new readiness.
/// `fd` stays owned by the caller and must stay open until
/// `xasync_fd_unwatch` returns.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`callback`, `out`),
/// `XASYNC_ERR_INVALID_ARGUMENT` (negative fd, bad interest),
/// `XASYNC_ERR_SYSTEM` (what epoll refuses: a regular file, an fd watched
/// twice on one loop), runtime handle errors.
///
/// # Safety
///
/// `callback` is NULL or follows the rules of `xasync_fd_callback`; `out`
/// is NULL or writable; `fd` is open until `xasync_fd_unwatch` returns. The
/// library never touches `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_fd_watch(
    rt: xasync_runtime,
    fd: c_int,
    interest: u32,
    callback: xasync_fd_callback,
    user_data: *mut c_void,
    out: *mut xasync_watch,
) -> xasync_status {
    status("xasync_fd_watch", || {
        // SAFETY: NULL or writable by the caller's contract.
        unsafe { clear_out(out, "out", xasync_watch { id: 0 }) }?;
        // SAFETY: forwarded from our caller.
        let registration = unsafe { watch(rt, fd, interest, callback, user_data) }?;
        let id = WATCHES.insert(registration)?;
        // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
        unsafe { out.write(xasync_watch { id }) };
        Ok(())
    })
}

/// Stops watching and releases the handle. When it returns, the callback is
/// not running and will not be called again, so `user_data` may be freed
/// and `fd` closed: it waits for a call in progress on another thread —
/// blocking a plain thread briefly, suspending a coroutine. Called from an
/// fd callback (this watch's own or another's), it cannot wait: it only
/// prevents further calls, and a call in progress elsewhere may still run.
///
/// Errors: `XASYNC_ERR_STALE_HANDLE` (unwatched already),
/// `XASYNC_ERR_INVALID_HANDLE`; in a cancelled coroutine the watch is
/// released without waiting and `XASYNC_ERR_CANCELLED` is returned.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_fd_unwatch(watch: xasync_watch) -> xasync_status {
    status("xasync_fd_unwatch", || {
        let registration = WATCHES.remove(watch.id)?;
        let in_coroutine = coroutine::current(|c| c.is_some_and(|c| !c.on_loop()));
        if in_coroutine && xasync::Handle::try_current().is_some() {
            // On a worker, deregistering does not wait for a call in
            // progress on another worker (two callbacks deregistering each
            // other would deadlock); the blocking pool's thread does.
            coroutine::wait(|| xasync::blocking(move || registration.deregister()))?;
        } else {
            registration.deregister();
        }
        Ok(())
    })
}
