//! The runtime: coroutines and futures as tasks, waiting across kinds,
//! handles, cancellation, pinning, stealing, shutdown, misuse.

mod until;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use until::wait_until;
use xasync::{JoinHandle, Runtime, join_all, race, select, spawn, xasync, xawait, yield_now};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn xasync_from_main_and_xawait() {
    let h = xasync(|| 40 + 2);
    assert_eq!(xawait(h), 42);
}

#[test]
fn a_panic_is_reraised_by_xawait_and_reported_by_join() {
    let h = xasync(|| -> u8 { panic!("coroutine exploded") });
    let err = h.join().unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("coroutine exploded"));

    let h = xasync(|| -> u8 { panic!("again") });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| xawait(h)));
    assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"again"));
}

#[test]
fn coroutines_and_futures_wait_on_each_other() {
    // A coroutine waits for a future task, a future awaits a coroutine.
    let from_coroutine = xasync(|| xawait(spawn(async { 20 })) + 1);
    let from_future = spawn(async { xasync(|| 21).await });
    assert_eq!(xawait(from_coroutine) + xawait(from_future), 42);
    // xasync works from inside a coroutine and from inside an async task.
    let nested = xasync(|| xawait(xasync(|| xawait(xasync(|| 7)) * 2)));
    assert_eq!(xawait(nested), 14);
}

/// The seed's poll-style counter: `poll` answers "wait" until the count
/// reaches its max, then "done"; chained to a printing step.
struct Counter {
    num: u32,
    max: u32,
}

impl Future for Counter {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.num < self.max {
            self.num += 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(self.num)
        }
    }
}

#[test]
fn the_seed_counter_chained_to_a_printer() {
    let printed = Arc::new(Mutex::new(Vec::new()));
    let p = printed.clone();
    let chain = spawn(Counter { num: 0, max: 5 }).then(move |n| {
        p.lock().unwrap().push(format!("counter num = {n}"));
        n
    });
    assert_eq!(xawait(chain), 5);
    assert_eq!(*printed.lock().unwrap(), ["counter num = 5"]);
}

#[test]
fn handles_are_futures_with_the_value() {
    let rt = runtime(2);
    let sum = rt.block_on(async {
        let a = xasync(|| 1);
        let b = spawn(async { 2 });
        a.await + b.await
    });
    assert_eq!(sum, 3);
}

#[test]
fn cancelling_a_suspended_coroutine_runs_its_destructors() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let h: JoinHandle<()> = xasync(move || {
        let _guard = DropCounter(d);
        s.store(1, Ordering::SeqCst);
        xawait(std::future::pending::<()>());
    });
    while started.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    assert!(!h.is_finished());
    h.cancel();
    let err = h.join().unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn cancelling_an_unstarted_coroutine_drops_its_closure() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    // Keep the only worker busy so the second coroutine cannot start.
    let gate = Arc::new(AtomicUsize::new(0));
    let g = gate.clone();
    let busy = rt.xasync(move || {
        while g.load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
    });
    let guard = DropCounter(drops.clone());
    let h = rt.xasync(move || drop(guard));
    h.cancel();
    gate.store(1, Ordering::SeqCst);
    assert!(h.join().unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    busy.join().unwrap();
}

#[test]
fn join_all_select_race() {
    let hs: Vec<_> = (0..10u64).map(|i| xasync(move || i * i)).collect();
    assert_eq!(join_all(hs), (0..10u64).map(|i| i * i).collect::<Vec<_>>());

    let slow: JoinHandle<&str> = xasync(|| {
        xawait(std::future::pending::<()>());
        "never"
    });
    let fast = xasync(|| "fast");
    let (index, result, rest) = select(vec![slow, fast]);
    assert_eq!((index, result.unwrap()), (1, "fast"));
    assert_eq!(rest.len(), 1);
    rest[0].cancel();

    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let loser: JoinHandle<u8> = xasync(move || {
        let _guard = DropCounter(d);
        xawait(std::future::pending::<u8>())
    });
    let winner = xasync(|| 9u8);
    assert_eq!(race(vec![loser, winner]), 9);
    wait_until("the loser to be cancelled", || {
        drops.load(Ordering::SeqCst) != 0
    });
}

#[test]
fn xawait_inside_a_poll_fails_loudly() {
    let h = spawn(async { xawait(async { 1 }) });
    let err = h.join().unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains(".await"), "{err}");
    let h = spawn(async { yield_now() });
    assert!(h.join().unwrap_err().to_string().contains(".await"));
}

#[test]
fn a_started_coroutine_never_changes_thread() {
    let rt = runtime(4);
    let hs: Vec<_> = (0..64)
        .map(|_| {
            rt.xasync(|| {
                let home = std::thread::current().id();
                for _ in 0..200 {
                    yield_now();
                    xawait(spawn(async {}));
                    assert_eq!(std::thread::current().id(), home, "a coroutine migrated");
                }
            })
        })
        .collect();
    join_all(hs);
}

#[test]
fn unstarted_work_spreads_over_the_workers() {
    let rt = runtime(2);
    let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let hs: Vec<_> = (0..64)
        .map(|_| {
            let threads = threads.clone();
            rt.xasync(move || {
                threads.lock().unwrap().insert(std::thread::current().id());
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    join_all(hs);
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "both workers ran coroutines"
    );
}

#[test]
fn yield_now_interleaves_coroutines_on_one_worker() {
    let rt = runtime(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    // Spawned together from the worker, so both are queued before either runs.
    rt.xasync(move || {
        let hs: Vec<_> = (0..2)
            .map(|id| {
                let log = l.clone();
                xasync(move || {
                    for step in 0..3 {
                        log.lock().unwrap().push((id, step));
                        yield_now();
                    }
                })
            })
            .collect();
        join_all(hs);
    })
    .join()
    .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 6);
    // Strict alternation: each yield let the other run.
    for pair in log.windows(2) {
        assert_ne!(pair[0].0, pair[1].0, "{log:?}");
    }
}

#[test]
fn blocking_runs_elsewhere_and_suspends_the_caller() {
    let rt = runtime(1);
    let worker = Arc::new(Mutex::new(None));
    let w = worker.clone();
    let h = rt.xasync(move || {
        *w.lock().unwrap() = Some(std::thread::current().id());
        xasync::blocking(|| std::thread::current().id())
    });
    let blocking_thread = h.join().unwrap();
    assert_ne!(Some(blocking_thread), *worker.lock().unwrap());
    assert_eq!(xasync::blocking(|| 5), 5, "on a plain thread it just runs");
}

#[test]
fn builder_rejects_bad_configuration() {
    let err = Runtime::builder().workers(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = Runtime::builder().stack_size(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn runtime_methods_and_small_stacks() {
    let rt = Runtime::builder()
        .workers(2)
        .stack_size(16 * 1024)
        .thread_name("custom")
        .build()
        .unwrap();
    let name = rt.xasync(|| std::thread::current().name().unwrap().to_string());
    assert!(name.join().unwrap().starts_with("custom-"));
    assert_eq!(rt.spawn(async { 3 }).join().unwrap(), 3);
    assert_eq!(rt.block_on(async { 4 }), 4);
    assert_eq!(rt.handle().workers(), 2);
}

#[test]
fn shutdown_cancels_everything_and_runs_destructors() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..100 {
        let (d, s) = (drops.clone(), started.clone());
        if i % 2 == 0 {
            handles.push(rt.xasync(move || {
                let _guard = DropCounter(d);
                s.fetch_add(1, Ordering::SeqCst);
                xawait(std::future::pending::<()>());
            }));
        } else {
            handles.push(rt.spawn(async move {
                let _guard = DropCounter(d);
                s.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }));
        }
    }
    while started.load(Ordering::SeqCst) < 100 {
        std::thread::yield_now();
    }
    rt.shutdown();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        100,
        "every task's destructors ran"
    );
    for h in handles {
        assert!(h.join().unwrap_err().is_cancelled());
    }
}

#[test]
fn graceful_shutdown_lets_tasks_finish() {
    let rt = runtime(2);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let d = done.clone();
        rt.xasync(move || {
            for _ in 0..100 {
                yield_now();
            }
            d.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    assert!(rt.shutdown_timeout(Duration::from_secs(10)));
    assert_eq!(done.load(Ordering::SeqCst), 10);
}

#[test]
fn dropping_a_runtime_shuts_it_down() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let rt = runtime(1);
        let d = drops.clone();
        rt.xasync(move || {
            let _guard = DropCounter(d);
            xawait(std::future::pending::<()>());
        })
        .detach();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// Process CPU time (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
fn idle_workers_do_not_spin() {
    // Measured in a child process, alone: other tests would add CPU time.
    if std::env::var("XASYNC_IDLE_CHILD").is_ok() {
        let rt = runtime(2);
        join_all((0..100).map(|_| rt.xasync(yield_now)));
        std::thread::sleep(Duration::from_millis(50));
        let before = cpu_time();
        std::thread::sleep(Duration::from_millis(500));
        let used = cpu_time() - before;
        // One spinning worker would burn ~500 ms.
        assert!(
            used < Duration::from_millis(25),
            "idle runtime used {used:?} of CPU"
        );
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "idle_workers_do_not_spin", "--nocapture"])
        .env("XASYNC_IDLE_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn xasync_workers_env_is_validated() {
    if std::env::var("XASYNC_CHILD").is_ok() {
        xasync(|| ()).detach();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "xasync_workers_env_is_validated", "--nocapture"])
        .env("XASYNC_CHILD", "1")
        .env("XASYNC_WORKERS", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("XASYNC_WORKERS must be a positive integer"),
        "{stderr}"
    );
}
