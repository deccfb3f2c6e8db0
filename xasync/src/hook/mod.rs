//! Hooks (feature `hook`): the process's blocking libc calls suspend only
//! the calling coroutine. The functions here are defined with libc's names
//! (`read`, `connect`, `nanosleep`, ...) and unmangled, so the linker binds
//! the program's calls to them — Rust's `std` and every crate built on it,
//! and the C code linked with `xasync-ffi` — instead of libc's.
//!
//! In a coroutine, a call that would block waits in [`wait::wait`] (the
//! descriptor registered with the worker's reactor, the deadline in its
//! timers) and the worker runs other coroutines meanwhile. Everywhere else
//! (plain threads, `Future::poll`, async tasks, the runtime's own loop,
//! other runtimes' threads) each hook makes the real call ([`real`]) with
//! the same arguments, result and errno. docs/HOOKS.md lists what is
//! hooked, what is not, and why.

mod dns;
mod fds;
mod io;
mod poll;
mod real;
mod sleep;
mod sockets;
mod wait;

use libc::c_int;

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
