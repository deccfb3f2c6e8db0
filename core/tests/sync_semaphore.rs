//! Behaviour of `sync::Semaphore`.

mod sync_support;

use futures::executor::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use sync_support::{Counter, pending, ready, scaled};
use xasync_core::sync::{AcquireError, Semaphore, TryAcquireError};

#[test]
fn permits_are_taken_and_given_back() {
    let s = Semaphore::new(3);
    let p = s.try_acquire(2).unwrap();
    assert_eq!(p.num_permits(), 2);
    assert_eq!(s.available_permits(), 1);
    assert_eq!(s.try_acquire(2).unwrap_err(), TryAcquireError::NoPermits);
    drop(p);
    assert_eq!(s.available_permits(), 3);
    let p = block_on(s.acquire_async(3)).unwrap();
    p.forget();
    assert_eq!(s.available_permits(), 0);
    s.add_permits(1);
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn zero_permits_never_wait() {
    let s = Semaphore::new(0);
    let c = Counter::new();
    let mut big = s.acquire_async(1);
    pending(&c, &mut big);
    assert_eq!(s.try_acquire(0).unwrap().num_permits(), 0);
    assert_eq!(block_on(s.acquire_async(0)).unwrap().num_permits(), 0);
}

#[test]
fn a_large_request_at_the_head_is_not_overtaken() {
    let s = Semaphore::new(1);
    let (cb, cs) = (Counter::new(), Counter::new());
    let mut big = s.acquire_async(3);
    pending(&cb, &mut big); // collects the 1 available
    assert_eq!(s.available_permits(), 0);
    let mut small = s.acquire_async(1);
    pending(&cs, &mut small);
    assert!(s.try_acquire(1).is_err());
    s.add_permits(1);
    assert_eq!((cb.wakes(), cs.wakes()), (0, 0));
    s.add_permits(2); // 1 completes `big`, 1 goes to `small`
    assert_eq!((cb.wakes(), cs.wakes()), (1, 1));
    assert_eq!(ready(&cb, &mut big).unwrap().num_permits(), 3);
    assert_eq!(ready(&cs, &mut small).unwrap().num_permits(), 1);
    // Both permits were dropped right away: all 4 are back.
    assert_eq!(s.available_permits(), 4);
}

#[test]
fn a_cancelled_acquire_gives_back_what_it_collected() {
    let s = Semaphore::new(2);
    let (cb, cs) = (Counter::new(), Counter::new());
    let mut big = s.acquire_async(5);
    pending(&cb, &mut big);
    let mut small = s.acquire_async(2);
    pending(&cs, &mut small);
    drop(big);
    assert_eq!(cs.wakes(), 1);
    drop(ready(&cs, &mut small));
    assert_eq!(s.available_permits(), 2);
}

#[test]
fn a_served_but_cancelled_acquire_passes_its_permits_on() {
    let s = Semaphore::new(0);
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut f1 = s.acquire_async(1);
    let mut f2 = s.acquire_async(1);
    pending(&c1, &mut f1);
    pending(&c2, &mut f2);
    s.add_permits(1);
    assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
    drop(f1);
    assert_eq!(c2.wakes(), 1);
    assert!(ready(&c2, &mut f2).is_ok());
}

#[test]
fn releasing_many_permits_wakes_more_waiters_than_a_batch() {
    let s = Semaphore::new(0);
    let counters: Vec<Counter> = (0..40).map(|_| Counter::new()).collect();
    let mut futs: Vec<_> = (0..40).map(|_| s.acquire_async(1)).collect();
    for (c, f) in counters.iter().zip(&mut futs) {
        pending(c, f);
    }
    s.add_permits(45);
    assert!(counters.iter().all(|c| c.wakes() == 1));
    assert_eq!(s.available_permits(), 5);
}

#[test]
fn close_fails_pending_and_later_acquires() {
    let s = Semaphore::new(1);
    let held = s.try_acquire(1).unwrap();
    let c = Counter::new();
    let mut f = s.acquire_async(1);
    pending(&c, &mut f);
    s.close();
    assert!(s.is_closed());
    assert_eq!(c.wakes(), 1);
    let err: AcquireError = ready(&c, &mut f).unwrap_err();
    assert_eq!(err.to_string(), "semaphore closed");
    assert!(block_on(s.acquire_async(1)).is_err());
    assert!(block_on(s.acquire_async(0)).is_err());
    assert_eq!(s.try_acquire(0).unwrap_err(), TryAcquireError::Closed);
    drop(held); // still valid, given back
    assert_eq!(s.available_permits(), 1);
}

#[test]
#[should_panic(expected = "exceeds Semaphore::MAX_PERMITS")]
fn too_many_permits_panic() {
    Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "exceeds Semaphore::MAX_PERMITS")]
fn an_impossible_request_panics() {
    let s = Semaphore::new(0);
    drop(s.acquire_async(usize::MAX));
}

#[test]
#[should_panic(expected = "semaphore permit count overflow")]
fn adding_past_the_maximum_panics() {
    let s = Semaphore::new(Semaphore::MAX_PERMITS);
    s.add_permits(1);
}

#[test]
fn at_most_n_holders_at_once() {
    let s = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let (s, inside) = (s.clone(), inside.clone());
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..scaled(2_000) {
                        let n = 1 + t % 2;
                        let p = s.acquire_async(n).await.unwrap();
                        let now = inside.fetch_add(n, Ordering::SeqCst) + n;
                        assert!(now <= 3, "{now} permits in use");
                        inside.fetch_sub(n, Ordering::SeqCst);
                        drop(p);
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.available_permits(), 3);
}
