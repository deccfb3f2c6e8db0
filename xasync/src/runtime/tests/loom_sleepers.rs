//! Models of the sleeping-worker list: two workers take work, and go to
//! sleep through [`Sleepers::sleep`] and park when they find none, while
//! one or two producers queue work and wake a worker through
//! [`Sleepers::notify_one`], as `Shared::schedule` does.
//!
//! The workers exit once every item was taken (whoever takes the last one
//! unparks the others, as shutdown does), so a model that ends took every
//! item; a wake-up lost by the handshake leaves both workers parked while
//! an item is queued, which loom reports as a deadlock.

use super::Parker;
use crate::runtime::sleepers::Sleepers;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

const WORKERS: usize = 2;

/// The workers' shared state, with a queue of items that are only counted.
struct Model {
    sleepers: Sleepers,
    parkers: [Parker; WORKERS],
    /// Items queued so far.
    queued: AtomicUsize,
    /// Items taken so far.
    taken: AtomicUsize,
    /// Items the producers queue in all.
    items: usize,
}

impl Model {
    fn new(items: usize) -> Arc<Model> {
        Arc::new(Model {
            sleepers: Sleepers::new(WORKERS),
            parkers: [(); WORKERS].map(|()| Parker::new()),
            queued: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            items,
        })
    }

    /// Queues an item and wakes a parked worker for it, if there is one.
    fn produce(&self) {
        // A release, as pushing on crossbeam's queues is.
        self.queued.fetch_add(1, Ordering::Release);
        if let Some(index) = self.sleepers.notify_one() {
            self.parkers[index].unpark();
        }
    }

    /// Whether an item is queued (the worker's `has_work`).
    fn has_work(&self) -> bool {
        self.taken.load(Ordering::Acquire) < self.queued.load(Ordering::Acquire)
    }

    /// Takes a queued item, if there is one; returns how many were taken
    /// with it.
    fn take(&self) -> Option<usize> {
        let mut taken = self.taken.load(Ordering::Acquire);
        loop {
            if taken >= self.queued.load(Ordering::Acquire) {
                return None;
            }
            match self
                .taken
                .compare_exchange(taken, taken + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(taken + 1),
                Err(now) => taken = now,
            }
        }
    }

    /// Worker `index`'s loop, the outline of `worker::Local::run_loop`.
    fn work(&self, index: usize) {
        loop {
            if let Some(taken) = self.take() {
                if taken == self.items {
                    // Done: the others may exit (as shutdown wakes all).
                    for (other, parker) in self.parkers.iter().enumerate() {
                        if other != index {
                            parker.unpark();
                        }
                    }
                }
                continue;
            }
            if self.taken.load(Ordering::Acquire) == self.items {
                return;
            }
            self.sleepers
                .sleep(index, || self.has_work(), || self.parkers[index].park());
        }
    }
}

/// Runs the workers while `producers` threads (this one among them) queue
/// an item each.
fn run(producers: usize) {
    let model = Model::new(producers);
    let workers: Vec<_> = (0..WORKERS)
        .map(|index| {
            let model = model.clone();
            thread::spawn(move || model.work(index))
        })
        .collect();
    let others: Vec<_> = (1..producers)
        .map(|_| {
            let model = model.clone();
            thread::spawn(move || model.produce())
        })
        .collect();
    model.produce();
    for thread in others.into_iter().chain(workers) {
        thread.join().unwrap();
    }
    assert_eq!(model.taken.load(Ordering::Relaxed), producers);
}

#[test]
fn two_workers_take_the_work_of_one_producer() {
    loom::model(|| run(1));
}

#[test]
fn two_workers_take_the_work_of_two_producers() {
    loom::model(|| run(2));
}
