//! Loom models of the waiter queue and of the wakeup and handoff paths of
//! the sync primitives. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p xasync-core --release --test loom_sync`.
//!
//! Each model is a race between a waiter (a future polled by
//! `loom::future::block_on`, which parks until woken, so a lost wakeup
//! shows up as a deadlock) and a notifier, or between a cancellation and a
//! handoff (where the checks are that nothing handed over is lost).
#![cfg(loom)]

use futures::task::noop_waker;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use xasync_core::sync::{
    Barrier, Condvar, Mutex, Notify, RwLock, Semaphore, WaitGroup, channel, oneshot,
};

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(&noop_waker()))
}

// The waiter queue, through its thinnest user.

#[test]
fn notify_one_wakes_a_waiter_on_another_thread() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let n2 = n.clone();
        let t = thread::spawn(move || n2.notify_one());
        loom::future::block_on(n.notified());
        t.join().unwrap();
    });
}

#[test]
fn notify_all_wakes_every_waiter() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let created = Arc::new(AtomicBool::new(false));
        let (n2, created2) = (n.clone(), created.clone());
        let waiter = thread::spawn(move || {
            let mut a = pin!(n2.notified());
            let b = pin!(n2.notified());
            created2.store(true, Ordering::Release);
            // One registered (with a waker later replaced), one not yet
            // polled: both were created before the broadcast, both finish.
            let _ = poll_once(a.as_mut());
            loom::future::block_on(a);
            loom::future::block_on(b);
        });
        while !created.load(Ordering::Acquire) {
            thread::yield_now();
        }
        n.notify_all();
        waiter.join().unwrap();
    });
}

#[test]
fn a_cancelled_waiter_never_swallows_notify_one() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let n2 = n.clone();
        let waiter = thread::spawn(move || {
            let mut f = pin!(n2.notified());
            poll_once(f.as_mut()).is_ready()
            // dropped here, possibly after being chosen by notify_one
        });
        n.notify_one();
        let consumed = waiter.join().unwrap();
        // If the waiter did not return, the notification is still there.
        let stored = poll_once(pin!(n.notified())).is_ready();
        assert!(consumed ^ stored, "consumed: {consumed}, stored: {stored}");
    });
}

// Channels.

#[test]
fn bounded_channel_send_and_receive_across_threads() {
    loom::model(|| {
        let (tx, rx) = channel::bounded(1);
        let t = thread::spawn(move || {
            loom::future::block_on(async {
                tx.send_async(1).await.unwrap();
                tx.send_async(2).await.unwrap();
            })
        });
        loom::future::block_on(async {
            assert_eq!(rx.recv_async().await, Ok(1));
            assert_eq!(rx.recv_async().await, Ok(2));
            assert_eq!(rx.recv_async().await, Err(channel::RecvError));
        });
        t.join().unwrap();
    });
}

#[test]
fn rendezvous_send_completes_when_received() {
    loom::model(|| {
        let (tx, rx) = channel::bounded(0);
        let t = thread::spawn(move || loom::future::block_on(tx.send_async(7)));
        assert_eq!(loom::future::block_on(rx.recv_async()), Ok(7));
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

#[test]
fn a_cancelled_receive_loses_no_value() {
    loom::model(|| {
        let (tx, rx) = channel::unbounded();
        let rx2 = rx.clone();
        let t = thread::spawn(move || {
            let mut f = pin!(rx2.recv_async());
            match poll_once(f.as_mut()) {
                Poll::Ready(v) => v.ok(),
                Poll::Pending => None, // dropped, maybe holding the value
            }
        });
        tx.try_send(5).unwrap();
        let got = t.join().unwrap();
        let left = rx.try_recv().ok();
        assert_eq!(got.or(left), Some(5));
        assert!(got.is_none() || left.is_none());
    });
}

#[test]
fn dropping_the_last_sender_wakes_a_waiting_receiver() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u8>(1);
        let t = thread::spawn(move || drop(tx));
        assert_eq!(
            loom::future::block_on(rx.recv_async()),
            Err(channel::RecvError)
        );
        t.join().unwrap();
    });
}

#[test]
fn oneshot_send_wakes_the_receiver() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(3).unwrap());
        assert_eq!(loom::future::block_on(rx), Ok(3));
        t.join().unwrap();
    });
}

#[test]
fn oneshot_sender_drop_wakes_the_receiver() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(tx));
        assert_eq!(loom::future::block_on(rx), Err(oneshot::RecvError));
        t.join().unwrap();
    });
}

// Locks.

#[test]
fn mutex_handoff_between_threads() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t =
            thread::spawn(move || loom::future::block_on(async { *m2.lock_async().await += 1 }));
        loom::future::block_on(async { *m.lock_async().await += 1 });
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}

#[test]
fn a_cancelled_lock_waiter_never_keeps_the_lock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(()));
        let guard = m.try_lock().unwrap();
        let m2 = m.clone();
        let t = thread::spawn(move || {
            let mut f = pin!(m2.lock_async());
            let _ = poll_once(f.as_mut()); // dropped, maybe after the handoff
        });
        drop(guard);
        t.join().unwrap();
        assert!(m.try_lock().is_some(), "the lock was lost");
    });
}

#[test]
fn condvar_notify_is_not_lost() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = pair.clone();
        let t = thread::spawn(move || {
            let (m, cv) = &*pair2;
            *loom::future::block_on(m.lock_async()) = true;
            cv.notify_one();
        });
        let (m, cv) = &*pair;
        loom::future::block_on(async {
            let mut g = m.lock_async().await;
            while !*g {
                g = cv.wait_async(g).await;
            }
        });
        t.join().unwrap();
    });
}

#[test]
fn semaphore_permits_pass_to_a_waiter() {
    loom::model(|| {
        let s = Arc::new(Semaphore::new(1));
        let s2 = s.clone();
        let t = thread::spawn(move || {
            loom::future::block_on(async { drop(s2.acquire_async(1).await.unwrap()) })
        });
        loom::future::block_on(async { drop(s.acquire_async(1).await.unwrap()) });
        t.join().unwrap();
        assert_eq!(s.available_permits(), 1);
    });
}

#[test]
fn wait_group_done_wakes_the_waiter() {
    loom::model(|| {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let wg2 = wg.clone();
        let t = thread::spawn(move || wg2.done());
        loom::future::block_on(wg.wait_async());
        assert_eq!(wg.count(), 0);
        t.join().unwrap();
    });
}

#[test]
fn leaving_the_queue_while_a_broadcast_drains_it() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut kept = Box::pin(n.notified());
        let mut left = Box::pin(n.notified());
        assert!(poll_once(kept.as_mut()).is_pending());
        assert!(poll_once(left.as_mut()).is_pending());
        let n2 = n.clone();
        let t = thread::spawn(move || n2.notify_all());
        drop(left); // races with the broadcast's batches
        loom::future::block_on(kept);
        t.join().unwrap();
    });
}

#[test]
fn semaphore_close_fails_a_waiter_and_keeps_the_count() {
    loom::model(|| {
        let s = Arc::new(Semaphore::new(1));
        let held = s.try_acquire(1).unwrap();
        let s2 = s.clone();
        let t = thread::spawn(move || loom::future::block_on(s2.acquire_async(2)).is_err());
        s.close();
        assert!(t.join().unwrap());
        drop(held);
        assert_eq!(s.available_permits(), 1);
    });
}

#[test]
fn rwlock_writer_and_reader_exclude_each_other() {
    loom::model(|| {
        let l = Arc::new(RwLock::new((0, 0)));
        let l2 = l.clone();
        let t = thread::spawn(move || {
            loom::future::block_on(async {
                let mut w = l2.write_async().await;
                w.0 += 1;
                w.1 += 1;
            })
        });
        let seen = loom::future::block_on(async { *l.read_async().await });
        assert_eq!(seen.0, seen.1, "a reader saw a half-done write");
        t.join().unwrap();
        assert_eq!(*l.try_read().unwrap(), (1, 1));
    });
}

#[test]
fn barrier_releases_both_with_one_leader() {
    loom::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b2 = b.clone();
        let t = thread::spawn(move || loom::future::block_on(b2.wait_async()).is_leader());
        let here = loom::future::block_on(b.wait_async()).is_leader();
        let there = t.join().unwrap();
        assert!(here ^ there);
    });
}
