//! Cancellation of coroutines whose destructors wait: the destructors run
//! as ordinary coroutine code, so a wait inside them suspends the
//! coroutine and completes, and the handle reports the cancellation once
//! the unwinding has ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xasync::sync::channel;
use xasync::{Runtime, xawait};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Runs `wait` in its destructor, then records that it got past it.
struct WaitOnDrop<F: FnMut()> {
    wait: F,
    done: Arc<AtomicBool>,
}

impl<F: FnMut()> Drop for WaitOnDrop<F> {
    fn drop(&mut self) {
        (self.wait)();
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Starts a coroutine that holds a `WaitOnDrop` and then waits forever,
/// lets it reach that wait, cancels it, and checks that the handle reports
/// the cancellation and that the destructor's wait completed. `release`
/// runs after the cancel, to let the destructor's wait complete.
fn cancel_while_destructor_waits(
    rt: &Runtime,
    wait: impl FnMut() + Send + 'static,
    release: impl FnOnce(),
) {
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (d, s) = (done.clone(), started.clone());
    let handle = rt.xasync(move || {
        let _guard = WaitOnDrop { wait, done: d };
        s.store(true, Ordering::SeqCst);
        xasync::time::sleep(Duration::from_secs(3600));
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20)); // into its sleep
    handle.cancel();
    std::thread::sleep(Duration::from_millis(20)); // into the destructor's wait
    release();
    let error = handle.join().unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert!(
        done.load(Ordering::SeqCst),
        "the destructor's wait did not complete"
    );
}

#[test]
fn a_destructor_locks_a_mutex_held_by_a_thread() {
    let rt = runtime(1);
    let mutex = Arc::new(xasync::sync::Mutex::new(0));
    let held = mutex.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (unlock_tx, unlock_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _guard = held.lock();
        locked_tx.send(()).unwrap();
        unlock_rx.recv().unwrap();
    });
    locked_rx.recv().unwrap();
    let m = mutex.clone();
    cancel_while_destructor_waits(&rt, move || *m.lock() += 1, || unlock_tx.send(()).unwrap());
    holder.join().unwrap();
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn a_destructor_locks_a_mutex_held_by_a_coroutine_on_the_same_worker() {
    let rt = runtime(1);
    let mutex = Arc::new(xasync::sync::Mutex::new(0));
    let (held, release) = channel::bounded::<()>(1);
    let m = mutex.clone();
    let holder = rt.xasync(move || {
        let _guard = m.lock();
        let _ = release.recv(); // holds the lock until told
    });
    std::thread::sleep(Duration::from_millis(20));
    let m = mutex.clone();
    cancel_while_destructor_waits(&rt, move || *m.lock() += 1, move || held.send(()).unwrap());
    holder.join().unwrap();
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn a_destructor_sends_on_a_full_channel() {
    let rt = runtime(2);
    let (tx, rx) = channel::bounded::<u32>(1);
    tx.send(1).unwrap();
    let sender = tx.clone();
    let receiver = rx.clone();
    cancel_while_destructor_waits(
        &rt,
        move || sender.send(2).unwrap(),
        move || assert_eq!(receiver.recv().unwrap(), 1),
    );
    assert_eq!(rx.recv().unwrap(), 2);
}

#[test]
fn a_destructor_sleeps() {
    let rt = runtime(1);
    let slept = Arc::new(AtomicUsize::new(0));
    let s = slept.clone();
    cancel_while_destructor_waits(
        &rt,
        move || {
            let start = Instant::now();
            xasync::time::sleep(Duration::from_millis(30));
            assert!(start.elapsed() >= Duration::from_millis(30));
            s.fetch_add(1, Ordering::SeqCst);
        },
        || {},
    );
    assert_eq!(slept.load(Ordering::SeqCst), 1);
}

#[test]
fn a_destructor_awaits_another_coroutine() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    cancel_while_destructor_waits(
        &rt,
        move || {
            let other = handle.xasync(|| {
                xasync::time::sleep(Duration::from_millis(10));
                7
            });
            assert_eq!(xawait(other), 7);
        },
        || {},
    );
}

#[test]
fn a_destructor_waits_while_the_runtime_shuts_down() {
    let rt = runtime(2);
    let mutex = Arc::new(xasync::sync::Mutex::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let m = mutex.clone();
        let f = finished.clone();
        let s = started.clone();
        rt.xasync(move || {
            s.fetch_add(1, Ordering::SeqCst);
            let m2 = m.clone();
            let f2 = f.clone();
            let _guard = WaitOnDrop {
                wait: move || {
                    *m2.lock() += 1;
                    xasync::time::sleep(Duration::from_millis(1));
                    f2.fetch_add(1, Ordering::SeqCst);
                },
                done: Arc::new(AtomicBool::new(false)),
            };
            let _held = m.lock(); // all but one wait for the lock
            xasync::time::sleep(Duration::from_secs(3600));
        })
        .detach();
    }
    // Every coroutine must have started (a coroutine that never ran is
    // dropped at shutdown without running any code): wait for that, not a
    // fixed delay, which valgrind on a loaded machine outran (2 of 20).
    let deadline = Instant::now() + Duration::from_secs(30);
    while started.load(Ordering::SeqCst) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(10)); // into their waits
    rt.shutdown();
    assert_eq!(finished.load(Ordering::SeqCst), 20);
    assert_eq!(*mutex.lock(), 20);
}

#[test]
fn a_cancelled_coroutine_that_catches_the_unwind_is_not_resumed_with_a_dead_context() {
    // Catching the cancellation's unwind and waiting again must stay sound.
    let rt = runtime(1);
    let handle = rt.xasync(|| {
        let caught = std::panic::catch_unwind(|| {
            xasync::time::sleep(Duration::from_secs(3600));
        });
        assert!(caught.is_err());
        xasync::time::sleep(Duration::from_millis(5));
        xasync::yield_now();
        5
    });
    std::thread::sleep(Duration::from_millis(20));
    handle.cancel();
    assert!(handle.join().unwrap_err().is_cancelled());
}

#[test]
fn dropping_an_unstarted_coroutine_at_cancel_runs_no_code() {
    let rt = runtime(1);
    let blocker = rt.xasync(|| std::thread::sleep(Duration::from_millis(30)));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let handle = rt.xasync(move || r.store(true, Ordering::SeqCst));
    handle.cancel();
    assert!(handle.join().unwrap_err().is_cancelled());
    blocker.join().unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn timeout_on_a_join_handle_detaches_and_join_timeout_cancels() {
    let rt = runtime(1);
    let dropped = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let (d, f, r) = (dropped.clone(), finished.clone(), release.clone());
    // `timeout` drops the handle: the task is detached and runs on. It
    // cannot finish before the test releases it, however slow the machine.
    let h = rt.xasync(move || {
        while !r.load(Ordering::SeqCst) {
            xasync::time::sleep(Duration::from_millis(1));
        }
        f.store(true, Ordering::SeqCst);
    });
    assert!(xasync::time::timeout(Duration::from_millis(5), h).is_err());
    release.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !finished.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        finished.load(Ordering::SeqCst),
        "the detached task did not run on"
    );
    // `join_timeout` cancels it, and returns once its destructors have run.
    let h = rt.xasync(move || {
        let _guard = WaitOnDrop {
            wait: || xasync::time::sleep(Duration::from_millis(5)),
            done: d,
        };
        xasync::time::sleep(Duration::from_secs(3600));
    });
    let error = h.join_timeout(Duration::from_millis(5)).unwrap_err();
    assert!(error.is_cancelled());
    assert!(dropped.load(Ordering::SeqCst));
    // A task that finishes in time keeps its value.
    assert_eq!(
        rt.xasync(|| 3)
            .join_timeout(Duration::from_secs(5))
            .unwrap(),
        3
    );
}

#[test]
fn cancelling_a_coroutine_whose_panic_waits_in_a_destructor_lets_the_panic_finish() {
    // Starting the cancellation's unwind inside a destructor that the
    // panic's unwind runs would abort the process.
    let rt = runtime(1);
    let mutex = Arc::new(xasync::sync::Mutex::new(()));
    let held = mutex.lock();
    let done = Arc::new(AtomicBool::new(false));
    let (m, d) = (mutex.clone(), done.clone());
    let handle = rt.xasync(move || {
        let _guard = WaitOnDrop {
            wait: move || drop(m.lock()),
            done: d,
        };
        panic!("the coroutine's own panic");
    });
    std::thread::sleep(Duration::from_millis(20)); // into the destructor's wait
    handle.cancel();
    std::thread::sleep(Duration::from_millis(20));
    drop(held);
    let error = handle.join().unwrap_err();
    assert!(error.is_panic(), "{error}");
    assert!(done.load(Ordering::SeqCst));
}
