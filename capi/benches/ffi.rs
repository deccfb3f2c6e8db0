//! The cost of the C ABI: starting an empty coroutine and waiting for it
//! through `xasync_spawn` + `xasync_await` (what a C program calls: handle
//! table, `catch_unwind` guards, the C-function trampoline) against the Rust
//! `xasync` + `xawait`, interleaved in the same run, on the default runtime
//! with one worker.
//!
//! `cargo bench -p xasync-ffi --bench ffi [title words]`

use std::ffi::c_void;
use std::hint::black_box;
use std::ptr;
use xasync::{xasync, xawait};
use xasync_bench::{Contender, measure, selected};
use xasync_ffi::{
    XASYNC_CURRENT_RUNTIME, xasync_await, xasync_runtime, xasync_spawn, xasync_status, xasync_task,
};

const SAMPLES: usize = 21;

/// The C function of the benchmark: returns its argument.
extern "C" fn identity(arg: *mut c_void) -> *mut c_void {
    black_box(arg)
}

/// Starts `identity(i)` on `rt` through the C ABI and waits for it.
fn c_spawn_await(rt: xasync_runtime, i: u64) {
    let mut task = xasync_task { id: 0 };
    let mut result = ptr::null_mut();
    // SAFETY: `identity` is a C-ABI function that does not unwind; both
    // out-pointers are valid locals.
    let status = unsafe {
        xasync_spawn(rt, Some(identity), i as *mut c_void, &mut task);
        xasync_await(task, &mut result)
    };
    assert_eq!(status, xasync_status::XASYNC_OK);
    black_box(result);
}

/// Prints the medians of the Rust API and the C ABI and their ratio.
fn report(title: &str, rust: Contender<'_>, c: Contender<'_>, iters: u64) {
    if !selected(title) {
        return;
    }
    let medians = measure(&mut [rust, c], iters, SAMPLES);
    let (rust, c) = (medians[0], medians[1]);
    println!("{title}");
    println!("  {:<36} {rust:>10.2} ns/op", "Rust: xasync + xawait");
    println!(
        "  {:<36} {c:>10.2} ns/op",
        "C ABI: xasync_spawn + xasync_await"
    );
    println!(
        "  C / Rust = {:.3} (+{:.1} ns per spawn + await)",
        c / rust,
        c - rust
    );
}

fn main() {
    // Both APIs use the default runtime, with one worker.
    // SAFETY: no other thread exists yet to read the environment.
    unsafe { std::env::set_var("XASYNC_WORKERS", "1") };

    // Inside a coroutine: both loops run as a coroutine, and spawn on its
    // runtime (the C ABI's XASYNC_CURRENT_RUNTIME is that runtime too).
    report(
        "spawn + await of an empty coroutine, from a coroutine, 1 worker",
        Contender::new("rust", |n| {
            xawait(xasync(move || {
                for i in 0..n {
                    black_box(xawait(xasync(move || black_box(i))));
                }
            }))
        }),
        Contender::new("c", |n| {
            xawait(xasync(move || {
                for i in 0..n {
                    c_spawn_await(XASYNC_CURRENT_RUNTIME, i);
                }
            }))
        }),
        200_000,
    );

    // From the main thread, which blocks in each await: includes the
    // thread's park and unpark.
    report(
        "spawn + await of an empty coroutine, from a plain thread, 1 worker",
        Contender::new("rust", |n| {
            for i in 0..n {
                black_box(xawait(xasync(move || black_box(i))));
            }
        }),
        Contender::new("c", |n| {
            for i in 0..n {
                c_spawn_await(XASYNC_CURRENT_RUNTIME, i);
            }
        }),
        50_000,
    );
}
