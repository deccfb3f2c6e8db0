//! Hooks (feature `hook`): the process's blocking libc calls suspend only
//! the calling coroutine. The functions here are defined with libc's names
//! (`read`, `connect`, `nanosleep`, ...) and unmangled, so the linker binds
//! the program's calls to them — Rust's `std` and every crate built on it,
//! and the C code linked with `xasync-ffi` — instead of libc's.
//!
//! In a coroutine, a call that would block waits in [`wait::wait`] (the
//! descriptor registered with the worker's reactor, the deadline in its
//! timers) — or, for a socket's receive or send on the io_uring backend,
//! is made in the worker's ring ([`wait::in_ring`]) — and the worker runs
//! other coroutines meanwhile. Everywhere else
//! (plain threads, `Future::poll`, async tasks, the runtime's own loop,
//! other runtimes' threads) each hook makes the real call ([`real`]) with
//! the same arguments, result and errno. docs/HOOKS.md lists what is
//! hooked, what is not, and why.

mod dns;
mod fds;
mod fortify;
mod io;
mod poll;
mod real;
mod sleep;
mod sockets;
mod wait;

use crate::context::{self, Caller, CoroutineCx};
use libc::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs when the program or library is loaded: a constructor in
/// `.init_array`, kept by `#[used]` (and linked, as the hooks are, with no
/// call from the user).
#[used]
#[unsafe(link_section = ".init_array")]
static AT_LOAD: extern "C" fn() = at_load;

extern "C" fn at_load() {
    real::resolve_all();
    // SAFETY: registers a handler with no state to run in fork's child.
    unsafe { libc::pthread_atfork(None, None, Some(forked)) };
}

/// Set in a process forked from this one: only the forking thread goes on
/// there, without the runtime's workers, so nothing can wait at the hooks
/// (not even the forking thread's coroutine) and every hook is the real
/// call; the descriptor table, whose locks other threads may have held at
/// the fork, is left alone.
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn forked() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Whether this is a process forked from the one that loaded the hooks.
fn is_forked() -> bool {
    FORKED.load(Ordering::Relaxed)
}

/// The coroutine calling a hook, if the caller is one.
#[inline(always)]
fn coroutine<'a>() -> Option<&'a CoroutineCx<'a>> {
    match context::caller() {
        Caller::Coroutine(coroutine) if !is_forked() => Some(coroutine),
        _ => None,
    }
}

/// The calling thread's errno.
fn errno() -> c_int {
    // SAFETY: `__errno_location` returns the thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
fn set_errno(value: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value };
}

/// Fails a call: sets errno to `value` and returns -1 (of the call's type).
fn fail<T: From<i8>>(value: c_int) -> T {
    set_errno(value);
    T::from(-1)
}
