//! Shutdown ends, whatever the tasks do; spawns racing it complete; a
//! runtime dropped from its own coroutine does not deadlock; panics outside
//! a task's poll do not kill a worker.

mod bounded;

use bounded::within;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};
use xasync::sync::channel;
use xasync::{Runtime, yield_now};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn shutdown_ends_while_coroutines_and_futures_only_yield() {
    within(Duration::from_secs(10), "shutdown", || {
        let rt = runtime(2);
        for _ in 0..4 {
            rt.xasync(|| {
                loop {
                    yield_now();
                }
            })
            .detach();
            rt.spawn(async {
                loop {
                    xasync::yield_now_async().await;
                }
            })
            .detach();
        }
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown();
    });
}

#[test]
fn shutdown_ends_while_coroutines_ping_pong() {
    within(Duration::from_secs(10), "shutdown", || {
        let rt = runtime(2);
        for _ in 0..4 {
            let (ping_tx, ping_rx) = channel::bounded::<u32>(1);
            let (pong_tx, pong_rx) = channel::bounded::<u32>(1);
            rt.xasync(move || {
                let mut n = 0;
                loop {
                    ping_tx.send(n).unwrap();
                    n = pong_rx.recv().unwrap() + 1;
                }
            })
            .detach();
            rt.xasync(move || {
                while let Ok(n) = ping_rx.recv() {
                    pong_tx.send(n).unwrap();
                }
            })
            .detach();
        }
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown();
    });
}

#[test]
fn shutdown_ends_while_a_loaded_server_runs() {
    within(Duration::from_secs(20), "shutdown", || {
        let rt = runtime(2);
        let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rt.xasync(move || {
            while let Ok((stream, _)) = listener.accept() {
                xasync::xasync(move || {
                    let mut buf = [0; 64];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                        return;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                    let mut buf = [0; 5];
                    while !stop.load(Ordering::Relaxed) {
                        if s.write_all(b"hello").is_err() || s.read_exact(&mut buf).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        rt.shutdown();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }
    });
}

#[test]
fn shutdown_timeout_returns_despite_a_task_that_never_suspends() {
    let spinning = Arc::new(AtomicBool::new(true));
    let rt = runtime(2);
    let s = spinning.clone();
    rt.xasync(move || {
        while s.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    })
    .detach();
    rt.xasync(|| xasync::time::sleep(Duration::from_secs(3600)))
        .detach();
    std::thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    let finished = rt.shutdown_timeout(Duration::from_millis(50));
    assert!(!finished);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "shutdown_timeout took {:?}",
        start.elapsed()
    );
    spinning.store(false, Ordering::Relaxed); // lets the left-behind worker end
}

#[test]
fn shutdown_timeout_reports_a_yielding_task_as_unfinished() {
    let rt = runtime(1);
    rt.xasync(|| {
        loop {
            yield_now();
        }
    })
    .detach();
    std::thread::sleep(Duration::from_millis(10));
    assert!(!rt.shutdown_timeout(Duration::from_millis(30)));
}

#[test]
fn dropping_a_runtime_from_its_own_coroutine_does_not_deadlock() {
    within(Duration::from_secs(10), "the drop", || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        // Other tasks on both workers, waiting.
        for _ in 0..8 {
            handle
                .xasync(|| xasync::time::sleep(Duration::from_secs(3600)))
                .detach();
        }
        let h = handle.xasync(move || {
            drop(rt);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the drop returned");
        // The coroutine that dropped it finishes (or is cancelled).
        let _ = h.join();
    });
}

#[test]
fn spawning_after_shutdown_completes_with_a_cancellation() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    rt.shutdown();
    let h = handle.xasync(|| 1);
    assert!(h.join().unwrap_err().is_cancelled());
    let f = handle.spawn(async { 2 });
    assert!(f.join().unwrap_err().is_cancelled());
}

#[test]
fn spawns_racing_a_shutdown_all_complete() {
    for _ in 0..20 {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let go = Arc::new(AtomicBool::new(false));
        let spawners: Vec<_> = (0..3)
            .map(|i| {
                let handle = handle.clone();
                let go = go.clone();
                std::thread::spawn(move || {
                    while !go.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    (0..200)
                        .map(|j| {
                            if (i + j) % 2 == 0 {
                                handle.xasync(move || j)
                            } else {
                                handle.spawn(async move { j })
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        go.store(true, Ordering::Release);
        rt.shutdown();
        within(
            Duration::from_secs(10),
            "the racing spawns' joins",
            move || {
                for spawner in spawners {
                    for h in spawner.join().unwrap() {
                        match h.join() {
                            Ok(_) => {}
                            Err(e) => assert!(e.is_cancelled()),
                        }
                    }
                }
            },
        );
    }
}

/// A value whose destructor panics.
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a result's destructor panicked");
    }
}

/// Starts `n` detached coroutines on `rt` that each wait for one message
/// of `rx` (so that the worker registers them), then return `make()`; returns
/// once all of them wait.
fn waiting_once<T: Send + 'static>(
    rt: &Runtime,
    n: usize,
    rx: &channel::Receiver<()>,
    make: fn() -> T,
) {
    let waiting = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let rx = rx.clone();
        let w = waiting.clone();
        rt.xasync(move || {
            w.fetch_add(1, Ordering::SeqCst);
            let _ = rx.recv();
            make()
        })
        .detach();
    }
    while waiting.load(Ordering::SeqCst) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(10)); // into their waits
}

#[test]
fn a_panicking_destructor_of_a_detached_result_does_not_kill_the_worker() {
    let rt = runtime(1);
    let (tx, rx) = channel::unbounded::<()>();
    // Results nobody claims, whose destructors panic wherever the worker
    // drops them (at completion, or when it sweeps its registry).
    waiting_once(&rt, 100, &rx, || PanicOnDrop);
    for _ in 0..100 {
        tx.send(()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    // More tasks registering: the registry fills up and is swept.
    let (_keep, idle) = channel::unbounded::<()>();
    waiting_once(&rt, 100, &idle, || ());
    // The (only) worker still runs coroutines.
    within(Duration::from_secs(5), "a later task", move || {
        assert_eq!(rt.xasync(|| 7).join().unwrap(), 7);
        assert_eq!(
            rt.xasync(|| {
                xasync::time::sleep(Duration::from_millis(1));
                8
            })
            .join()
            .unwrap(),
            8
        );
    });
}

/// A waker that panics when woken.
struct PanickingWaker;
impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("a foreign waker panicked");
    }
}

#[test]
fn a_panicking_foreign_waker_does_not_kill_the_worker() {
    let rt = runtime(1);
    let (tx, rx) = channel::bounded::<()>(1);
    let mut h = rt.xasync(move || {
        let _ = rx.recv();
        5
    });
    // Poll the handle once from here with a waker that panics on wake-up:
    // the worker wakes it when the coroutine finishes.
    let waker = Waker::from(Arc::new(PanickingWaker));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
    tx.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    within(Duration::from_secs(5), "a later task", move || {
        assert_eq!(rt.xasync(|| 6).join().unwrap(), 6);
        drop(h);
    });
}

#[test]
fn a_finished_detached_task_frees_its_result_promptly() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    /// Counts its drops.
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = runtime(1);
    let (tx, rx) = channel::unbounded::<()>();
    waiting_once(&rt, 1, &rx, || Counted);
    tx.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while DROPS.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the result was kept");
    rt.shutdown();
}
