//! A runtime that shut down frees everything, even when a timer outlived
//! the sleep that registered it (a `Sleep` completed by the clock before
//! the wheel fired it keeps its task's waker there, and the task keeps the
//! runtime). Alone in its binary: it counts the process's file descriptors.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn shutdown_frees_the_runtime_when_a_completed_sleep_left_its_timer() {
    let before = open_fds();
    for _ in 0..20 {
        let rt = xasync::Runtime::builder().workers(1).build().unwrap();
        let h = rt.xasync(|| {
            // Register a timer, then let the deadline pass without letting
            // the worker fire it: the next poll completes by the clock.
            let mut sleep = pin!(xasync::time::sleep_async(Duration::from_micros(200)));
            let first = xasync::xawait(std::future::poll_fn(|cx| {
                Poll::Ready(sleep.as_mut().poll(cx).is_ready())
            }));
            let deadline = sleep.deadline().unwrap();
            while Instant::now() < deadline {
                std::hint::spin_loop();
            }
            first
                || xasync::xawait(std::future::poll_fn(|cx| {
                    Poll::Ready(sleep.as_mut().poll(cx).is_ready())
                }))
        });
        assert!(h.join().unwrap());
        rt.shutdown();
    }
    // Each leaked runtime would keep its epoll and event descriptors.
    assert!(
        open_fds() <= before + 2,
        "descriptors grew from {before} to {}: runtimes leaked",
        open_fds()
    );
}
