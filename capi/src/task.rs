//! Coroutines from C: start (`xasync`), wait (`xawait`), cancel, detach;
//! sleeping and yielding inside them.

use crate::coroutine::{self, Ptr, Running};
use crate::error::{Error, Result, call, clear_out, non_null, status};
use crate::runtime::{self, XASYNC_CURRENT_RUNTIME, xasync_runtime};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use xasync::{JoinError, JoinHandle};

/// A coroutine started by `xasync` or `xasync_spawn`. Release it exactly
/// once: by awaiting it (`xawait`, `xasync_await`) or detaching it
/// (`xasync_task_detach`).
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_task {
    /// The handle's id (see the crate documentation); 0 is never issued.
    pub id: u64,
}

/// The function a coroutine runs: it receives the `arg` given to
/// `xasync_spawn` and returns the result that `xasync_await` hands over
/// (or reports a failure with `xasync_task_fail`). It must not unwind
/// (catch C++ exceptions inside) or `longjmp` out.
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
pub type xasync_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>;

/// Releases the payload of a task's failure (see `xasync_task_fail`) that
/// nobody received. It may run on any thread; it must not unwind or wait.
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
pub type xasync_drop_fn = Option<unsafe extern "C" fn(payload: *mut c_void)>;

/// The failure a task's C function reported (`xasync_task_fail`): its
/// payload, released by its drop function unless handed to an awaiter.
pub(crate) struct Failure {
    payload: Ptr,
    drop: xasync_drop_fn,
}

impl Failure {
    /// The payload, for the awaiter who now owns it.
    fn into_payload(self) -> *mut c_void {
        let payload = self.payload;
        std::mem::forget(self);
        payload.into_raw()
    }
}

impl Drop for Failure {
    fn drop(&mut self) {
        if let Some(drop) = self.drop {
            // SAFETY: `drop` is the function `xasync_task_fail`'s caller
            // gave for this payload, which nobody else received, called
            // once (this `Failure` owned it); it does not unwind.
            unsafe { drop(self.payload.into_raw()) };
        }
    }
}

/// How a task's C function ended.
enum Outcome {
    /// It returned this result.
    Returned(Ptr),
    /// It reported a failure.
    Failed(Failure),
}

/// A task in the table.
struct Task {
    handle: JoinHandle<Outcome>,
    /// A number that no other task has, which its coroutine knows too
    /// (`Running::task`), to tell that a coroutine awaits its own task: the
    /// handle's id exists only once the coroutine is spawned (and perhaps
    /// running), and a `JoinHandle` does not say which coroutine it is for.
    serial: u64,
}

/// The tasks' handle table.
pub(crate) const TASK: Kind = Kind::new(0x54, "task", "awaited or detached");
static TASKS: Table<Task> = Table::new(TASK);

/// The serial number of the next task (0 is "not a task").
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// The body of `xasync_spawn`.
fn spawn(rt: xasync_runtime, f: xasync_fn, arg: *mut c_void) -> Result<xasync_task> {
    let f = f.ok_or_else(|| Error::null("f"))?;
    let (handle, runtime) = runtime::handle(rt)?;
    let arg = Ptr::new(arg);
    let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
    let handle = handle.xasync(move || {
        let me = Running::coroutine(runtime, serial, ptr::null());
        let arg = arg.into_raw();
        // SAFETY: `f` is a C function taking and returning `void *`, as
        // `xasync_spawn`'s caller promised, and it does not unwind.
        let result = coroutine::enter(&me, || unsafe { f(arg) });
        match me.failure.take() {
            Some(failure) => Outcome::Failed(failure),
            None => Outcome::Returned(Ptr::new(result)),
        }
    });
    Ok(xasync_task {
        id: TASKS.insert(Task { handle, serial })?,
    })
}

/// Starts `f(arg)` as a coroutine on the runtime `rt`
/// (`XASYNC_CURRENT_RUNTIME`: the caller's runtime, else the default one)
/// and stores its handle in `*out` (zero on failure). `f` may start on any
/// worker; once started it stays on that worker's thread.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`f`, `out`), the runtime handle's
/// errors, `XASYNC_ERR_TOO_MANY`.
///
/// # Safety
///
/// `f` is NULL or a function of type `xasync_fn` that follows its rules;
/// `out` is NULL or writable. The library never touches `arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_spawn(
    rt: xasync_runtime,
    f: xasync_fn,
    arg: *mut c_void,
    out: *mut xasync_task,
) -> xasync_status {
    status("xasync_spawn", || {
        // SAFETY: NULL or writable by the caller's contract.
        unsafe { clear_out(out, "out", xasync_task { id: 0 }) }?;
        let task = spawn(rt, f, arg)?;
        // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
        unsafe { out.write(task) };
        Ok(())
    })
}

/// Starts `f(arg)` as a coroutine, as the seed's `xasync(f)`: on the
/// caller's runtime, else the default runtime. Returns its handle, or the
/// zero handle on failure (see `xasync_last_error`).
///
/// # Safety
///
/// As `xasync_spawn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync(f: xasync_fn, arg: *mut c_void) -> xasync_task {
    call("xasync", || spawn(XASYNC_CURRENT_RUNTIME, f, arg)).unwrap_or(xasync_task { id: 0 })
}

/// What awaiting a task's handle gives.
fn join(task: xasync_task) -> Result<Outcome> {
    coroutine::check()?;
    let me = coroutine::current(|c| c.map_or(0, |c| c.task));
    let Task { handle, .. } = TASKS.remove_if(task.id, |task| {
        if task.serial == me {
            // It would wait for itself to return, forever.
            return Err(Error::new(
                XASYNC_ERR_DEADLOCK,
                "a coroutine cannot await its own task (it would wait forever)",
            ));
        }
        Ok(())
    })?;
    coroutine::wait(|| handle.join())?.map_err(|error| join_error(&error))
}

/// The result of a task that returned one; the error of one that failed
/// (its `Failure` goes to `failed`, else it is dropped).
fn result_of(outcome: Outcome, failed: Option<&mut Option<Failure>>) -> Result<*mut c_void> {
    match outcome {
        Outcome::Returned(result) => Ok(result.into_raw()),
        Outcome::Failed(failure) => {
            if let Some(failed) = failed {
                *failed = Some(failure);
            }
            Err(Error::new(
                XASYNC_ERR_FAILED,
                "the task's function reported a failure (xasync_task_fail)",
            ))
        }
    }
}

/// The error of a task that ended without a result.
fn join_error(error: &JoinError) -> Error {
    if error.is_cancelled() {
        Error::new(XASYNC_ERR_CANCELLED, "the task was cancelled")
    } else {
        Error::new(XASYNC_ERR_PANIC, error.to_string())
    }
}

/// Waits for the task and stores the value its function returned in
/// `*result` (if `result` is not NULL; NULL is stored on failure, except
/// `XASYNC_ERR_FAILED`). Suspends a coroutine, blocks a thread. Releases
/// the handle, whatever the outcome, except on
/// `XASYNC_ERR_INVALID_HANDLE`/`XASYNC_ERR_STALE_HANDLE`,
/// `XASYNC_ERR_DEADLOCK`, and when the calling coroutine was cancelled
/// before the call.
///
/// Errors: `XASYNC_ERR_FAILED` (the task's function reported a failure
/// with `xasync_task_fail`: its payload is stored in `*result`, and the
/// caller owns it; with a NULL `result` it is released with its drop
/// function), `XASYNC_ERR_CANCELLED` (the task was cancelled before it
/// returned, or the caller is a cancelled coroutine), `XASYNC_ERR_DEADLOCK`
/// (the caller is the task's own coroutine), `XASYNC_ERR_STALE_HANDLE`
/// (awaited or detached already), `XASYNC_ERR_INVALID_HANDLE`.
///
/// # Safety
///
/// `result` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_await(
    task: xasync_task,
    result: *mut *mut c_void,
) -> xasync_status {
    let mut failed = None;
    let wanted = (!result.is_null()).then_some(&mut failed);
    let outcome = call("xasync_await", || result_of(join(task)?, wanted));
    if !result.is_null() {
        let value = match failed {
            Some(failure) => failure.into_payload(),
            None => outcome.unwrap_or(ptr::null_mut()),
        };
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { result.write(value) };
    }
    match outcome {
        Ok(_) => XASYNC_OK,
        Err(status) => status,
    }
}

/// Waits for the task and returns what its function returned, as the
/// seed's `xawait(frame)`; NULL on failure (tell a failure from a NULL
/// result with `xasync_await`; the payload of a failure reported with
/// `xasync_task_fail` is released with its drop function). Releases the
/// handle as `xasync_await`.
#[unsafe(no_mangle)]
pub extern "C" fn xawait(task: xasync_task) -> *mut c_void {
    call("xawait", || result_of(join(task)?, None)).unwrap_or(ptr::null_mut())
}

/// Reports that the calling coroutine's task failed, with `payload` (an
/// error value of the caller's choosing): once the task's function returns
/// (the value it returns is then discarded), `xasync_await` on the task
/// returns `XASYNC_ERR_FAILED` and stores `payload` in its `*result`, and
/// the awaiter owns it. If nobody receives it — the task is detached,
/// awaited by `xawait` or with a NULL `result`, or cancelled (also by its
/// runtime's destruction) — the library calls `drop(payload)` (unless
/// `drop` is NULL) exactly once, on any thread. A second call replaces the
/// payload and drops the earlier one at once. Reporting a failure costs
/// nothing until this is called (no allocation per task).
///
/// Errors: `XASYNC_ERR_BUSY` (the caller is not the coroutine of a task:
/// a plain thread, a timer callback, an fd callback; the caller still owns
/// `payload`).
///
/// # Safety
///
/// `drop` is NULL or a function of type `xasync_drop_fn` that follows its
/// rules and may be called with `payload`. The library never touches
/// `payload` otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_task_fail(
    payload: *mut c_void,
    drop: xasync_drop_fn,
) -> xasync_status {
    status("xasync_task_fail", || {
        let failure = Failure {
            payload: Ptr::new(payload),
            drop,
        };
        coroutine::current(|c| match c {
            Some(c) if c.task != 0 => {
                c.failure.replace(Some(failure));
                Ok(())
            }
            _ => {
                // Refused: the payload stays the caller's.
                let _ = failure.into_payload();
                Err(Error::new(
                    XASYNC_ERR_BUSY,
                    "only the coroutine of a task can report its failure (not a plain thread, \
                     a timer callback or an fd callback)",
                ))
            }
        })
    })
}

/// Cancels the task: if it has not finished, it will not run on (a
/// coroutine suspended in a waiting call gets `XASYNC_ERR_CANCELLED` there
/// and must return; an unstarted one never runs). The handle stays valid:
/// await (gives `XASYNC_ERR_CANCELLED` unless the task finished first) or
/// detach it.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_task_cancel(task: xasync_task) -> xasync_status {
    status("xasync_task_cancel", || {
        TASKS.with(task.id, |task| task.handle.cancel())
    })
}

/// Releases the handle and lets the task run on with nobody waiting for it
/// (its result is discarded).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_task_detach(task: xasync_task) -> xasync_status {
    status("xasync_task_detach", || {
        TASKS.remove(task.id)?.handle.detach();
        Ok(())
    })
}

/// Stores in `*out` whether the task has finished (returned or been
/// cancelled): awaiting it would not wait.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_task_is_finished(
    task: xasync_task,
    out: *mut bool,
) -> xasync_status {
    status("xasync_task_is_finished", || {
        non_null(out, "out")?;
        let finished = TASKS.with(task.id, |task| task.handle.is_finished())?;
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(finished) };
        Ok(())
    })
}

/// Waits `ms` milliseconds: suspends a coroutine (its worker runs others),
/// blocks a thread. Timers have 1 ms resolution and never fire early.
/// Fails only with `XASYNC_ERR_CANCELLED` (see the cancellation rules).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_sleep_ms(ms: u64) -> xasync_status {
    status("xasync_sleep_ms", || {
        coroutine::wait(|| xasync::time::sleep(Duration::from_millis(ms)))
    })
}

/// Lets the other coroutines of the worker run, then continues (on a
/// thread: yields it to the OS). Fails only with `XASYNC_ERR_CANCELLED`.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_yield() -> xasync_status {
    status("xasync_yield", || coroutine::wait(xasync::yield_now))
}
