//! Time for the core: the [`Clock`] a host provides and a hierarchical
//! timing wheel.
//!
//! The core never reads a clock by itself. A host (the std crate, a kernel)
//! implements [`Clock`] over its monotonic time source and turns the
//! [`Duration`] it returns into integer **ticks** for a [`TimerWheel`]; the
//! wheel knows nothing about seconds. The std crate uses 1 tick = 1 ms.
//!
//! A host drives the wheel like this:
//!
//! 1. register a timer with [`TimerWheel::insert`] (a deadline in ticks) and
//!    keep the [`TimerKey`] to cancel it ([`TimerWheel::remove`]) or move it
//!    ([`TimerWheel::reset`]);
//! 2. sleep (park the thread, `wfi` in a kernel) until at most
//!    [`TimerWheel::next_deadline`], or until something else wakes it;
//! 3. read the clock, convert to ticks rounding **down**, and call
//!    [`TimerWheel::advance`], which hands over every timer whose deadline
//!    has passed, earliest first.
//!
//! Rounding the current time down and deadlines up means a timer never fires
//! before its [`Duration`] has elapsed.
//!
//! [`Duration`]: core::time::Duration

mod wheel;

pub use wheel::{TimerKey, TimerWheel};

/// A monotonic clock a host provides (std: `Instant`-based; a kernel: its
/// timer counter).
///
/// # Example
///
/// ```
/// use core::time::Duration;
/// use xasync_core::time::Clock;
///
/// /// A clock that only moves when told to, as in tests.
/// struct ManualClock(core::cell::Cell<Duration>);
///
/// impl Clock for ManualClock {
///     fn now(&self) -> Duration {
///         self.0.get()
///     }
/// }
///
/// let clock = ManualClock(core::cell::Cell::new(Duration::ZERO));
/// clock.0.set(Duration::from_millis(5));
/// assert_eq!(clock.now().as_millis(), 5);
/// ```
pub trait Clock {
    /// Time elapsed since the clock's arbitrary, fixed origin. Never
    /// decreases.
    fn now(&self) -> core::time::Duration;
}
