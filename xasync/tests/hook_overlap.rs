//! Feature `hook`: unmodified blocking code — `std::thread::sleep`,
//! `std::net`, ureq, the redis sync client — in 50 coroutines on one
//! worker, each waiting 200 ms, overlaps: the whole takes about 200 ms,
//! where blocking the worker would take 50 × 200 ms = 10 s.
#![cfg(all(feature = "hook", target_os = "linux"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use xasync::{Runtime, xawait};

const COROUTINES: usize = 50;
const WAIT: Duration = Duration::from_millis(200);
/// Well under the 10 s of a blocked worker, and far above the 0.2 s of
/// overlapping waits: a loaded machine cannot make this test fail.
const OVERLAPPING: Duration = Duration::from_millis(1500);

/// Runs `body` in 50 coroutines on a 1-worker runtime; returns how long
/// they took together.
fn fifty_on_one_worker(body: impl Fn(usize) + Send + Sync + Clone + 'static) -> Duration {
    let runtime = Runtime::builder().workers(1).build().unwrap();
    let start = Instant::now();
    let handles: Vec<_> = (0..COROUTINES)
        .map(|i| {
            let body = body.clone();
            runtime.xasync(move || body(i))
        })
        .collect();
    for handle in handles {
        xawait(handle);
    }
    start.elapsed()
}

fn assert_overlapped(what: &str, took: Duration) {
    eprintln!("{what}: {COROUTINES} coroutines x {WAIT:?} on 1 worker took {took:?}");
    assert!(
        took < OVERLAPPING,
        "{what}: took {took:?}, the waits did not overlap"
    );
}

#[test]
fn std_thread_sleep_overlaps() {
    let took = fifty_on_one_worker(|_| std::thread::sleep(WAIT));
    assert_overlapped("std::thread::sleep", took);
}
