//! The event loop: each worker's epoll reactor, the callbacks registered
//! with it, and the waiting that [`crate::net`] builds on.
//!
//! Every worker thread parks in its own epoll instance (through `mio`)
//! with its earliest timer deadline as timeout, so an idle runtime sleeps
//! in `epoll_wait` and costs no CPU; readiness wakes the task waiting for
//! it. Sockets register lazily, on their first wait, with the reactor of
//! the worker that waits. See `reactor.rs` for the choice of `mio` and of
//! one reactor per worker.
//!
//! With the io_uring backend ([`IoBackend`]; the default where the kernel
//! allows it) the worker parks in its own ring instead, which watches the
//! epoll instance, and a coroutine's socket and file reads and writes are
//! ring operations on the coroutine's own buffer (see `uring.rs` for why
//! that is sound). Futures keep waiting for readiness on both backends.
//!
//! * [`callback`]: the seed's event-response mechanism — a function called
//!   on the loop when a file descriptor becomes ready or a timer expires.
//! * [`AsyncRead`], [`AsyncWrite`], [`AsyncBufRead`], [`AsyncSeek`]: the
//!   `futures-io` traits that the sockets and files implement for async
//!   code (re-exported; in a coroutine, use `std::io::Read`/`Write`).

mod backend;
pub mod callback;
pub(crate) mod entry;
pub(crate) mod exact;
pub(crate) mod pollable;
pub(crate) mod reactor;
pub(crate) mod registration;
pub(crate) mod uring;
mod waiters;

pub use backend::IoBackend;

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
