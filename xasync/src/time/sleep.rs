//! Sleeping until a deadline.

use crate::context::{self, Caller};
use crate::runtime::Handle;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits for `duration`: suspends a coroutine (its worker runs others),
/// blocks a plain thread. A zero duration returns at once; a duration too
/// large to represent sleeps forever.
///
/// # Panics
///
/// Inside `Future::poll`; use [`sleep_async`] there.
pub fn sleep(duration: Duration) {
    sleep_until_opt(Instant::now().checked_add(duration))
}

/// Waits until `deadline` (returns at once if it has passed).
///
/// # Panics
///
/// Inside `Future::poll`; use [`sleep_until_async`] there.
pub fn sleep_until(deadline: Instant) {
    sleep_until_opt(Some(deadline))
}

fn sleep_until_opt(deadline: Option<Instant>) {
    match context::caller() {
        Caller::Coroutine(coroutine) => {
            // Shown as sleeping in dumps meanwhile.
            let _sleeping = coroutine.node().sleeping(deadline);
            coroutine.wait(Sleep::new(deadline))
        }
        Caller::Polling => crate::wait::refuse_in_poll(),
        Caller::Thread => match deadline {
            Some(deadline) => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()))
            }
            None => loop {
                std::thread::park();
            },
        },
    }
}

/// A future that completes after `duration`.
pub fn sleep_async(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().checked_add(duration))
}

/// A future that completes at `deadline`.
pub fn sleep_until_async(deadline: Instant) -> Sleep {
    Sleep::new(Some(deadline))
}

/// The future of [`sleep_async`]: registers a timer on first poll, in the
/// wheel of the current worker (or of the default runtime's), and removes
/// it if dropped early.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// `None`: never.
    deadline: Option<Instant>,
    timer: Option<Registration>,
}

/// A timer registered in a worker's wheel.
struct Registration {
    handle: Handle,
    worker: usize,
    key: xasync_core::time::TimerKey,
}

impl Sleep {
    fn new(deadline: Option<Instant>) -> Sleep {
        Sleep {
            deadline,
            timer: None,
        }
    }

    /// The instant this sleep completes at (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Moves the deadline (the timer is re-registered on the next poll).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = Some(deadline);
    }

    fn cancel(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.handle.timers(timer.worker).remove(timer.key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.is_elapsed() {
            // The timer has fired, or fires within a tick (waking a task
            // that no longer waits, which is harmless): leave it to the
            // wheel rather than taking the wheel's lock to remove it.
            this.timer = None;
            return Poll::Ready(());
        }
        match &this.timer {
            Some(timer) => timer
                .handle
                .timers(timer.worker)
                .update(timer.key, cx.waker()),
            None => {
                let handle = Handle::current();
                let (worker, key) = handle.register_timer(this.deadline, cx.waker().clone());
                this.timer = Some(Registration {
                    handle,
                    worker,
                    key,
                });
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.timer.is_some())
            .finish()
    }
}
