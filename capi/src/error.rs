//! Status codes, the thread's last error, and the guard that every entry
//! point runs its body in (no panic crosses the C boundary).

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a function of this library reports: `XASYNC_OK` (zero) or one of
/// the negative error codes. The message of the last error is given by
/// `xasync_last_error()`.
#[repr(i32)]
#[allow(
    non_camel_case_types,
    clippy::enum_variant_names,
    reason = "the names are those of the C header"
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum xasync_status {
    /// Success.
    XASYNC_OK = 0,
    /// A pointer argument that must not be NULL was NULL.
    XASYNC_ERR_NULL_POINTER = -1,
    /// An argument is out of range (zero period, stack size too large,
    /// thread name that is not UTF-8, ...).
    XASYNC_ERR_INVALID_ARGUMENT = -2,
    /// The handle was never issued: zero, forged, or a handle of another
    /// kind (a channel passed as a task, ...).
    XASYNC_ERR_INVALID_HANDLE = -3,
    /// The handle was released already: destroyed, awaited, detached or
    /// cancelled. A double free or a second await reports this.
    XASYNC_ERR_STALE_HANDLE = -4,
    /// The operation cannot be done from here: destroying a runtime from
    /// one of its own coroutines or timer callbacks, reporting a task's
    /// failure from outside a task's coroutine.
    XASYNC_ERR_BUSY = -5,
    /// The channel is closed (or destroyed): nothing more can be sent, and
    /// it has nothing left to receive.
    XASYNC_ERR_CLOSED = -6,
    /// `try_send` on a full channel (the value was not sent).
    XASYNC_ERR_FULL = -7,
    /// `try_recv` on an empty channel.
    XASYNC_ERR_EMPTY = -8,
    /// The timeout elapsed first (a value was not sent, or none received).
    XASYNC_ERR_TIMED_OUT = -9,
    /// The awaited task was cancelled, or the calling coroutine has been
    /// cancelled: it should clean up and return.
    XASYNC_ERR_CANCELLED = -10,
    /// The operating system refused (a worker thread could not start, ...).
    XASYNC_ERR_SYSTEM = -11,
    /// Too many live handles of one kind (more than 16,777,215).
    XASYNC_ERR_TOO_MANY = -12,
    /// An internal error (a Rust panic) was caught; the message says more.
    XASYNC_ERR_PANIC = -13,
    /// Waiting would never end: a coroutine awaited its own task. Nothing
    /// was done (the handle stays valid).
    XASYNC_ERR_DEADLOCK = -14,
    /// The awaited task's function reported a failure
    /// (`xasync_task_fail`): its payload was stored instead of a result.
    XASYNC_ERR_FAILED = -15,
}

use xasync_status::*;

impl xasync_status {
    /// The name of the status code, as a static C string.
    fn name(self) -> &'static CStr {
        match self {
            XASYNC_OK => c"XASYNC_OK",
            XASYNC_ERR_NULL_POINTER => c"XASYNC_ERR_NULL_POINTER",
            XASYNC_ERR_INVALID_ARGUMENT => c"XASYNC_ERR_INVALID_ARGUMENT",
            XASYNC_ERR_INVALID_HANDLE => c"XASYNC_ERR_INVALID_HANDLE",
            XASYNC_ERR_STALE_HANDLE => c"XASYNC_ERR_STALE_HANDLE",
            XASYNC_ERR_BUSY => c"XASYNC_ERR_BUSY",
            XASYNC_ERR_CLOSED => c"XASYNC_ERR_CLOSED",
            XASYNC_ERR_FULL => c"XASYNC_ERR_FULL",
            XASYNC_ERR_EMPTY => c"XASYNC_ERR_EMPTY",
            XASYNC_ERR_TIMED_OUT => c"XASYNC_ERR_TIMED_OUT",
            XASYNC_ERR_CANCELLED => c"XASYNC_ERR_CANCELLED",
            XASYNC_ERR_SYSTEM => c"XASYNC_ERR_SYSTEM",
            XASYNC_ERR_TOO_MANY => c"XASYNC_ERR_TOO_MANY",
            XASYNC_ERR_PANIC => c"XASYNC_ERR_PANIC",
            XASYNC_ERR_DEADLOCK => c"XASYNC_ERR_DEADLOCK",
            XASYNC_ERR_FAILED => c"XASYNC_ERR_FAILED",
        }
    }

    /// Every status code, to look one up by value.
    const ALL: [xasync_status; 16] = [
        XASYNC_OK,
        XASYNC_ERR_NULL_POINTER,
        XASYNC_ERR_INVALID_ARGUMENT,
        XASYNC_ERR_INVALID_HANDLE,
        XASYNC_ERR_STALE_HANDLE,
        XASYNC_ERR_BUSY,
        XASYNC_ERR_CLOSED,
        XASYNC_ERR_FULL,
        XASYNC_ERR_EMPTY,
        XASYNC_ERR_TIMED_OUT,
        XASYNC_ERR_CANCELLED,
        XASYNC_ERR_SYSTEM,
        XASYNC_ERR_TOO_MANY,
        XASYNC_ERR_PANIC,
        XASYNC_ERR_DEADLOCK,
        XASYNC_ERR_FAILED,
    ];
}

/// A failure: its status code and what to tell the caller.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) status: xasync_status,
    pub(crate) message: Cow<'static, str>,
}

/// The result of an entry point's body.
pub(crate) type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with `status` and `message`.
    pub(crate) fn new(status: xasync_status, message: impl Into<Cow<'static, str>>) -> Error {
        debug_assert_ne!(status, XASYNC_OK);
        Error {
            status,
            message: message.into(),
        }
    }

    /// A NULL `argument`.
    pub(crate) fn null(argument: &'static str) -> Error {
        Error::new(
            XASYNC_ERR_NULL_POINTER,
            format!("`{argument}` must not be NULL"),
        )
    }

    /// A caught panic with `payload`.
    pub(crate) fn panic(payload: &(dyn Any + Send)) -> Error {
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let message = match text {
            Some(text) => format!("internal error (a Rust panic was caught): {text}"),
            None => "internal error (a Rust panic was caught)".to_owned(),
        };
        Error::new(XASYNC_ERR_PANIC, message)
    }
}

/// Whether a caught unwind `payload` is a panic (a message) rather than the
/// runtime unwinding a cancelled coroutine, whose payload is private to
/// the core and never a string.
pub(crate) fn is_panic(payload: &(dyn Any + Send)) -> bool {
    payload.is::<&str>() || payload.is::<String>()
}

/// The last error of a thread.
struct LastError {
    status: xasync_status,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Records `error`, raised by the entry point `function`, as this thread's
/// last error.
fn record(function: &str, error: &Error) {
    let text = format!("{function}: {}", error.message).replace('\0', " ");
    let message = CString::new(text).unwrap_or_default();
    let last = LastError {
        status: error.status,
        message,
    };
    // During thread teardown the slot may be gone; the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(last));
}

/// An error if `pointer`, the argument `name`, is NULL.
pub(crate) fn non_null<T>(pointer: *const T, name: &'static str) -> Result<()> {
    if pointer.is_null() {
        return Err(Error::null(name));
    }
    Ok(())
}

/// Checks the out-parameter `out`, named `name`, and writes `cleared`
/// into it: what the caller finds there if the call then fails.
///
/// # Safety
///
/// `out` is NULL or writable.
pub(crate) unsafe fn clear_out<T>(out: *mut T, name: &'static str, cleared: T) -> Result<()> {
    non_null(out, name)?;
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { out.write(cleared) };
    Ok(())
}

/// Runs the body of the entry point `function`: a panic is caught and
/// becomes `XASYNC_ERR_PANIC`, an error is recorded as the thread's last
/// error. Returns the body's value or the failure's status.
pub(crate) fn call<T>(
    function: &'static str,
    body: impl FnOnce() -> Result<T>,
) -> std::result::Result<T, xasync_status> {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(Error::panic(&*p)));
    result.map_err(|error| {
        record(function, &error);
        error.status
    })
}

/// [`call`] for a body without a value: its status.
pub(crate) fn status(function: &'static str, body: impl FnOnce() -> Result<()>) -> xasync_status {
    match call(function, body) {
        Ok(()) => XASYNC_OK,
        Err(status) => status,
    }
}

/// The message of the last error on the calling thread, naming the
/// function that failed (`""` if none failed yet). The library owns the
/// string: it stays valid until the next failing call on this thread.
///
/// Errors are only recorded, never cleared, so check a function's status
/// first. Inside a coroutine, read it before the next waiting call: other
/// coroutines of the same worker thread may fail meanwhile.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_last_error() -> *const c_char {
    call("xasync_last_error", || {
        Ok(LAST_ERROR
            .try_with(|slot| {
                slot.borrow()
                    .as_ref()
                    .map_or(c"".as_ptr(), |last| last.message.as_ptr())
            })
            .unwrap_or(c"".as_ptr()))
    })
    .unwrap_or(c"".as_ptr())
}

/// The status code of the last error on the calling thread (`XASYNC_OK` if
/// none failed yet); see `xasync_last_error`.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_last_error_code() -> xasync_status {
    call("xasync_last_error_code", || {
        Ok(LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map_or(XASYNC_OK, |last| last.status))
            .unwrap_or(XASYNC_OK))
    })
    .unwrap_or(XASYNC_ERR_PANIC)
}

/// The name of a status code (`"XASYNC_ERR_CLOSED"`, ...), or
/// `"XASYNC_UNKNOWN_STATUS"` for a value that is none. A static string.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_status_name(status: i32) -> *const c_char {
    xasync_status::ALL
        .iter()
        .find(|s| **s as i32 == status)
        .map_or(c"XASYNC_UNKNOWN_STATUS", |s| s.name())
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_name() {
        for (i, s) in xasync_status::ALL.iter().enumerate() {
            assert_eq!(s.name().to_str().unwrap(), format!("{s:?}"));
            assert!(
                xasync_status::ALL[..i]
                    .iter()
                    .all(|t| *t as i32 != *s as i32)
            );
        }
    }

    #[test]
    fn a_caught_panic_becomes_a_status_and_a_message() {
        let status = status("f", || panic!("boom"));
        assert_eq!(status, XASYNC_ERR_PANIC);
        assert_eq!(xasync_last_error_code(), XASYNC_ERR_PANIC);
        // SAFETY: a NUL-terminated string owned by this thread's slot.
        let message = unsafe { CStr::from_ptr(xasync_last_error()) };
        assert_eq!(
            message.to_str().unwrap(),
            "f: internal error (a Rust panic was caught): boom"
        );
    }
}
