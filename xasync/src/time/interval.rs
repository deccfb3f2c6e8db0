//! Periodic ticks.

use super::sleep::{Sleep, sleep_until_async};
use crate::xawait;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Ticks every `period`, the first tick at once.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "an interval's period must not be zero");
    Interval {
        period,
        sleep: sleep_until_async(start),
    }
}

/// A periodic timer. Ticks that are missed (the caller was late) are
/// skipped, not bunched: the next tick is a whole period after the late one.
///
/// ```
/// use std::time::Duration;
/// let mut ticks = xasync::time::interval(Duration::from_millis(2));
/// let first = ticks.tick();
/// let second = ticks.tick();
/// assert!(second - first >= Duration::from_millis(2));
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick (suspends a coroutine, blocks a thread) and
    /// returns its scheduled instant.
    pub fn tick(&mut self) -> Instant {
        xawait(self.tick_async())
    }

    /// A future of the next tick.
    pub fn tick_async(&mut self) -> impl Future<Output = Instant> + '_ {
        poll_fn(|cx| self.poll_tick(cx))
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self
            .sleep
            .deadline()
            .expect("interval deadlines are finite");
        let now = Instant::now();
        let mut next = scheduled + self.period;
        if next <= now {
            // Late: skip the missed ticks.
            next = now + self.period;
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
