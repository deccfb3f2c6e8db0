//! Models of parking: an `unpark` is never lost, whether it comes before
//! the park, during it, between a sleep cut short and the next park, or at
//! the same time as another `unpark`; and it writes the eventfd only for a
//! worker that announced a sleep.

use super::Parker;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

/// Parks until `flag` is set, as a worker parks until it finds work.
fn park_until(parker: &Parker, flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        parker.park();
    }
}

/// Sets `flag`, then unparks, as a producer queues work and wakes the
/// worker.
fn set_and_unpark(parker: &Parker, flag: &AtomicBool) {
    flag.store(true, Ordering::Release);
    parker.unpark();
}

#[test]
fn an_unpark_before_the_park_makes_it_return_at_once() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let unparker = parker.clone();
        thread::spawn(move || unparker.unpark()).join().unwrap();
        parker.park();
        // The worker was running: the unpark cost no system call.
        assert_eq!(parker.eventfd.writes(), 0);
    });
}

#[test]
fn an_unpark_during_the_park_wakes_it() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (unparker, flag2) = (parker.clone(), flag.clone());
        let producer = thread::spawn(move || set_and_unpark(&unparker, &flag2));
        park_until(&parker, &flag);
        producer.join().unwrap();
        assert!(parker.eventfd.writes() <= parker.sleeps.load(Ordering::Relaxed));
    });
}

#[test]
fn an_unpark_after_a_sleep_cut_short_wakes_the_next_park() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (unparker, flag2) = (parker.clone(), flag.clone());
        let producer = thread::spawn(move || set_and_unpark(&unparker, &flag2));
        // A timer or a socket ends the first sleep, perhaps just before the
        // unpark writes the eventfd.
        parker.park_cut_short();
        park_until(&parker, &flag);
        producer.join().unwrap();
    });
}

#[test]
fn concurrent_unparks_are_both_seen() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let flags = [(); 2].map(|()| Arc::new(AtomicBool::new(false)));
        let producers = flags.clone().map(|flag| {
            let unparker = parker.clone();
            thread::spawn(move || set_and_unpark(&unparker, &flag))
        });
        for flag in &flags {
            park_until(&parker, flag);
        }
        for producer in producers {
            producer.join().unwrap();
        }
        // At most one write per announced sleep: the second unpark of a
        // sleep finds it notified already.
        assert!(parker.eventfd.writes() <= parker.sleeps.load(Ordering::Relaxed));
    });
}
