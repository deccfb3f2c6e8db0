//! Timer callbacks (the seed's event mechanism): a C callback with user
//! data, called after a delay, once or periodically, until cancelled.
//!
//! Each timer is a coroutine on its runtime that sleeps in the worker's
//! timing wheel and calls the callback, so a callback may use every
//! function of the library, waiting ones included (a callback that waits
//! delays the timer's next call).

use crate::coroutine::{self, Ptr, Running};
use crate::error::{Error, Result, status};
use crate::runtime::{self, xasync_runtime};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xasync::JoinHandle;

/// A timer started by `xasync_timer_after` or `xasync_timer_every`.
/// Release it exactly once with `xasync_timer_cancel` (also after a
/// one-shot timer fired).
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_timer {
    /// The handle's id (see the crate documentation); 0 is never issued.
    pub id: u64,
}

/// A callback: receives the `user_data` given with it. It runs in a
/// coroutine of the runtime, may call any function of the library, and
/// must not unwind (catch C++ exceptions inside) or `longjmp` out.
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
pub type xasync_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// What a timer's coroutine shares with its handle.
struct Shared {
    /// Set by `xasync_timer_cancel`: no more calls.
    cancelled: AtomicBool,
}

/// A timer as the table holds it.
struct Timer {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// The timers' handle table.
pub(crate) const TIMER: Kind = Kind::new(0x4D, "timer", "cancelled");
static TIMERS: Table<Timer> = Table::new(TIMER);

/// When a timer calls.
#[derive(Clone, Copy)]
enum Schedule {
    Once,
    Every(Duration),
}

/// The body of `xasync_timer_after` and `xasync_timer_every`.
///
/// # Safety
///
/// `callback` follows the rules of `xasync_callback`; `out` is NULL or
/// writable.
unsafe fn start(
    rt: xasync_runtime,
    delay: Duration,
    schedule: Schedule,
    callback: xasync_callback,
    user_data: *mut c_void,
    out: *mut xasync_timer,
) -> Result<()> {
    if !out.is_null() {
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(xasync_timer { id: 0 }) };
    }
    let callback = callback.ok_or_else(|| Error::null("callback"))?;
    let too_far = || {
        Error::new(
            XASYNC_ERR_INVALID_ARGUMENT,
            "the delay or period is too large",
        )
    };
    let first = Instant::now().checked_add(delay).ok_or_else(too_far)?;
    if let Schedule::Every(period) = schedule {
        if period.is_zero() {
            return Err(Error::new(
                XASYNC_ERR_INVALID_ARGUMENT,
                "the period must not be zero",
            ));
        }
        // Ticks are computed by adding periods: make sure they fit.
        first
            .checked_add(period.saturating_mul(2))
            .ok_or_else(too_far)?;
    }
    let (handle, runtime) = runtime::handle(rt)?;
    let shared = Arc::new(Shared {
        cancelled: AtomicBool::new(false),
    });
    let theirs = shared.clone();
    let user_data = Ptr::new(user_data);
    let task = handle.xasync(move || {
        let shared = theirs;
        let user_data = user_data.into_raw();
        let me = Running::coroutine(runtime, 0, Arc::as_ptr(&shared).cast());
        let mut ticks = match schedule {
            Schedule::Once => None,
            Schedule::Every(period) => Some(xasync::time::interval_at(first, period)),
        };
        loop {
            // A cancellation while waiting here unwinds this coroutine:
            // only Rust frames are on its stack now.
            match &mut ticks {
                Some(ticks) => drop(ticks.tick()),
                None => xasync::time::sleep_until(first),
            }
            if shared.cancelled.load(Ordering::Acquire) {
                return;
            }
            // SAFETY: a C callback taking `void *`, as the caller of
            // `start` promised, which does not unwind.
            coroutine::enter(&me, || unsafe { callback(user_data) });
            if ticks.is_none() || me.is_cancelled() || shared.cancelled.load(Ordering::Acquire) {
                return;
            }
        }
    });
    if out.is_null() {
        task.detach();
        return Ok(());
    }
    let id = TIMERS.insert(Timer { shared, task })?;
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { out.write(xasync_timer { id }) };
    Ok(())
}

/// Calls `callback(user_data)` once, `delay_ms` milliseconds from now, on
/// the runtime `rt` (`XASYNC_CURRENT_RUNTIME`: the caller's, else the
/// default runtime), and stores the timer's handle in `*out`. With `out`
/// NULL the timer is detached: it cannot be cancelled and releases itself.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`callback`),
/// `XASYNC_ERR_INVALID_ARGUMENT` (delay too large), runtime handle errors.
///
/// # Safety
///
/// `callback` is NULL or follows the rules of `xasync_callback`; `out` is
/// NULL or writable. The library never touches `user_data`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_timer_after(
    rt: xasync_runtime,
    delay_ms: u64,
    callback: xasync_callback,
    user_data: *mut c_void,
    out: *mut xasync_timer,
) -> xasync_status {
    status("xasync_timer_after", || {
        let delay = Duration::from_millis(delay_ms);
        // SAFETY: forwarded from our caller.
        unsafe { start(rt, delay, Schedule::Once, callback, user_data, out) }
    })
}

/// Calls `callback(user_data)` every `period_ms` milliseconds, the first
/// time `delay_ms` milliseconds from now, until cancelled; otherwise as
/// `xasync_timer_after`. Calls are never bunched: when a call is late (a
/// busy worker, a slow callback) the missed ones are skipped.
///
/// Errors: as `xasync_timer_after`, and `XASYNC_ERR_INVALID_ARGUMENT` for a
/// zero period.
///
/// # Safety
///
/// As `xasync_timer_after`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_timer_every(
    rt: xasync_runtime,
    delay_ms: u64,
    period_ms: u64,
    callback: xasync_callback,
    user_data: *mut c_void,
    out: *mut xasync_timer,
) -> xasync_status {
    status("xasync_timer_every", || {
        let delay = Duration::from_millis(delay_ms);
        let schedule = Schedule::Every(Duration::from_millis(period_ms));
        // SAFETY: forwarded from our caller.
        unsafe { start(rt, delay, schedule, callback, user_data, out) }
    })
}

/// Cancels the timer and releases its handle (the way to release a
/// one-shot timer that fired, too). When it returns `XASYNC_OK` the
/// callback is not running and will not be called again, so `user_data`
/// may be freed — except when called from the timer's own callback, where
/// it only prevents further calls. Waits for a running callback to return
/// (suspends a coroutine, blocks a thread).
///
/// Errors: `XASYNC_ERR_STALE_HANDLE` (cancelled already),
/// `XASYNC_ERR_INVALID_HANDLE`; `XASYNC_ERR_CANCELLED` (the caller is a
/// cancelled coroutine) and `XASYNC_ERR_BUSY` (the caller is an fd
/// callback) when the caller could not wait: the timer is cancelled and
/// released, but its callback may still be running.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_timer_cancel(timer: xasync_timer) -> xasync_status {
    status("xasync_timer_cancel", || {
        let Timer { shared, task } = TIMERS.remove(timer.id)?;
        shared.cancelled.store(true, Ordering::Release);
        task.cancel();
        let identity: *const () = Arc::as_ptr(&shared).cast();
        if coroutine::current(|c| c.is_some_and(|c| c.timer == identity)) {
            task.detach(); // our own coroutine: it stops after this call
            return Ok(());
        }
        // Finished, cancelled before it started, or unwound: all fine.
        coroutine::wait(|| drop(task.join()))
    })
}
