//! Time: sleeping, deadlines, timeouts and intervals.
//!
//! Naming rule: the plain name waits — it suspends a coroutine or blocks a
//! thread — and the `_async` name returns a future:
//! [`sleep()`] / [`sleep_async`], [`sleep_until`] / [`sleep_until_async`],
//! [`timeout()`] / [`timeout_async`], [`Interval::tick`] / [`Interval::tick_async`].
//!
//! Timers live in the timing wheel of the worker that registers them
//! (1 ms resolution; a timer never fires early). No system call and no
//! allocation is made per timer in the steady state.
//!
//! ```
//! use std::time::{Duration, Instant};
//! let h = xasync::xasync(|| {
//!     let start = Instant::now();
//!     xasync::time::sleep(Duration::from_millis(10)); // suspends the coroutine
//!     start.elapsed()
//! });
//! assert!(xasync::xawait(h) >= Duration::from_millis(10));
//! ```

mod interval;
mod sleep;
mod timeout;

pub use interval::{Interval, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_async, sleep_until, sleep_until_async};
pub use timeout::{Elapsed, Timeout, timeout, timeout_async};
