//! Behaviour of `sync::{Notify, WaitGroup, Barrier}`.

mod sync_support;

use futures::executor::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use sync_support::{Counter, pending, ready, scaled};
use xasync_core::sync::{Barrier, Notify, WaitGroup};

#[test]
fn notify_one_before_wait_stores_one_permit() {
    let n = Notify::new();
    let c = Counter::new();
    n.notify_one();
    n.notify_one(); // permits do not add up
    ready(&c, &mut n.notified());
    pending(&c, &mut n.notified());
}

#[test]
fn notify_one_wakes_the_longest_waiting() {
    let n = Notify::new();
    let cs: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let mut fs: Vec<_> = (0..3).map(|_| n.notified()).collect();
    for (c, f) in cs.iter().zip(&mut fs) {
        pending(c, f);
    }
    n.notify_one();
    n.notify_one();
    assert_eq!(cs.iter().map(Counter::wakes).collect::<Vec<_>>(), [1, 1, 0]);
    ready(&cs[0], &mut fs[0]);
    ready(&cs[1], &mut fs[1]);
    pending(&cs[2], &mut fs[2]);
}

#[test]
fn notify_all_wakes_current_waiters_only_and_stores_nothing() {
    let n = Notify::new();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut polled = n.notified();
    pending(&c1, &mut polled);
    let mut created = n.notified(); // exists, never polled before the call
    n.notify_all();
    assert_eq!(c1.wakes(), 1);
    ready(&c1, &mut polled);
    ready(&c2, &mut created);
    let mut later = n.notified();
    pending(&c2, &mut later);
}

#[test]
fn a_cancelled_notified_passes_notify_one_on() {
    let n = Notify::new();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut f1 = n.notified();
    let mut f2 = n.notified();
    pending(&c1, &mut f1);
    pending(&c2, &mut f2);
    n.notify_one();
    drop(f1);
    assert_eq!(c2.wakes(), 1);
    ready(&c2, &mut f2);
    // And with nobody left, it becomes the stored permit.
    let mut f3 = n.notified();
    pending(&c1, &mut f3);
    n.notify_one();
    drop(f3);
    ready(&c1, &mut n.notified());
}

#[test]
fn a_cancelled_broadcast_waiter_does_not_pass_anything_on() {
    let n = Notify::new();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut f1 = n.notified();
    pending(&c1, &mut f1);
    n.notify_all();
    drop(f1);
    let mut f2 = n.notified();
    pending(&c2, &mut f2);
}

/// Runs `f` on a thread and fails if it does not finish in time (a lost
/// wakeup shows up as a hang).
fn within_10s(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        f();
        tx.send(()).unwrap();
    });
    match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(()) => t.join().unwrap(),
        Err(_) if t.is_finished() => t.join().unwrap(), // panicked
        Err(_) => panic!("timed out: a wakeup was lost"),
    }
}

#[test]
fn notify_ping_pong_across_threads_loses_no_notification() {
    within_10s(|| {
        let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let t = thread::spawn(move || {
            for _ in 0..scaled(10_000) {
                block_on(ping2.notified());
                pong2.notify_one();
            }
        });
        for _ in 0..scaled(10_000) {
            ping.notify_one();
            block_on(pong.notified());
        }
        t.join().unwrap();
    });
}

#[test]
fn wait_group_waits_for_the_count_to_reach_zero() {
    let wg = WaitGroup::new();
    let c = Counter::new();
    ready(&c, &mut wg.wait_async());
    wg.add(2);
    assert_eq!(wg.count(), 2);
    let mut w = wg.wait_async();
    pending(&c, &mut w);
    wg.done();
    assert_eq!(c.wakes(), 0);
    wg.done();
    assert_eq!(c.wakes(), 1);
    // Completes even if the count went up again before it was polled.
    wg.add(1);
    ready(&c, &mut w);
    pending(&c, &mut wg.wait_async());
}

#[test]
#[should_panic(expected = "WaitGroup::done called more times than WaitGroup::add counted")]
fn wait_group_done_below_zero_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
#[should_panic(expected = "WaitGroup::add: count overflow")]
fn wait_group_add_overflow_panics() {
    let wg = WaitGroup::new();
    wg.add(usize::MAX);
    wg.add(1);
}

#[test]
fn wait_group_across_threads() {
    let wg = Arc::new(WaitGroup::new());
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        wg.add(1);
        let (wg, finished) = (wg.clone(), finished.clone());
        thread::spawn(move || {
            finished.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let wg = wg.clone();
            thread::spawn(move || block_on(wg.wait_async()))
        })
        .collect();
    block_on(wg.wait_async());
    assert_eq!(finished.load(Ordering::SeqCst), 8);
    for w in waiters {
        w.join().unwrap();
    }
}

#[test]
fn barrier_releases_all_with_exactly_one_leader_and_is_reusable() {
    let b = Barrier::new(3);
    let cs: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    for _round in 0..3 {
        let mut f0 = b.wait_async();
        let mut f1 = b.wait_async();
        let mut f2 = b.wait_async();
        pending(&cs[0], &mut f0);
        pending(&cs[1], &mut f1);
        let last = ready(&cs[2], &mut f2);
        assert!(last.is_leader());
        assert!(!ready(&cs[0], &mut f0).is_leader());
        assert!(!ready(&cs[1], &mut f1).is_leader());
    }
}

#[test]
fn barrier_of_zero_or_one_never_waits() {
    let c = Counter::new();
    assert!(ready(&c, &mut Barrier::new(0).wait_async()).is_leader());
    let b = Barrier::new(1);
    assert!(ready(&c, &mut b.wait_async()).is_leader());
    assert!(ready(&c, &mut b.wait_async()).is_leader());
}

#[test]
fn barrier_a_cancelled_arrival_is_withdrawn() {
    let b = Barrier::new(2);
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut f1 = b.wait_async();
    pending(&c1, &mut f1);
    drop(f1);
    // The round still needs two arrivals.
    let mut f2 = b.wait_async();
    pending(&c2, &mut f2);
    let mut f3 = b.wait_async();
    assert!(ready(&c1, &mut f3).is_leader());
    assert!(!ready(&c2, &mut f2).is_leader());
}

#[test]
fn barrier_dropping_after_the_round_completed_changes_nothing() {
    let b = Barrier::new(2);
    let c = Counter::new();
    let mut f1 = b.wait_async();
    pending(&c, &mut f1);
    assert!(ready(&c, &mut b.wait_async()).is_leader());
    drop(f1); // released but never polled again
    let mut f2 = b.wait_async();
    pending(&c, &mut f2);
    assert!(ready(&c, &mut b.wait_async()).is_leader());
    ready(&c, &mut f2);
}

#[test]
fn barrier_across_threads_for_many_rounds() {
    let b = Arc::new(Barrier::new(4));
    let rounds = scaled(500);
    let leaders = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (b, leaders) = (b.clone(), leaders.clone());
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..rounds {
                        if b.wait_async().await.is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), rounds);
}

#[test]
fn types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Notify>();
    send_sync::<xasync_core::sync::Notified<'static>>();
    send_sync::<WaitGroup>();
    send_sync::<xasync_core::sync::WaitGroupWaitFut<'static>>();
    send_sync::<Barrier>();
    send_sync::<xasync_core::sync::BarrierWaitFut<'static>>();
}
