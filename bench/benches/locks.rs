//! The spin lock behind every `xasync_core::sync` primitive, measured
//! through a channel (its only public way in): alone on one thread, and
//! hammered by as many threads as cores and by more threads than cores,
//! against the same work behind `std::sync::Mutex` and `parking_lot::Mutex`
//! in the same run.
//!
//! `cargo bench -p xasync-bench --bench locks [title words]`
//!
//! Two operations, each on one shared queue:
//!
//! * **lock round trip**: `Receiver::len` (lock, read the length, unlock)
//!   against `mutex.lock().len()` on a `VecDeque`;
//! * **send + receive**: `try_send` then `try_recv` on an unbounded
//!   channel (two lock round trips that push and pop) against
//!   `push_back` then `pop_front` under the mutex.
//!
//! A sample starts the threads, lets them go at once through a barrier and
//! ends when the last has done its share; the time per operation is the
//! sample's wall time over the operations of all threads. With more threads
//! than cores the scheduler preempts some of them while they hold the lock,
//! which is where a lock that only spins loses whole time slices.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Barrier;
use xasync_bench::{Contender, compare};
use xasync_core::sync::channel;

const SAMPLES: usize = 11;
/// Operations per sample, over all threads.
const OPS: u64 = 2_000_000;

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, cores, 2 * cores] {
        round_trips(threads, cores);
        send_receive(threads, cores);
    }
}

/// Runs `op` `n` times in all, split over `threads` threads started
/// together.
fn hammer(threads: usize, n: u64, op: impl Fn(u64) + Sync) {
    let share = n / threads as u64;
    let start = Barrier::new(threads);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start.wait();
                for i in 0..share {
                    op(i);
                }
            });
        }
    });
}

/// The title of a comparison with `threads` threads on `cores` cores.
fn title(what: &str, threads: usize, cores: usize) -> String {
    format!("{what}, {threads} thread(s) on {cores} core(s) (per operation)")
}

fn round_trips(threads: usize, cores: usize) {
    let (tx, rx) = channel::unbounded::<u64>();
    tx.try_send(1).expect("open channel");
    let std_queue = std::sync::Mutex::new(VecDeque::from([1_u64]));
    let pl_queue = parking_lot::Mutex::new(VecDeque::from([1_u64]));
    compare(
        &title("lock round trip", threads, cores),
        vec![
            Contender::new("xasync spin lock", |n| {
                hammer(threads, n, |_| {
                    black_box(rx.len());
                })
            }),
            Contender::new("std Mutex", |n| {
                hammer(threads, n, |_| {
                    black_box(std_queue.lock().expect("not poisoned").len());
                })
            }),
            Contender::new("parking_lot Mutex", |n| {
                hammer(threads, n, |_| {
                    black_box(pl_queue.lock().len());
                })
            }),
        ],
        OPS,
        SAMPLES,
    );
}

fn send_receive(threads: usize, cores: usize) {
    let (tx, rx) = channel::unbounded::<u64>();
    let std_queue = std::sync::Mutex::new(VecDeque::new());
    let pl_queue = parking_lot::Mutex::new(VecDeque::new());
    compare(
        &title("send + receive", threads, cores),
        vec![
            Contender::new("xasync spin lock", |n| {
                hammer(threads, n, |i| {
                    tx.try_send(i).expect("open channel");
                    black_box(rx.try_recv().expect("a value per thread"));
                })
            }),
            Contender::new("std Mutex", |n| {
                hammer(threads, n, |i| {
                    std_queue.lock().expect("not poisoned").push_back(i);
                    black_box(std_queue.lock().expect("not poisoned").pop_front());
                })
            }),
            Contender::new("parking_lot Mutex", |n| {
                hammer(threads, n, |i| {
                    pl_queue.lock().push_back(i);
                    black_box(pl_queue.lock().pop_front());
                })
            }),
        ],
        OPS,
        SAMPLES,
    );
}
