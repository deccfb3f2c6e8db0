//! How long a dump of many suspended coroutines takes, and the longest
//! pause it causes: coroutines that yield in a loop, one or more per
//! worker, record the longest time between two of their runs while the
//! dump is taken (docs/BENCHMARKS.md, issue 13).
//!
//! `cargo run --release -p xasync-examples --example dump_many [coroutines]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |arg| arg.parse().expect("a number of coroutines"));
    let rt = xasync::Runtime::builder()
        .workers(2)
        .build()
        .expect("runtime");
    let (tx, rx) = xasync::sync::channel::unbounded::<()>();
    let started = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..n)
        .map(|_| {
            let (rx, started) = (rx.clone(), started.clone());
            rt.xasync(move || {
                started.fetch_add(1, Ordering::Relaxed);
                let _ = rx.recv();
            })
        })
        .collect();
    while started.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tickers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            rt.xasync(move || {
                let mut longest = Duration::ZERO;
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    xasync::yield_now();
                    let now = Instant::now();
                    longest = longest.max(now - last);
                    last = now;
                }
                longest
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let dump = rt.dump();
    let taken = start.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let longest = tickers
        .into_iter()
        .map(|t| t.join().expect("ticker"))
        .max()
        .unwrap_or_default();
    let start = Instant::now();
    let text = dump.to_string();
    let printed = start.elapsed();
    println!(
        "{} coroutines listed in {taken:?} (longest pause of a ticker meanwhile {longest:?}); \
         printed ({} bytes) in {printed:?}",
        dump.tasks.len(),
        text.len()
    );
    if let Some(first) = dump.tasks.first() {
        print!("the first of them: {first}");
    }
    drop(tx);
    for waiter in waiters {
        waiter.join().expect("waiter");
    }
    rt.shutdown();
}
