//! The list of parked workers, through which queued work wakes one of
//! them.
//!
//! # The handshake
//!
//! A worker going to sleep lists itself, then looks for work once more
//! before it parks; whoever queues work for any worker then looks for a
//! listed worker to wake. Each side stores (its entry in the list; the
//! work), fences, then loads (the queues; the list's count): a
//! store-buffering pattern, in which the two `SeqCst` fences keep the two
//! loads from both missing the other side's store. So either the producer sees the
//! sleeper and unparks it, or the sleeper sees the work and does not park:
//! work is never left queued while every worker sleeps. (A worker it
//! unparks that was not asleep yet returns from its next park at once; see
//! `park`.)

use crate::loom::{AtomicUsize, Mutex, MutexGuard, Ordering, fence};

/// The parked workers of one runtime.
pub(crate) struct Sleepers {
    /// Indices of the parked workers, each at most once.
    list: Mutex<Vec<usize>>,
    /// `list.len()`, stored under the lock, read without it.
    count: AtomicUsize,
}

impl Sleepers {
    /// An empty list for a runtime of `workers` workers.
    pub(crate) fn new(workers: usize) -> Sleepers {
        Sleepers {
            list: Mutex::new(Vec::with_capacity(workers)),
            count: AtomicUsize::new(0),
        }
    }

    /// Whether some worker is parked (a hint: a busy worker checks it to
    /// share its work).
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Parks worker `index`, listed as asleep, with `park` — unless
    /// `has_work`, called after the listing, finds work queued (see the
    /// module docs). Returns whether it parked; either way the worker is no
    /// longer listed when this returns.
    pub(crate) fn sleep(
        &self,
        index: usize,
        has_work: impl FnOnce() -> bool,
        park: impl FnOnce(),
    ) -> bool {
        self.to_sleep(index);
        // Against `notify_one`: either it sees us listed, or we see its
        // work.
        fence(Ordering::SeqCst);
        let parked = !has_work();
        if parked {
            park();
        }
        self.awake(index);
        parked
    }

    /// Takes a parked worker off the list, if there is one: the worker to
    /// unpark for the work the caller just queued.
    pub(crate) fn notify_one(&self) -> Option<usize> {
        // Against a worker going to sleep (`sleep`): our work is visible to
        // it, or its entry in the list to us.
        fence(Ordering::SeqCst);
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut list = self.lock();
        let woken = list.pop();
        self.count.store(list.len(), Ordering::Release);
        woken
    }

    /// Lists worker `index` as asleep.
    fn to_sleep(&self, index: usize) {
        let mut list = self.lock();
        if !list.contains(&index) {
            list.push(index);
        }
        self.count.store(list.len(), Ordering::Release);
    }

    /// Takes worker `index` off the list (if `notify_one` has not).
    fn awake(&self, index: usize) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut list = self.lock();
        list.retain(|&i| i != index);
        self.count.store(list.len(), Ordering::Release);
    }

    /// The list, even if a panic poisoned its lock (no operation leaves it
    /// inconsistent).
    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}
