//! The std sync layer: every primitive from coroutines, async tasks and
//! threads, in mixes; timeouts; disconnection; misuse inside a poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xasync::sync::channel::{self, RecvTimeoutError, SendTimeoutError};
use xasync::sync::{Barrier, Condvar, Mutex, Notify, RwLock, Semaphore, WaitGroup, oneshot};
use xasync::{Runtime, join_all, spawn, xasync, xawait};

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_coroutine_sends_a_future_receives_a_thread_counts() {
    let (tx, rx) = channel::bounded(2);
    let (done_tx, done_rx) = channel::unbounded();
    let producer = xasync(move || {
        for i in 0..1000u64 {
            tx.send(i).unwrap();
        }
    });
    let consumer = spawn(async move {
        let mut sum = 0;
        while let Ok(i) = rx.recv_async().await {
            sum += i;
        }
        done_tx.send_async(sum).await.unwrap();
    });
    // The main thread blocks on the channel the future sends on.
    assert_eq!(done_rx.recv(), Ok(999 * 1000 / 2));
    producer.join().unwrap();
    xawait(consumer);
}

#[test]
fn ping_pong_between_coroutines_on_one_worker() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (ping_tx, ping_rx) = channel::bounded::<u32>(1);
    let (pong_tx, pong_rx) = channel::bounded::<u32>(1);
    let echo = rt.xasync(move || {
        for v in ping_rx.iter() {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let driver = rt.xasync(move || {
        let mut v = 0;
        for _ in 0..10_000 {
            ping_tx.send(v).unwrap();
            v = pong_rx.recv().unwrap();
        }
        v
    });
    assert_eq!(driver.join().unwrap(), 10_000);
    echo.join().unwrap();
}

#[test]
fn timeouts_give_values_back() {
    let (tx, rx) = channel::bounded(1);
    tx.send(1).unwrap();
    match tx.send_timeout(2, 5 * MS) {
        Err(SendTimeoutError::Timeout(v)) => assert_eq!(v, 2),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(rx.recv_timeout(5 * MS), Ok(1));
    let start = Instant::now();
    assert_eq!(rx.recv_timeout(10 * MS), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= 10 * MS);
    drop(tx);
    assert_eq!(rx.recv_timeout(5 * MS), Err(RecvTimeoutError::Disconnected));
    let (tx, rx) = channel::bounded::<u8>(1);
    drop(rx);
    assert!(matches!(
        tx.send_timeout(3, MS),
        Err(SendTimeoutError::Disconnected(3))
    ));
}

#[test]
fn disconnection_wakes_waiters() {
    let (tx, rx) = channel::unbounded::<u8>();
    let waiter = xasync(move || rx.recv());
    std::thread::sleep(5 * MS);
    drop(tx);
    assert!(waiter.join().unwrap().is_err());
}

#[test]
fn oneshot_from_a_coroutine_to_a_thread() {
    let (tx, rx) = oneshot::channel();
    xasync(move || {
        xasync::time::sleep(2 * MS);
        tx.send("ready").unwrap();
    })
    .detach();
    assert_eq!(rx.recv(), Ok("ready"));
    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(
        rx.recv_timeout(2 * MS),
        Err(oneshot::RecvTimeoutError::Timeout)
    );
    tx.send(9).unwrap();
    assert_eq!(rx.recv(), Ok(9));
}

#[test]
fn a_thread_waits_for_a_lock_a_coroutine_holds() {
    let lock = Arc::new(Mutex::new(0));
    let held = Arc::new(Notify::new());
    let (l, h) = (lock.clone(), held.clone());
    let holder = xasync(move || {
        let mut guard = l.lock();
        h.notify_one();
        xasync::time::sleep(20 * MS); // holds it across a suspension
        *guard += 1;
    });
    held.wait();
    let start = Instant::now();
    *lock.lock() += 1; // blocks this thread until the coroutine unlocks
    assert!(start.elapsed() >= 10 * MS);
    holder.join().unwrap();
    assert_eq!(*lock.lock(), 2);
}

#[test]
fn mutex_counter_from_all_three_kinds() {
    let counter = Arc::new(Mutex::new(0u64));
    let mut coroutines = Vec::new();
    let mut futures = Vec::new();
    for _ in 0..4 {
        let c = counter.clone();
        coroutines.push(xasync(move || {
            for _ in 0..500 {
                *c.lock() += 1;
                xasync::yield_now();
            }
        }));
        let c = counter.clone();
        futures.push(spawn(async move {
            for _ in 0..500 {
                *c.lock_async().await += 1;
                xasync::yield_now_async().await;
            }
        }));
    }
    let c = counter.clone();
    let thread = std::thread::spawn(move || {
        for _ in 0..500 {
            *c.lock() += 1;
        }
    });
    join_all(coroutines);
    join_all(futures);
    thread.join().unwrap();
    assert_eq!(*counter.lock(), 4500);
}

#[test]
fn rwlock_semaphore_waitgroup_barrier_condvar() {
    let lock = Arc::new(RwLock::new(1));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let l = lock.clone();
            xasync(move || *l.read())
        })
        .collect();
    *lock.write() += 1;
    for r in join_all(readers) {
        assert!(r == 1 || r == 2);
    }

    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let (sem, inside) = (sem.clone(), inside.clone());
            xasync(move || {
                let _permit = sem.acquire(1).unwrap();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                xasync::time::sleep(MS);
                inside.fetch_sub(1, Ordering::SeqCst);
                now
            })
        })
        .collect();
    assert!(
        join_all(hs).into_iter().all(|n| n <= 2),
        "more than 2 holders at once"
    );
    sem.close();
    assert!(sem.acquire(1).is_err());

    let wg = Arc::new(WaitGroup::new());
    let barrier = Arc::new(Barrier::new(5));
    let leaders = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        wg.add(1);
        let (wg, barrier, leaders) = (wg.clone(), barrier.clone(), leaders.clone());
        xasync(move || {
            if barrier.wait().is_leader() {
                leaders.fetch_add(1, Ordering::SeqCst);
            }
            wg.done();
        })
        .detach();
    }
    wg.wait();
    assert_eq!(leaders.load(Ordering::SeqCst), 1);

    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (lock, cvar) = &*pair;
    let (guard, timed_out) = cvar.wait_timeout(lock.lock(), lock, 5 * MS);
    assert!(timed_out && !*guard);
    drop(guard);
    let p = pair.clone();
    xasync(move || {
        *p.0.lock() = true;
        p.1.notify_all();
    })
    .detach();
    let mut ready = lock.lock();
    while !*ready {
        ready = cvar.wait(ready);
    }
    assert!(!Notify::new().wait_timeout(MS));
}

#[test]
fn waiting_inside_a_poll_is_refused() {
    let (tx, rx) = channel::unbounded::<u8>();
    tx.send(1).unwrap();
    let h = spawn(async move { rx.recv() });
    let err = h.join().unwrap_err();
    assert!(err.to_string().contains("_async"), "{err}");
    let h = spawn(async { drop(Mutex::new(()).lock()) });
    assert!(h.join().unwrap_err().is_panic());
}
