//! # xasync-ffi — the C ABI of xasync
//!
//! C (and C++, Zig, kernels written in C) can start plain functions as
//! stackful coroutines, wait for them, sleep and yield inside them,
//! exchange `void *` values over channels, and get timer and
//! file-descriptor callbacks. The header is `include/xasync.h`, generated
//! from this crate by `cbindgen`; link the static library
//! (`libxasync_ffi.a`, with `-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`)
//! or the shared one (`libxasync_ffi.so`).
//!
//! ```c
//! #include "xasync.h"
//!
//! static void *long_time_action(void *arg) {
//!     xasync_sleep_ms(50);           /* suspends the coroutine, not the thread */
//!     return arg;
//! }
//!
//! int main(void) {
//!     xasync_task frame = xasync(long_time_action, "done"); /* starts it */
//!     /* ... other work ... */
//!     const char *result = xawait(frame);                  /* waits here */
//!     return result == NULL;
//! }
//! ```
//!
//! ## Errors
//!
//! Every function that can fail returns an [`xasync_status`]: `XASYNC_OK`
//! (0) or a negative error code, and records a message, naming the
//! function, that [`xasync_last_error`] returns (per thread). The two
//! seed-shaped shortcuts report failure in their value: [`xasync()`] returns
//! the zero handle, [`xawait`] returns NULL (use [`xasync_await`] to tell a
//! failure from a NULL result).
//!
//! **No panic or unwind ever crosses the C boundary.** Every entry point
//! runs its body under `catch_unwind` and turns a panic into
//! `XASYNC_ERR_PANIC` (were one ever to escape, the `extern "C"` boundary
//! aborts the process rather than unwind into C). In the other direction,
//! the C functions and callbacks that the library calls **must not unwind
//! or `longjmp` out**: a C++ exception must be caught inside them.
//!
//! ## Handles and ownership
//!
//! Runtimes, tasks, channels, timers and fd watches are handed to C as
//! small structs holding a 64-bit id, never as pointers. Each id names a
//! slot in a table of its kind and carries a kind tag and the slot's
//! generation, so:
//!
//! * a handle is *released* exactly once — a runtime by
//!   [`xasync_runtime_destroy`], a task by [`xasync_await`]/[`xawait`] or
//!   [`xasync_task_detach`], a channel by [`xasync_channel_destroy`], a
//!   timer by [`xasync_timer_cancel`], a watch by [`xasync_fd_unwatch`], a
//!   fiber by [`xasync_fiber_destroy`] — and any later use, such as a
//!   double destroy or a second await, returns `XASYNC_ERR_STALE_HANDLE`;
//! * the zero handle, a forged id, or a handle of the wrong kind returns
//!   `XASYNC_ERR_INVALID_HANDLE`;
//! * an id is never reused for another object (a slot is retired after
//!   2^32 generations).
//!
//! Handles are plain values: copy them, pass them between threads, use
//! them concurrently. The `void *` values — a task's argument and result,
//! a channel's items, a callback's user data — are never dereferenced or
//! freed by the library (except that it calls the drop function given
//! with a task's failure, see [`xasync_task_fail`]): C owns what they point to and decides when it is
//! safe to hand it to another thread. A send that fails did not send (the
//! sender still owns the value); values still in a destroyed channel are
//! discarded. Strings passed in are copied; the string of
//! [`xasync_last_error`] belongs to the library.
//!
//! ## Threads and coroutines
//!
//! Every function may be called from any thread: a plain thread, a
//! coroutine started by [`xasync()`]/[`xasync_spawn`], a timer callback
//! (which runs in a coroutine too) or an fd callback (which runs on the
//! event loop and must not wait, see below). The *waiting* functions —
//! [`xawait`], [`xasync_await`], [`xasync_sleep_ms`], [`xasync_yield`],
//! [`xasync_channel_send`]/`_recv` and their `_timeout` forms, and
//! [`xasync_timer_cancel`] — suspend a coroutine (its worker thread runs
//! other coroutines meanwhile) and block a plain thread.
//!
//! * A coroutine may start on any worker of its runtime; once started it
//!   stays on that worker's thread, so its thread-local variables do not
//!   change under it. They are shared with the other coroutines of the
//!   worker, though: read `errno` or [`xasync_last_error`] before the next
//!   waiting call.
//! * On a plain thread, the `_timeout` forms wait by parking the thread;
//!   they need no runtime.
//! * A coroutine suspends only in the library's waiting functions. Do not
//!   block a worker thread for long in C (blocking I/O, `sleep`,
//!   `pthread_join`): every coroutine of that worker waits too; do it on a
//!   thread of your own.
//! * On x86_64 each coroutine has its own floating-point control state
//!   (MXCSR and the x87 control word: rounding mode, exception masks,
//!   flush-to-zero), switched with it (the core's `fp-env` feature, which
//!   this crate turns on): a rounding mode set with `fesetround` stays with
//!   the coroutine that set it, and a new coroutine starts with the
//!   default. On aarch64 and riscv64 the coroutines of a worker share it:
//!   restore what you change before a waiting call. An fd callback, which
//!   runs on the event loop, must restore it before returning.
//! * A coroutine cannot await its own task: [`xasync_await`] returns
//!   `XASYNC_ERR_DEADLOCK` (and the handle stays valid) instead of waiting
//!   forever. Longer cycles (A awaits B while B awaits A) are not detected.
//! * Each coroutine has its own stack, 64 KiB by default
//!   ([`xasync_runtime_config`]`.stack_size`); an overflow hits a guard page
//!   and the process aborts with a report naming the coroutine.
//!
//! ## Cancellation
//!
//! A task is cancelled by [`xasync_task_cancel`], a timer's coroutine by
//! [`xasync_timer_cancel`], and both by destroying their runtime. One that
//! has not started never runs. One suspended in a waiting function is not
//! unwound (unwinding cannot cross C frames): the waiting function returns
//! `XASYNC_ERR_CANCELLED`, and so does every later waiting call in that
//! coroutine, at once. The C function should then release what it holds and
//! return; its result is discarded, and awaiting the task gives
//! `XASYNC_ERR_CANCELLED`. Non-waiting functions keep working meanwhile.
//!
//! ## Runtimes
//!
//! [`xasync_runtime_create`] starts worker threads; [`xasync_runtime_destroy`]
//! cancels what is left on them and joins them. Functions that take a
//! runtime accept [`XASYNC_CURRENT_RUNTIME`] (the zero handle): the runtime
//! of the calling coroutine or callback, else the *default runtime*, which
//! is started on first use (with `XASYNC_WORKERS` workers, else one per
//! CPU) and lives until the process exits.
//!
//! ## Callbacks
//!
//! The seed's event mechanism has two kinds of callback, each a C function
//! with a `void *user_data`:
//!
//! * **Timers** ([`xasync_timer_after`], [`xasync_timer_every`]): each timer
//!   is a coroutine that sleeps in the timing wheel and calls its callback,
//!   so a timer callback may wait like any coroutine (a callback that waits
//!   delays the timer's next call).
//! * **File-descriptor readiness** ([`xasync_fd_watch`]): the callback runs
//!   on the event loop of a worker (its epoll reactor, from
//!   [`xasync::io::callback`]), between tasks, each time the descriptor
//!   *becomes* ready (edge-triggered). It must be short and must not block;
//!   the waiting functions fail there with `XASYNC_ERR_BUSY` — start a
//!   coroutine for work that waits.
//!
//! Releasing either ([`xasync_timer_cancel`], [`xasync_fd_unwatch`]) returns
//! once the callback is not running and never will again, so its user data
//! may then be freed — except when called from the callback itself, or (for
//! a watch) from any fd callback, which only prevents further calls.
#![cfg(unix)]

// In the order of the header: errors, runtimes, tasks, channels, timers,
// fd watches, fibers.
mod error;

mod runtime;

mod task;

mod channel;

mod timer;

mod fd;

mod fiber;

// Internals.
mod coroutine;
mod table;

pub use channel::{
    xasync_channel, xasync_channel_bounded, xasync_channel_close, xasync_channel_destroy,
    xasync_channel_len, xasync_channel_recv, xasync_channel_recv_timeout, xasync_channel_send,
    xasync_channel_send_timeout, xasync_channel_try_recv, xasync_channel_try_send,
    xasync_channel_unbounded,
};
pub use error::{xasync_last_error, xasync_last_error_code, xasync_status, xasync_status_name};
pub use runtime::{
    XASYNC_CURRENT_RUNTIME, xasync_dump, xasync_runtime, xasync_runtime_config,
    xasync_runtime_config_init, xasync_runtime_create, xasync_runtime_destroy,
    xasync_runtime_destroy_timeout,
};
pub use task::{
    xasync, xasync_await, xasync_drop_fn, xasync_fn, xasync_sleep_ms, xasync_spawn, xasync_task,
    xasync_task_cancel, xasync_task_detach, xasync_task_fail, xasync_task_is_finished,
    xasync_yield, xawait,
};
pub use timer::{
    xasync_callback, xasync_timer, xasync_timer_after, xasync_timer_cancel, xasync_timer_every,
};

pub use fiber::{
    xasync_fiber, xasync_fiber_destroy, xasync_fiber_fn, xasync_fiber_group_create,
    xasync_fiber_is_finished, xasync_fiber_resume_from, xasync_fiber_spawn,
};

pub use fd::{
    XASYNC_ERROR, XASYNC_READ_CLOSED, XASYNC_READABLE, XASYNC_WRITABLE, XASYNC_WRITE_CLOSED,
    xasync_fd_callback, xasync_fd_unwatch, xasync_fd_watch, xasync_watch,
};
