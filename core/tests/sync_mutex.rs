//! Behaviour of `sync::{Mutex, RwLock, Condvar}`.

mod sync_support;

use futures::executor::block_on;
use std::sync::Arc;
use std::thread;
use sync_support::{Counter, pending, ready, scaled};
use xasync_core::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[test]
fn try_lock_fails_while_locked() {
    let m = Mutex::new(1);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_none());
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
    drop(g);
    assert_eq!(format!("{m:?}"), "Mutex { data: 1, .. }");
    assert!(m.try_lock().is_some());
}

#[test]
fn get_mut_into_inner_and_unsized_values() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(m.into_inner(), [1, 2]);
    let m: &Mutex<[u8]> = &Mutex::new([1, 2, 3]);
    block_on(m.lock_async())[0] = 9;
    assert_eq!(&*m.try_lock().unwrap(), &[9, 2, 3]);
}

#[test]
fn into_inner_drops_nothing_twice() {
    let token = Arc::new(());
    let m = Mutex::new(token.clone());
    let inner = m.into_inner();
    assert_eq!(Arc::strong_count(&token), 2);
    drop(inner);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn unlock_hands_the_lock_to_waiters_in_fifo_order() {
    let m = Mutex::new(Vec::new());
    let counters: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let g = m.try_lock().unwrap();
    let mut futs: Vec<_> = (0..3).map(|_| m.lock_async()).collect();
    for (c, f) in counters.iter().zip(&mut futs) {
        pending(c, f);
    }
    drop(g);
    assert_eq!(
        counters.iter().map(Counter::wakes).collect::<Vec<_>>(),
        [1, 0, 0]
    );
    // Handed over: a newcomer cannot barge in.
    assert!(m.try_lock().is_none());
    for (i, (c, f)) in counters.iter().zip(&mut futs).enumerate() {
        let mut g = ready(c, f);
        g.push(i);
        drop(g);
    }
    assert_eq!(*m.try_lock().unwrap(), [0, 1, 2]);
}

#[test]
fn a_dropped_waiter_passes_a_handed_over_lock_on() {
    let m = Mutex::new(());
    let (c1, c2) = (Counter::new(), Counter::new());
    let g = m.try_lock().unwrap();
    let mut f1 = m.lock_async();
    let mut f2 = m.lock_async();
    pending(&c1, &mut f1);
    pending(&c2, &mut f2);
    drop(g); // handed to f1
    assert_eq!(c1.wakes(), 1);
    drop(f1); // cancelled while owning the lock: pass it on
    assert_eq!(c2.wakes(), 1);
    let _g2 = ready(&c2, &mut f2);
}

#[test]
fn a_dropped_waiter_in_the_middle_is_skipped() {
    let m = Mutex::new(());
    let cs: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let g = m.try_lock().unwrap();
    let mut f0 = m.lock_async();
    let mut f1 = m.lock_async();
    let mut f2 = m.lock_async();
    pending(&cs[0], &mut f0);
    pending(&cs[1], &mut f1);
    pending(&cs[2], &mut f2);
    drop(f1);
    drop(g);
    drop(ready(&cs[0], &mut f0));
    assert_eq!(cs[2].wakes(), 1);
    drop(ready(&cs[2], &mut f2));
    assert!(m.try_lock().is_some());
}

#[test]
fn mutex_counter_is_exact_under_contention() {
    let m = Arc::new(Mutex::new(0u64));
    let each = scaled(10_000);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                block_on(async {
                    for i in 0..each {
                        if i % 4 == 0
                            && let Some(mut g) = m.try_lock()
                        {
                            *g += 1;
                            continue;
                        }
                        *m.lock_async().await += 1;
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 4 * each as u64);
}

#[test]
fn a_guard_can_move_to_another_thread() {
    let m = Arc::new(Mutex::new(0));
    let g = block_on(m.lock_async());
    let m2 = m.clone();
    thread::scope(|s| {
        s.spawn(move || {
            let mut g = g;
            *g += 1;
        });
    });
    assert_eq!(*block_on(m2.lock_async()), 1);
}

#[test]
fn send_and_sync_bounds() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Mutex<std::cell::Cell<u8>>>();
    sync::<Mutex<std::cell::Cell<u8>>>(); // T: Send suffices
    send::<MutexGuard<'static, std::cell::Cell<u8>>>();
    send::<xasync_core::sync::MutexLockFut<'static, String>>();
    sync::<RwLock<String>>();
    send::<RwLockReadGuard<'static, String>>();
    send::<RwLockWriteGuard<'static, String>>();
    send::<xasync_core::sync::CondvarWaitFut<'static, 'static, String>>();
}

#[test]
fn rwlock_allows_many_readers_or_one_writer() {
    let l = RwLock::new(1);
    let r1 = l.try_read().unwrap();
    let r2 = l.try_read().unwrap();
    assert!(l.try_write().is_none());
    assert_eq!(*r1 + *r2, 2);
    drop((r1, r2));
    let mut w = l.try_write().unwrap();
    *w = 5;
    assert!(l.try_read().is_none());
    assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, .. }");
    drop(w);
    assert_eq!(l.into_inner(), 5);
}

#[test]
fn a_waiting_writer_is_not_starved_by_later_readers() {
    let l = RwLock::new(0);
    let (cw, cr) = (Counter::new(), Counter::new());
    let r = l.try_read().unwrap();
    let mut w = l.write_async();
    pending(&cw, &mut w);
    // Readers that come after the writer wait behind it.
    assert!(l.try_read().is_none());
    let mut r2 = l.read_async();
    pending(&cr, &mut r2);
    drop(r);
    assert_eq!((cw.wakes(), cr.wakes()), (1, 0));
    let mut g = ready(&cw, &mut w);
    *g = 1;
    drop(g);
    assert_eq!(cr.wakes(), 1);
    assert_eq!(*ready(&cr, &mut r2), 1);
}

#[test]
fn readers_queued_behind_a_writer_get_in_together() {
    let l = RwLock::new(());
    let w = l.try_write().unwrap();
    let cs: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let mut rs: Vec<_> = (0..3).map(|_| l.read_async()).collect();
    for (c, r) in cs.iter().zip(&mut rs) {
        pending(c, r);
    }
    drop(w);
    let guards: Vec<_> = cs.iter().zip(&mut rs).map(|(c, r)| ready(c, r)).collect();
    assert_eq!(guards.len(), 3);
}

#[test]
fn a_cancelled_writer_releases_the_reads_it_collected() {
    let l = RwLock::new(());
    let (cw, cr) = (Counter::new(), Counter::new());
    let r = l.try_read().unwrap();
    let mut w = l.write_async();
    pending(&cw, &mut w); // collects every permit but the one held
    let mut r2 = l.read_async();
    pending(&cr, &mut r2);
    drop(w);
    // The reader behind the cancelled writer gets in at once.
    assert_eq!(cr.wakes(), 1);
    let _r2 = ready(&cr, &mut r2);
    drop(r);
    assert!(l.try_write().is_none());
}

#[test]
fn rwlock_counter_is_exact_under_contention() {
    let l = Arc::new(RwLock::new(0u64));
    let each = scaled(5_000);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let l = l.clone();
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..each {
                        if t % 2 == 0 {
                            *l.write_async().await += 1;
                        } else {
                            let r = l.read_async().await;
                            assert!(*r <= 10_000);
                        }
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*block_on(l.read_async()), 2 * each as u64);
}

#[test]
fn condvar_wait_in_a_loop_until_the_condition_holds() {
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pair = pair.clone();
            thread::spawn(move || {
                let (m, cv) = &*pair;
                block_on(async {
                    let mut g = m.lock_async().await;
                    // The spurious-wakeup-proof pattern: re-check after each wake.
                    while *g < 10 {
                        g = cv.wait_async(g).await;
                    }
                    *g
                })
            })
        })
        .collect();
    let (m, cv) = &*pair;
    for _ in 0..10 {
        *block_on(m.lock_async()) += 1;
        cv.notify_all();
    }
    for w in waiters {
        assert_eq!(w.join().unwrap(), 10);
    }
}

#[test]
fn condvar_wait_releases_the_mutex_and_relocks_it() {
    let m = Mutex::new(0);
    let cv = Condvar::new();
    let c = Counter::new();
    let g = m.try_lock().unwrap();
    let mut wait = cv.wait_async(g);
    // Released at the call, before any poll.
    let mut g2 = m.try_lock().unwrap();
    *g2 = 1;
    cv.notify_one(); // seen even though `wait` was never polled
    pending(&c, &mut wait); // notified, but the mutex is held: waits for it
    drop(g2);
    assert_eq!(c.wakes(), 1);
    assert_eq!(*ready(&c, &mut wait), 1);
}

#[test]
fn condvar_notify_one_wakes_one_and_notify_all_wakes_all() {
    let m = Mutex::new(());
    let cv = Condvar::new();
    let cs: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let mut ws: Vec<_> = (0..3)
        .map(|_| cv.wait_async(m.try_lock().unwrap()))
        .collect();
    for (c, w) in cs.iter().zip(&mut ws) {
        pending(c, w);
    }
    cv.notify_one();
    assert_eq!(cs.iter().map(Counter::wakes).collect::<Vec<_>>(), [1, 0, 0]);
    cv.notify_all();
    assert_eq!(cs.iter().map(Counter::wakes).collect::<Vec<_>>(), [1, 1, 1]);
    for (c, w) in cs.iter().zip(&mut ws) {
        drop(ready(c, w));
    }
    // Nobody waits: notifications are not stored.
    cv.notify_one();
    let c = Counter::new();
    let mut w = cv.wait_async(m.try_lock().unwrap());
    pending(&c, &mut w);
}

#[test]
fn condvar_a_cancelled_notified_waiter_passes_notify_one_on() {
    let m = Mutex::new(());
    let cv = Condvar::new();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut w1 = cv.wait_async(m.try_lock().unwrap());
    let mut w2 = cv.wait_async(m.try_lock().unwrap());
    pending(&c1, &mut w1);
    pending(&c2, &mut w2);
    cv.notify_one();
    assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
    drop(w1);
    assert_eq!(c2.wakes(), 1);
    drop(ready(&c2, &mut w2));
}
