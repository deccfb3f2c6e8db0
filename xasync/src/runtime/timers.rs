//! A worker's timers: a timing wheel of wakers (1 tick = 1 ms since the
//! runtime started) behind a lock that is almost always uncontended — the
//! worker fires it, and timers are registered by the code running on it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};
use xasync_core::time::{TimerKey, TimerWheel};

/// "No timer pending" for [`Timers::next`].
const NONE: u64 = u64::MAX;

/// One worker's timers.
pub(crate) struct Timers {
    wheel: Mutex<TimerWheel<Waker>>,
    /// The earliest tick the wheel may need firing at (a lower bound), or
    /// `NONE`: lets the worker skip the lock when nothing is due.
    next: AtomicU64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            wheel: Mutex::new(TimerWheel::new()),
            next: AtomicU64::new(NONE),
        }
    }
}

impl Timers {
    fn lock(&self) -> std::sync::MutexGuard<'_, TimerWheel<Waker>> {
        self.wheel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `waker` for tick `deadline`; returns its key and whether
    /// the worker must wake earlier than it planned (it may be parked until
    /// the previous [`next_tick`](Self::next_tick)).
    pub(crate) fn insert(&self, deadline: u64, waker: Waker) -> (TimerKey, bool) {
        let mut wheel = self.lock();
        let key = wheel.insert(deadline, waker);
        let before = self.next.load(Ordering::Acquire);
        let earlier = self.refresh(&wheel) < before;
        (key, earlier)
    }

    /// Replaces the waker of a pending timer.
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) {
        let mut wheel = self.lock();
        if let Some(slot) = wheel.get_mut(key).filter(|slot| !slot.will_wake(waker)) {
            *slot = waker.clone();
        }
    }

    /// Cancels a timer (no-op if it already fired).
    pub(crate) fn remove(&self, key: TimerKey) {
        let removed = {
            let mut wheel = self.lock();
            let removed = wheel.remove(key);
            self.refresh(&wheel);
            removed
        };
        drop(removed); // the waker, outside the lock
    }

    /// Fires the timers due at `now` (a tick), waking them outside the lock.
    pub(crate) fn fire(&self, now: u64) {
        if now < self.next.load(Ordering::Acquire) {
            return;
        }
        let mut due = Vec::new();
        {
            let mut wheel = self.lock();
            wheel.advance(now, |_, waker| due.push(waker));
            self.refresh(&wheel);
        }
        for waker in due {
            waker.wake();
        }
    }

    /// Drops every pending timer (at exit: a timer whose sleep completed
    /// before it fired still holds its task's waker, which holds the
    /// runtime).
    pub(crate) fn clear(&self) {
        let wheel = {
            let mut wheel = self.lock();
            let pending = std::mem::take(&mut *wheel);
            self.refresh(&wheel);
            pending
        };
        drop(wheel); // the wakers, outside the lock
    }

    /// The earliest tick to wake up at, if any timer is pending.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        let next = self.next.load(Ordering::Acquire);
        (next != NONE).then_some(next)
    }

    /// Publishes the wheel's next deadline; returns it.
    fn refresh(&self, wheel: &TimerWheel<Waker>) -> u64 {
        let next = wheel.next_deadline().unwrap_or(NONE);
        self.next.store(next, Ordering::Release);
        next
    }
}

/// The runtime's monotonic clock (the core's [`Clock`](xasync_core::time::Clock)
/// over `Instant`, from the runtime's start), and the conversions between
/// instants and ticks of its timing wheels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: Instant,
}

impl xasync_core::time::Clock for Clock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// One tick.
const TICK: Duration = Duration::from_millis(1);

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The current tick, rounded down.
    pub(crate) fn now_tick(&self) -> u64 {
        let elapsed = xasync_core::time::Clock::now(self);
        u64::try_from(elapsed.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The first tick at or after `deadline` (so firing at it is never
    /// early); `u64::MAX` for "never".
    pub(crate) fn tick_of(&self, deadline: Option<Instant>) -> u64 {
        match deadline {
            None => u64::MAX,
            Some(at) => {
                let nanos = at.saturating_duration_since(self.start).as_nanos();
                u64::try_from(nanos.div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX)
            }
        }
    }

    /// The instant of a tick, for a park timeout.
    pub(crate) fn instant_of(&self, tick: u64) -> Option<Instant> {
        self.start
            .checked_add(TICK.checked_mul(u32::try_from(tick).ok()?)?)
    }
}
