//! Scheduler hot paths, one worker thread each: yield, spawn + join, and a
//! channel ping-pong; xasync vs may and tokio in the same run.
//!
//! `cargo bench -p xasync-bench --bench runtime [title words]`
//!
//! Every contender runs inside its runtime: xasync coroutines on a one-worker
//! [`Runtime`], may coroutines on one may worker, tokio tasks on a
//! current-thread runtime. Each sample enters the runtime once (a few
//! microseconds, amortized over the sample's operations).

use std::hint::black_box;
use xasync::sync::channel;
use xasync::{Runtime, xasync, xawait};
use xasync_bench::{Contender, compare};

const SAMPLES: usize = 21;

fn main() {
    // may's scheduler is global and reads its configuration once.
    may::config().set_workers(1);
    let rt = Runtime::builder()
        .workers(1)
        .build()
        .expect("xasync runtime");
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    yields(&rt, &tokio);
    spawn_join(&rt, &tokio);
    ping_pong(&rt, &tokio);
    rt.shutdown();
}

/// Runs `f` as a coroutine on `rt` and waits for it from this thread.
fn on<T: Send + 'static>(rt: &Runtime, f: impl FnOnce() -> T + Send + 'static) -> T {
    rt.xasync(f).join().expect("benchmark coroutine")
}

/// Runs `f` as a may coroutine and waits for it from this thread.
fn on_may<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    // SAFETY: `go!` is unsafe because a coroutine must not use thread-local
    // storage across a switch or block its thread; these bodies do neither.
    may::go!(f).join().expect("may coroutine")
}

/// A ping-pong of `n` round trips between two may coroutines over the
/// channels of `may::sync::$kind` (the spsc and mpsc types differ, so a
/// macro rather than a generic function).
macro_rules! may_ping_pong {
    ($kind:ident, $n:expr) => {{
        let n = $n;
        on_may(move || {
            let (ping, pinged) = may::sync::$kind::channel::<u64>();
            let (pong, ponged) = may::sync::$kind::channel::<u64>();
            let echo = may::go!(move || {
                while let Ok(v) = pinged.recv() {
                    pong.send(v + 1).unwrap();
                }
            });
            for i in 0..n {
                ping.send(i).unwrap();
                black_box(ponged.recv().unwrap());
            }
            drop(ping);
            echo.join().unwrap();
        })
    }};
}

/// Two coroutines (tasks) on one worker yield to each other; the time per
/// yield (`n` yields in all, half each).
fn yields(rt: &Runtime, tokio: &tokio::runtime::Runtime) {
    compare(
        "yield through the scheduler, 2 coroutines on 1 worker (per yield)",
        vec![
            Contender::new("xasync coroutines", |n| {
                on(rt, move || {
                    let yielder = move || {
                        for _ in 0..n / 2 {
                            xasync::yield_now();
                        }
                    };
                    let (a, b) = (xasync(yielder), xasync(yielder));
                    xawait(a);
                    xawait(b);
                })
            }),
            Contender::new("xasync futures", |n| {
                on(rt, move || {
                    let yielder = move || async move {
                        for _ in 0..n / 2 {
                            xasync::yield_now_async().await;
                        }
                    };
                    let (a, b) = (xasync::spawn(yielder()), xasync::spawn(yielder()));
                    xawait(a);
                    xawait(b);
                })
            }),
            Contender::new("may", |n| {
                on_may(move || {
                    let yielder = move || {
                        for _ in 0..n / 2 {
                            may::coroutine::yield_now();
                        }
                    };
                    let (a, b) = (may::go!(yielder), may::go!(yielder));
                    a.join().unwrap();
                    b.join().unwrap();
                })
            }),
            Contender::new("tokio current-thread", |n| {
                tokio.block_on(async move {
                    let yielder = move || async move {
                        for _ in 0..n / 2 {
                            tokio::task::yield_now().await;
                        }
                    };
                    let (a, b) = (tokio::spawn(yielder()), tokio::spawn(yielder()));
                    a.await.unwrap();
                    b.await.unwrap();
                })
            }),
        ],
        2_000_000,
        SAMPLES,
    );
}

/// From inside the runtime: start an empty coroutine (task) and wait for
/// it, `n` times.
fn spawn_join(rt: &Runtime, tokio: &tokio::runtime::Runtime) {
    compare(
        "spawn + join of an empty coroutine, 1 worker",
        vec![
            Contender::new("xasync coroutine", |n| {
                on(rt, move || {
                    for i in 0..n {
                        black_box(xawait(xasync(move || black_box(i))));
                    }
                })
            }),
            Contender::new("xasync future", |n| {
                on(rt, move || {
                    for i in 0..n {
                        black_box(xawait(xasync::spawn(async move { black_box(i) })));
                    }
                })
            }),
            Contender::new("may", |n| {
                on_may(move || {
                    for i in 0..n {
                        black_box(may::go!(move || black_box(i)).join().unwrap());
                    }
                })
            }),
            Contender::new("tokio current-thread", |n| {
                tokio.block_on(async move {
                    for i in 0..n {
                        black_box(tokio::spawn(async move { black_box(i) }).await.unwrap());
                    }
                })
            }),
        ],
        200_000,
        SAMPLES,
    );
}

/// Two coroutines (tasks) on one worker bounce a value over two channels;
/// the time per round trip.
fn ping_pong(rt: &Runtime, tokio: &tokio::runtime::Runtime) {
    /// The xasync ping-pong over channels made by `make`.
    fn xasync_ping_pong(
        rt: &Runtime,
        n: u64,
        make: fn() -> (channel::Sender<u64>, channel::Receiver<u64>),
    ) {
        on(rt, move || {
            let ((ping, pinged), (pong, ponged)) = (make(), make());
            let echo = xasync(move || {
                while let Ok(v) = pinged.recv() {
                    pong.send(v + 1).unwrap();
                }
            });
            for i in 0..n {
                ping.send(i).unwrap();
                black_box(ponged.recv().unwrap());
            }
            drop(ping);
            xawait(echo);
        })
    }
    compare(
        "channel ping-pong between two coroutines, 1 worker (per round trip)",
        vec![
            Contender::new("xasync bounded(1)", |n| {
                xasync_ping_pong(rt, n, || channel::bounded(1))
            }),
            Contender::new("xasync unbounded", |n| {
                xasync_ping_pong(rt, n, channel::unbounded)
            }),
            Contender::new("may spsc", |n| may_ping_pong!(spsc, n)),
            Contender::new("may mpsc", |n| may_ping_pong!(mpsc, n)),
            Contender::new("tokio mpsc(1) current-thread", |n| {
                tokio.block_on(async move {
                    let (ping, mut pinged) = tokio::sync::mpsc::channel::<u64>(1);
                    let (pong, mut ponged) = tokio::sync::mpsc::channel::<u64>(1);
                    let echo = tokio::spawn(async move {
                        while let Some(v) = pinged.recv().await {
                            pong.send(v + 1).await.unwrap();
                        }
                    });
                    let pinger = tokio::spawn(async move {
                        for i in 0..n {
                            ping.send(i).await.unwrap();
                            black_box(ponged.recv().await.unwrap());
                        }
                    });
                    pinger.await.unwrap();
                    echo.await.unwrap();
                })
            }),
        ],
        500_000,
        SAMPLES,
    );
}
