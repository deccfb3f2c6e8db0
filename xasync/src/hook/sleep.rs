//! Sleeps: `nanosleep`, `clock_nanosleep`, `usleep`, `sleep`. In a
//! coroutine they suspend it on its worker's timers (a zero duration
//! yields to the worker's other coroutines); a coroutine is never
//! interrupted by a signal, so they return 0 and leave the remainder alone
//! — unless the coroutine is cancelled while it sleeps: then they fail with
//! `ECANCELED` (see `wait::suspend`).

use super::real::call;
use super::wait;
use super::{coroutine, fail};
use libc::{c_int, c_uint, clockid_t, timespec, useconds_t};
use std::time::Duration;

/// How a coroutine's sleep went.
enum Slept {
    /// Not in a coroutine: the caller makes the real call.
    NotHere,
    /// The whole duration.
    Done,
    /// The coroutine was cancelled meanwhile.
    Cancelled,
}

/// Sleeps a coroutine for `duration`.
fn coroutine_sleep(duration: Duration) -> Slept {
    let Some(coroutine) = coroutine() else {
        return Slept::NotHere;
    };
    let slept = if duration.is_zero() {
        wait::suspend(coroutine, crate::yield_now_async())
    } else {
        wait::suspend(coroutine, crate::time::sleep_async(duration))
    };
    match slept {
        Some(()) => Slept::Done,
        None => Slept::Cancelled,
    }
}

/// A valid `timespec` as a duration (`None`: `EINVAL`).
fn duration_of(ts: &timespec) -> Option<Duration> {
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|&n| n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// The hooked `nanosleep(2)` (what `std::thread::sleep` calls).
///
/// # Safety
///
/// As `nanosleep(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if coroutine().is_none() || req.is_null() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { call::nanosleep(req, rem) };
    }
    // SAFETY: the caller's request, not null.
    match duration_of(unsafe { &*req }) {
        Some(duration) => match coroutine_sleep(duration) {
            Slept::Cancelled => fail(libc::ECANCELED),
            Slept::Done | Slept::NotHere => 0,
        },
        None => fail(libc::EINVAL),
    }
}

/// The hooked `clock_nanosleep(2)`: relative sleeps, and absolute ones
/// (`TIMER_ABSTIME`) measured on their clock. Returns the error number.
///
/// # Safety
///
/// As `clock_nanosleep(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let real = || unsafe { call::clock_nanosleep(clock, flags, req, rem) };
    if coroutine().is_none() || req.is_null() {
        return real();
    }
    // SAFETY: the caller's request, not null.
    let Some(mut duration) = duration_of(unsafe { &*req }) else {
        return libc::EINVAL;
    };
    if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec to fill.
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            // Not a clock to sleep on (a CPU-time clock): the kernel says.
            return real();
        }
        let now = duration_of(&now).unwrap_or_default();
        duration = duration.saturating_sub(now);
    }
    match coroutine_sleep(duration) {
        Slept::Cancelled => libc::ECANCELED,
        Slept::Done | Slept::NotHere => 0,
    }
}

/// The hooked `usleep(3)`.
///
/// # Safety
///
/// As `usleep(3)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usleep(usec: useconds_t) -> c_int {
    match coroutine_sleep(Duration::from_micros(usec.into())) {
        Slept::Done => 0,
        Slept::Cancelled => fail(libc::ECANCELED),
        // SAFETY: the caller's argument, passed on.
        Slept::NotHere => unsafe { call::usleep(usec) },
    }
}

/// The hooked `sleep(3)`.
///
/// # Safety
///
/// As `sleep(3)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    match coroutine_sleep(Duration::from_secs(seconds.into())) {
        Slept::Done => 0,
        // All of it is left, as far as the caller can tell.
        Slept::Cancelled => seconds,
        // SAFETY: the caller's argument, passed on.
        Slept::NotHere => unsafe { call::sleep(seconds) },
    }
}
