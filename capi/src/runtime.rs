//! Runtimes: create, configure, destroy.

use crate::coroutine;
use crate::error::{Error, Result, clear_out, non_null, status};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::ffi::{CStr, c_char, c_int};
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::time::Duration;
use xasync::{Handle, Runtime};

/// A runtime: a set of worker threads running coroutines and timers.
/// Create with `xasync_runtime_create`, release with
/// `xasync_runtime_destroy`. The zero handle, `XASYNC_CURRENT_RUNTIME`,
/// names the runtime of the calling coroutine, else the default runtime.
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_runtime {
    /// The handle's id (see the crate documentation); 0 is
    /// `XASYNC_CURRENT_RUNTIME`.
    pub id: u64,
}

/// Where a runtime is expected: the runtime of the calling coroutine or
/// timer callback, else the default runtime (started on first use, with
/// `XASYNC_WORKERS` workers or one per CPU; never destroyed).
pub const XASYNC_CURRENT_RUNTIME: xasync_runtime = xasync_runtime { id: 0 };

/// How to build a runtime. Initialise with `xasync_runtime_config_init`,
/// then set the fields to change.
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug)]
pub struct xasync_runtime_config {
    /// Worker threads; 0: one per CPU.
    pub workers: usize,
    /// Usable bytes of each coroutine's stack, rounded up to pages, at most
    /// 1 GiB; 0: 64 KiB. C code that uses large local arrays or deep
    /// recursion needs more; an overflow hits a guard page and aborts the
    /// process with a report naming the coroutine.
    pub stack_size: usize,
    /// Name of the worker threads (copied); NULL: `"xasync-worker"`.
    pub thread_name: *const c_char,
}

/// The largest stack size accepted.
pub(crate) const MAX_STACK: usize = 1 << 30;

/// The runtimes' handle table.
pub(crate) const RUNTIME: Kind = Kind::new(0x52, "runtime", "destroyed");
static RUNTIMES: Table<Runtime> = Table::new(RUNTIME);

/// The runtime named by `rt` (see [`XASYNC_CURRENT_RUNTIME`]) and its id
/// (0 when it has none).
pub(crate) fn handle(rt: xasync_runtime) -> Result<(Handle, u64)> {
    if rt.id == 0 {
        let id = coroutine::current(|c| c.map_or(0, |c| c.runtime));
        return Ok((Handle::current(), id));
    }
    RUNTIMES.with(rt.id, |r| (r.handle().clone(), rt.id))
}

/// Sets `*config` to the defaults (all zero: one worker per CPU, 64 KiB
/// stacks, threads named `xasync-worker`).
///
/// # Safety
///
/// `config` is NULL or points to writable memory for a config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_runtime_config_init(
    config: *mut xasync_runtime_config,
) -> xasync_status {
    status("xasync_runtime_config_init", || {
        non_null(config, "config")?;
        let defaults = xasync_runtime_config {
            workers: 0,
            stack_size: 0,
            thread_name: std::ptr::null(),
        };
        // SAFETY: non-null, and valid for writes by the caller's contract.
        unsafe { config.write(defaults) };
        Ok(())
    })
}

/// Starts a runtime configured by `*config` (NULL: the defaults) and
/// stores its handle in `*out` (zero on failure).
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`out`), `XASYNC_ERR_INVALID_ARGUMENT`
/// (stack size over 1 GiB, thread name not UTF-8), `XASYNC_ERR_SYSTEM`
/// (a worker thread could not start).
///
/// # Safety
///
/// `config` is NULL or points to a valid config whose `thread_name` is NULL
/// or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_runtime_create(
    config: *const xasync_runtime_config,
    out: *mut xasync_runtime,
) -> xasync_status {
    status("xasync_runtime_create", || {
        // SAFETY: NULL or writable by the caller's contract.
        unsafe { clear_out(out, "out", XASYNC_CURRENT_RUNTIME) }?;
        let mut builder = Runtime::builder();
        // SAFETY: NULL or a valid config, by the caller's contract.
        if let Some(config) = unsafe { config.as_ref() } {
            if config.workers != 0 {
                builder = builder.workers(config.workers);
            }
            if config.stack_size > MAX_STACK {
                return Err(Error::new(
                    XASYNC_ERR_INVALID_ARGUMENT,
                    format!("stack_size {} is over 1 GiB", config.stack_size),
                ));
            }
            if config.stack_size != 0 {
                builder = builder.stack_size(config.stack_size);
            }
            if !config.thread_name.is_null() {
                // SAFETY: a NUL-terminated string, by the caller's contract.
                let name = unsafe { CStr::from_ptr(config.thread_name) };
                let name = name.to_str().map_err(|_| {
                    Error::new(XASYNC_ERR_INVALID_ARGUMENT, "thread_name is not UTF-8")
                })?;
                builder = builder.thread_name(name);
            }
        }
        let runtime = builder.build().map_err(|e| {
            let code = match e.kind() {
                io::ErrorKind::InvalidInput => XASYNC_ERR_INVALID_ARGUMENT,
                _ => XASYNC_ERR_SYSTEM,
            };
            Error::new(code, format!("cannot start the runtime: {e}"))
        })?;
        let id = RUNTIMES.insert(runtime)?;
        // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
        unsafe { out.write(xasync_runtime { id }) };
        Ok(())
    })
}

/// Takes the runtime `rt` out of its table to destroy it, unless the
/// caller runs on it.
fn take(rt: xasync_runtime) -> Result<Runtime> {
    if rt.id != 0 && coroutine::current(|c| c.is_some_and(|c| c.runtime == rt.id)) {
        return Err(Error::new(
            XASYNC_ERR_BUSY,
            "a runtime cannot be destroyed from one of its own coroutines or timer callbacks",
        ));
    }
    RUNTIMES.remove(rt.id)
}

/// Destroys the runtime `rt`: cancels its unfinished tasks and timers,
/// waits until they have ended (a coroutine suspended in a waiting call
/// sees `XASYNC_ERR_CANCELLED` and must return), and joins its threads.
/// Handles of its tasks stay valid until awaited or detached (awaiting a
/// cancelled one returns `XASYNC_ERR_CANCELLED`); so do those of its
/// timers until cancelled. Blocks the calling thread meanwhile.
///
/// Errors: `XASYNC_ERR_STALE_HANDLE` (destroyed already),
/// `XASYNC_ERR_INVALID_HANDLE`, `XASYNC_ERR_BUSY` (called from one of the
/// runtime's own coroutines or timer callbacks).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_runtime_destroy(rt: xasync_runtime) -> xasync_status {
    status("xasync_runtime_destroy", || {
        take(rt)?.shutdown();
        Ok(())
    })
}

/// Destroys the runtime `rt` gracefully: lets its tasks run for up to
/// `grace_ms` milliseconds to finish on their own, then destroys it as
/// `xasync_runtime_destroy` does. `XASYNC_OK` if every task had finished,
/// `XASYNC_ERR_TIMED_OUT` if some had to be cancelled (the runtime is
/// destroyed either way); other errors as `xasync_runtime_destroy`.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_runtime_destroy_timeout(
    rt: xasync_runtime,
    grace_ms: u64,
) -> xasync_status {
    status("xasync_runtime_destroy_timeout", || {
        if take(rt)?.shutdown_timeout(Duration::from_millis(grace_ms)) {
            Ok(())
        } else {
            Err(Error::new(
                XASYNC_ERR_TIMED_OUT,
                "some tasks were still running after the grace period and were cancelled",
            ))
        }
    })
}

/// Writes a dump of the live tasks of the runtime `rt` to the file
/// descriptor `fd`, as Go prints its goroutines: for each coroutine, its
/// id, state (`ready` or `waiting`), worker, age, time since it last ran,
/// and the return addresses where it waits (with symbol names where the
/// dynamic linker knows them; whole backtraces need code built with frame
/// pointers). The workers list their coroutines between tasks, a slice at
/// a time; a worker stuck inside one task is named as missing after two
/// seconds. Called from a coroutine, suspends it meanwhile; from a thread,
/// blocks it. `fd` stays open.
///
/// Errors: `XASYNC_ERR_INVALID_ARGUMENT` (a negative `fd`), the runtime
/// handle's errors, `XASYNC_ERR_SYSTEM` (writing to `fd` failed).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_dump(rt: xasync_runtime, fd: c_int) -> xasync_status {
    status("xasync_dump", || {
        if fd < 0 {
            return Err(Error::new(XASYNC_ERR_INVALID_ARGUMENT, "fd is negative"));
        }
        let (handle, _) = handle(rt)?;
        let text = handle.dump().to_string();
        // SAFETY: the caller's descriptor, borrowed: never closed here.
        let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        (&*file)
            .write_all(text.as_bytes())
            .map_err(|e| Error::new(XASYNC_ERR_SYSTEM, format!("cannot write the dump: {e}")))
    })
}
