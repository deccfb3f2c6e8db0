//! A bounded stress test of the runtime's life cycle: fresh runtimes with
//! two workers each run coroutines and futures that sleep, receive, send,
//! lock, yield, spawn children and panic at random, while the main thread
//! cancels, detaches and joins them at random, then shuts the runtime down
//! with work in flight. Some destructors wait (they lock or sleep), so
//! cancellations and the shutdown go through waits in destructors.
//!
//! Asserts that every destructor ran exactly once, that nothing hangs, and
//! that neither file descriptors nor memory grow across iterations. Alone
//! in its binary, since it counts the process's descriptors and memory.
//!
//! `XASYNC_STRESS_ITERATIONS` (default 400) and `XASYNC_STRESS_SEED` make
//! longer or different runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xasync::sync::{Mutex, channel};
use xasync::{JoinHandle, Runtime};

/// SplitMix64: small, seedable, good enough to pick actions.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Counts constructions and destructions of `Tracked` values.
#[derive(Default)]
struct Census {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

/// A value whose destructor is counted and may wait (lock, sleep).
struct Tracked {
    census: Arc<Census>,
    wait: Wait,
    lock: Arc<Mutex<u64>>,
}

#[derive(Clone, Copy)]
enum Wait {
    Nothing,
    Lock,
    Sleep,
}

impl Tracked {
    fn new(census: &Arc<Census>, wait: Wait, lock: &Arc<Mutex<u64>>) -> Tracked {
        census.made.fetch_add(1, Ordering::SeqCst);
        Tracked {
            census: census.clone(),
            wait,
            lock: lock.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Counted first: a cancellation that arrives while the wait below
        // is suspended unwinds from it, out of this destructor.
        self.census.dropped.fetch_add(1, Ordering::SeqCst);
        // Only coroutines make values that wait here (a future's
        // destructors run inside a poll, where nothing may wait).
        match self.wait {
            Wait::Nothing => {}
            Wait::Lock => *self.lock.lock() += 1,
            Wait::Sleep => xasync::time::sleep(Duration::from_micros(300)),
        }
    }
}

/// What one iteration's tasks share.
#[derive(Clone)]
struct World {
    census: Arc<Census>,
    lock: Arc<Mutex<u64>>,
    tx: channel::Sender<u64>,
    rx: channel::Receiver<u64>,
    handle: xasync::Handle,
    panics: Arc<AtomicUsize>,
}

/// The body of a coroutine: random steps, each of which may wait.
fn coroutine_body(world: World, mut rng: Rng, depth: u32) -> u64 {
    let waits = [Wait::Nothing, Wait::Lock, Wait::Sleep];
    let _guard = Tracked::new(&world.census, waits[rng.below(3) as usize], &world.lock);
    let mut sum: u64 = 0;
    let mut children = Vec::new();
    for _ in 0..rng.below(12) {
        match rng.below(8) {
            0 => xasync::time::sleep(Duration::from_micros(rng.below(2000))),
            1 => {
                if let Ok(v) = world
                    .rx
                    .recv_timeout(Duration::from_micros(rng.below(1500)))
                {
                    sum = sum.wrapping_add(v);
                }
            }
            2 => {
                let _ = world
                    .tx
                    .send_timeout(rng.next(), Duration::from_micros(rng.below(1500)));
            }
            3 => {
                let mut held = world.lock.lock();
                *held += 1;
                if rng.chance(50) {
                    xasync::yield_now(); // holds the lock across a switch
                }
            }
            4 => xasync::yield_now(),
            5 if depth < 2 => {
                let w = world.clone();
                let child_rng = Rng(rng.next());
                let child = world
                    .handle
                    .xasync(move || coroutine_body(w, child_rng, depth + 1));
                if rng.chance(50) {
                    children.push(child);
                } else {
                    child.detach();
                }
            }
            6 if rng.chance(10) => {
                world.panics.fetch_add(1, Ordering::SeqCst);
                panic!("a random panic");
            }
            _ => {
                let _local = Tracked::new(&world.census, Wait::Nothing, &world.lock);
                std::hint::black_box(&_local);
            }
        }
    }
    for child in children {
        if let Ok(v) = child.join() {
            sum = sum.wrapping_add(v);
        }
    }
    sum
}

/// The body of a future task: the same kinds of steps, awaited.
async fn future_body(world: World, mut rng: Rng) -> u64 {
    let _guard = Tracked::new(&world.census, Wait::Nothing, &world.lock);
    let mut sum: u64 = 0;
    for _ in 0..rng.below(12) {
        match rng.below(6) {
            0 => xasync::time::sleep_async(Duration::from_micros(rng.below(2000))).await,
            1 => {
                let recv = world.rx.recv_async();
                let limit = Duration::from_micros(rng.below(1500));
                if let Ok(Ok(v)) = xasync::time::timeout_async(limit, recv).await {
                    sum = sum.wrapping_add(v);
                }
            }
            2 => {
                let send = world.tx.send_async(rng.next());
                let limit = Duration::from_micros(rng.below(1500));
                let _ = xasync::time::timeout_async(limit, send).await;
            }
            3 => {
                let mut held = world.lock.lock_async().await;
                *held += 1;
                xasync::yield_now_async().await;
            }
            4 if rng.chance(10) => {
                world.panics.fetch_add(1, Ordering::SeqCst);
                panic!("a random panic");
            }
            _ => xasync::yield_now_async().await,
        }
    }
    sum
}

/// One runtime's life: spawn, disturb, shut down with work in flight.
fn iteration(seed: u64) -> (usize, usize) {
    let mut rng = Rng(seed);
    let rt = Runtime::builder()
        .workers(2)
        .thread_name(format!("stress-{seed}"))
        .build()
        .unwrap();
    let (tx, rx) = channel::bounded(4);
    let world = World {
        census: Arc::default(),
        lock: Arc::new(Mutex::new(0)),
        tx,
        rx,
        handle: rt.handle().clone(),
        panics: Arc::default(),
    };
    let mut handles: Vec<JoinHandle<u64>> = Vec::new();
    for _ in 0..40 {
        let task_rng = Rng(rng.next());
        let w = world.clone();
        if rng.chance(70) {
            handles.push(rt.xasync(move || coroutine_body(w, task_rng, 0)));
        } else {
            handles.push(rt.spawn(future_body(w, task_rng)));
        }
    }
    // Some that stay in flight until the shutdown.
    for _ in 0..4 {
        let w = world.clone();
        rt.xasync(move || {
            let _guard = Tracked::new(&w.census, Wait::Lock, &w.lock);
            xasync::time::sleep(Duration::from_secs(3600));
        })
        .detach();
    }
    std::thread::sleep(Duration::from_micros(rng.below(3000)));
    for handle in handles {
        match rng.below(4) {
            0 => handle.cancel(),
            1 => handle.detach(),
            2 => {
                let _ = handle.join_timeout(Duration::from_micros(rng.below(2000)));
            }
            _ => {
                if let Err(e) = handle.join() {
                    assert!(e.is_panic() || e.is_cancelled(), "{e}");
                }
            }
        }
    }
    if rng.chance(50) {
        rt.shutdown();
    } else {
        drop(rt);
    }
    let made = world.census.made.load(Ordering::SeqCst);
    let dropped = world.census.dropped.load(Ordering::SeqCst);
    (made, dropped)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn runtimes_under_random_load_cancels_panics_and_shutdowns() {
    // Random panics are expected; keep their messages out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let random = info.payload().downcast_ref::<&str>() == Some(&"a random panic");
        if !random {
            default_hook(info);
        }
    }));
    let iterations = env_u64("XASYNC_STRESS_ITERATIONS", 400);
    let seed = env_u64("XASYNC_STRESS_SEED", 0x5eed);
    let warm_up = iterations.min(20);
    // Measured after a warm-up: the main thread's timed joins start the
    // default runtime, and allocators keep some memory.
    let mut fds_before = 0;
    let mut rss_after_warm_up = 0;
    let started = Instant::now();
    let total = Arc::new(AtomicU64::new(0));
    for i in 0..iterations {
        let iteration_seed = seed.wrapping_add(i);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(iteration(iteration_seed));
        });
        let (made, dropped) = done_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("iteration {i} (seed {iteration_seed}) hung"));
        assert_eq!(
            made, dropped,
            "iteration {i} (seed {iteration_seed}): {made} values made, {dropped} dropped"
        );
        total.fetch_add(made as u64, Ordering::Relaxed);

        if i + 1 == warm_up {
            fds_before = open_fds();
            rss_after_warm_up = rss_kib();
        }
    }
    let fds_after = open_fds();
    assert!(
        fds_after <= fds_before + 2,
        "descriptors grew from {fds_before} to {fds_after}: runtimes leaked"
    );
    let rss_growth = rss_kib().saturating_sub(rss_after_warm_up);
    assert!(
        rss_growth < 32 * 1024,
        "RSS grew by {rss_growth} KiB after the warm-up"
    );
    eprintln!(
        "stress: {iterations} runtimes, {} tracked values, {:?}, RSS growth after warm-up {rss_growth} KiB",
        total.load(Ordering::Relaxed),
        started.elapsed()
    );
}
