//! Timers of an executor: a [`TimerWheel`] of wakers in ticks of the
//! executor's resolution, and the [`Sleep`] future.
//!
//! The wheel sits behind a spin lock taken with interrupts disabled (the
//! platform's [`InterruptGuard`](super::InterruptGuard)): a task of any
//! executor may register a timer here, and the lock is never held while a
//! waker runs. Interrupt handlers never touch the wheel — the timer
//! interrupt only ends the executor's [`Idle::idle`](super::Idle::idle),
//! and the executor fires due timers itself, in deadline order.

use super::{Platform, Shared};
use crate::time::{TimerKey, TimerWheel};
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// The timer state of one executor, behind [`Shared::timers`].
pub(crate) struct Timers {
    /// Wakers by deadline tick.
    pub(crate) wheel: TimerWheel<Waker>,
    /// The tick the executor's alarm was last set for when it went idle
    /// (`u64::MAX`: none). A timer registered from another CPU with an
    /// earlier deadline kicks the executor, so that it sets an earlier
    /// alarm.
    pub(crate) armed: u64,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            wheel: TimerWheel::new(),
            armed: u64::MAX,
        }
    }
}

/// A future that completes when the executor's clock reaches a deadline.
/// Created by [`Spawner::sleep`](super::Spawner::sleep) and friends.
///
/// The timer is registered on the first poll and removed if the future is
/// dropped first. It never completes early: deadlines round up to the
/// executor's tick, the current time rounds down. It completes on the first
/// poll after its deadline, in deadline order with the other timers of its
/// executor.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep<P: Platform> {
    shared: Arc<Shared<P>>,
    /// In ticks; `u64::MAX` is never (in practice).
    deadline: u64,
    key: Option<TimerKey>,
}

impl<P: Platform> Sleep<P> {
    pub(crate) fn new(shared: Arc<Shared<P>>, deadline: u64) -> Self {
        Sleep {
            shared,
            deadline,
            key: None,
        }
    }

    /// When the sleep ends, on the executor's clock (rounded up to its
    /// tick).
    pub fn deadline(&self) -> core::time::Duration {
        self.shared.tick_time(self.deadline)
    }
}

impl<P: Platform> Future for Sleep<P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Sleep {
            shared,
            deadline,
            key,
        } = self.get_mut();
        let mut replaced = None;
        let mut kick = false;
        let ready = shared.with_timers(|timers| match *key {
            // A key goes stale when its timer fires (we never remove it
            // while we hold it), so a stale key means the sleep is over.
            Some(k) => match timers.wheel.get_mut(k) {
                None => true,
                Some(waker) => {
                    if !waker.will_wake(cx.waker()) {
                        replaced = Some(core::mem::replace(waker, cx.waker().clone()));
                    }
                    false
                }
            },
            None => {
                if shared.now_tick() >= *deadline {
                    return true;
                }
                *key = Some(timers.wheel.insert(*deadline, cx.waker().clone()));
                kick = *deadline < timers.armed;
                false
            }
        });
        // Dropped outside the lock: a waker's drop may run anything.
        drop(replaced);
        if ready {
            *key = None;
            return Poll::Ready(());
        }
        if kick {
            shared.kick();
        }
        Poll::Pending
    }
}

impl<P: Platform> Drop for Sleep<P> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.shared.with_timers(|timers| timers.wheel.remove(key));
            drop(waker);
        }
    }
}

impl<P: Platform> fmt::Debug for Sleep<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("registered", &self.key.is_some())
            .finish()
    }
}
