//! Timers: sleeping in coroutines, tasks and threads; deadlines, timeouts,
//! intervals; ordering; cancellation; zero and huge durations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xasync::time::{interval, sleep, sleep_async, sleep_until, timeout, timeout_async};
use xasync::{Runtime, join_all, spawn, xasync, xawait};

const MS: Duration = Duration::from_millis(1);

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn sleep_in_a_coroutine_suspends_only_the_coroutine() {
    let rt = runtime(1);
    let asleep = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicUsize::new(0));
    let (a, p) = (asleep.clone(), progress.clone());
    let sleeper = rt.xasync(move || {
        let start = Instant::now();
        a.store(1, Ordering::SeqCst);
        sleep(30 * MS);
        (start.elapsed(), p.load(Ordering::SeqCst))
    });
    // The only worker runs this one while the other sleeps; a sleep that
    // blocked the worker would let it count only after the sleep. (It
    // counts once without waiting for anything: under valgrind on a loaded
    // machine, ten 1 ms sleeps did not fit in the 30 ms.)
    let (a, p) = (asleep.clone(), progress.clone());
    let busy = rt.xasync(move || {
        while a.load(Ordering::SeqCst) == 0 {
            xasync::yield_now();
        }
        p.fetch_add(1, Ordering::SeqCst);
        for _ in 0..9 {
            sleep(MS);
            p.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (slept, seen) = sleeper.join().unwrap();
    busy.join().unwrap();
    assert!(slept >= 30 * MS, "woke early: {slept:?}");
    assert!(seen >= 1, "the other coroutine ran during the sleep");
    assert_eq!(progress.load(Ordering::SeqCst), 10);
}

#[test]
fn sleep_on_a_thread_and_in_async_code() {
    let start = Instant::now();
    sleep(5 * MS);
    assert!(start.elapsed() >= 5 * MS);
    let h = spawn(async {
        let start = Instant::now();
        sleep_async(5 * MS).await;
        start.elapsed()
    });
    assert!(xawait(h) >= 5 * MS);
    // A plain thread waiting on a timer future of the runtime.
    let start = Instant::now();
    xawait(sleep_async(5 * MS));
    assert!(start.elapsed() >= 5 * MS);
}

#[test]
fn zero_past_and_huge_durations() {
    let h = xasync(|| {
        let start = Instant::now();
        sleep(Duration::ZERO);
        sleep_until(Instant::now() - Duration::from_secs(1));
        start.elapsed()
    });
    assert!(xawait(h) < Duration::from_millis(500));
    // Duration::MAX cannot be represented as an instant: it sleeps forever,
    // which a timeout (or cancellation) ends.
    assert!(timeout(5 * MS, sleep_async(Duration::MAX)).is_err());
    let forever = xasync(|| sleep(Duration::MAX));
    std::thread::sleep(5 * MS);
    forever.cancel();
    assert!(forever.join().unwrap_err().is_cancelled());
}

#[test]
fn timeouts() {
    assert_eq!(timeout(Duration::from_secs(5), async { 7 }), Ok(7));
    let slow = xasync(|| {
        sleep(Duration::from_secs(10));
        1
    });
    assert!(timeout(10 * MS, &mut Box::pin(slow_future())).is_err());
    slow.cancel();
    let h = spawn(async { timeout_async(10 * MS, sleep_async(Duration::from_secs(10))).await });
    let err = xawait(h).unwrap_err();
    assert_eq!(err.to_string(), "deadline has elapsed");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

async fn slow_future() {
    sleep_async(Duration::from_secs(10)).await
}

#[test]
fn intervals_tick_at_their_period_and_skip_missed_ticks() {
    let h = xasync(|| {
        let mut ticks = interval(5 * MS);
        let first = ticks.tick();
        let second = ticks.tick();
        let third = ticks.tick();
        // Fall behind by several periods: the next tick is not a burst.
        std::thread::sleep(30 * MS);
        let late = ticks.tick();
        let after = ticks.tick();
        (second - first, third - second, after - late)
    });
    let (a, b, c) = xawait(h);
    assert!(a >= 5 * MS && b >= 5 * MS, "{a:?} {b:?}");
    assert!(c >= 4 * MS, "missed ticks were bunched: {c:?}");
}

#[test]
#[should_panic(expected = "must not be zero")]
fn a_zero_period_is_refused() {
    let _ = interval(Duration::ZERO);
}

#[test]
fn sleepers_wake_in_deadline_order() {
    // A run says something only if every sleeper registered its timer
    // before the first deadline: under valgrind on a loaded machine,
    // waking the worker once took over 300 ms, and sleepers whose
    // deadline had passed finished in the order they ran. Such a run is
    // repeated with a margin twice as long.
    let mut margin = Duration::from_millis(50);
    for _ in 0..6 {
        if let Some(order) = sleepers_in_order_of_waking(margin) {
            assert_eq!(order, [1, 3, 6, 9, 12, 15, 21, 27]);
            return;
        }
        margin *= 2;
    }
    panic!("the sleepers never all started before the first deadline");
}

/// Eight coroutines on one worker sleep until `base + 2 ms × n`, `base`
/// being `margin` after all of them started; the order they woke in, or
/// `None` if some deadline passed before its sleeper registered.
fn sleepers_in_order_of_waking(margin: Duration) -> Option<Vec<u64>> {
    let rt = runtime(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let late = Arc::new(AtomicUsize::new(0));
    let base: Arc<Mutex<Option<Instant>>> = Arc::default();
    let started = Arc::new(xasync::sync::Barrier::new(9));
    let hs: Vec<_> = [9u64, 3, 27, 1, 15, 6, 21, 12]
        .into_iter()
        .map(|ms| {
            let (order, late) = (order.clone(), late.clone());
            let (base, started) = (base.clone(), started.clone());
            rt.xasync(move || {
                started.wait();
                let base = base.lock().unwrap().expect("set before the barrier opens");
                if Instant::now() >= base {
                    late.fetch_add(1, Ordering::SeqCst);
                }
                sleep_until(base + Duration::from_millis(ms * 2));
                order.lock().unwrap().push(ms);
            })
        })
        .collect();
    *base.lock().unwrap() = Some(Instant::now() + margin);
    started.wait();
    join_all(hs);
    let order = std::mem::take(&mut *order.lock().unwrap());
    (late.load(Ordering::SeqCst) == 0).then_some(order)
}

#[test]
fn cancelling_a_sleeping_coroutine_removes_its_timer() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let guard = Guard(drops.clone());
            rt.xasync(move || {
                let _guard = guard;
                sleep(Duration::from_secs(3600));
            })
        })
        .collect();
    std::thread::sleep(10 * MS);
    for h in &hs {
        h.cancel();
    }
    for h in hs {
        assert!(h.join().unwrap_err().is_cancelled());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 100);
    // With its timers gone, the runtime shuts down at once.
    let start = Instant::now();
    rt.shutdown();
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn many_concurrent_sleepers_all_wake() {
    let rt = runtime(2);
    let woken = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10_000u64)
        .map(|i| {
            let woken = woken.clone();
            rt.xasync(move || {
                sleep(Duration::from_millis(i % 50));
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    join_all(hs);
    assert_eq!(woken.load(Ordering::SeqCst), 10_000);
}
