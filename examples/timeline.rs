//! Writes a timeline of a small program to `timeline.json` (or the path
//! given): open it in Perfetto (ui.perfetto.dev) or `chrome://tracing`.
//! One track per worker shows when it ran which coroutine, slept, was
//! woken, and the stall the watchdog caught (a coroutine that computes for
//! 150 ms without suspending, reported on standard error too).
//!
//! `cargo run -p xasync-examples --example timeline [path]`

use std::time::{Duration, Instant};
use xasync::task::Builder;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "timeline.json".into());
    let rt = xasync::Runtime::builder()
        .workers(2)
        .trace(&path)
        .build()
        .expect("runtime");
    let mut handles = Vec::new();
    for i in 0..8 {
        handles.push(Builder::new().name(format!("client {i}")).xasync_on(
            rt.handle(),
            move || {
                for _ in 0..10 {
                    xasync::time::sleep(Duration::from_millis(5 + i));
                    xasync::yield_now();
                }
            },
        ));
    }
    handles.push(
        Builder::new()
            .name("number cruncher")
            .xasync_on(rt.handle(), || {
                let end = Instant::now() + Duration::from_millis(150);
                while Instant::now() < end {
                    std::hint::spin_loop(); // never suspends: a stall
                }
            }),
    );
    xasync::join_all(handles);
    println!("stalls: {}", rt.metrics().stalls);
    rt.shutdown();
    println!("wrote {path}");
}
