//! A loom model of the spin lock every sync primitive keeps its state
//! under, through a channel (the lock itself is private). Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p xasync-core --release --test loom_spin`.
//!
//! Loom sees every access to the locked state: two holders at once would
//! be reported as a data race, and a waiter that never got the lock back
//! (a lost release, a backoff that stops looking) as a deadlock. Two
//! threads only: with two waiters yielding to each other while a third
//! holds the lock, loom explores their endless alternation and gives up.
#![cfg(loom)]

use loom::thread;
use xasync_core::sync::channel;

#[test]
fn two_threads_take_turns_under_the_lock() {
    loom::model(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let theirs = tx.clone();
        let sender = thread::spawn(move || {
            theirs.try_send(1).expect("open channel");
            theirs.len()
        });
        // Each side takes the lock twice, once to write, once to read.
        tx.try_send(2).expect("open channel");
        let seen = rx.len();
        let seen_there = sender.join().unwrap();
        assert!((1..=2).contains(&seen) && (1..=2).contains(&seen_there));
        let mut got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}
