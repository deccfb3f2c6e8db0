//! Memory per sleeping coroutine: N coroutines (tasks) started at once, all
//! asleep; resident memory (`VmRSS`) before and while they sleep, divided
//! by N, and the process's memory mappings (lines of `/proc/self/maps`)
//! while they sleep; the time to start them all, as wall time and as the
//! CPU time the process used meanwhile (which a busy machine inflates
//! less). Each contender and size runs in a fresh process (a contender that
//! crashes, as may does past its mapping limit, is reported, not fatal).
//! All runtimes use their default worker count; stacks their default size
//! (xasync 64 KiB, may 32 KiB).
//!
//! Go goroutines (`bench/go/sleepers.go`, built with `go build` here, default
//! `GOMAXPROCS`) are the fourth contender when a Go toolchain is installed.
//!
//! `cargo bench -p xasync-bench --bench memory [xasync|may|tokio|go]`

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use xasync_bench::{
    build_go, child_role, exit_on_panic, field, max_map_count, median, run_child, run_process,
    selected, vm_rss_kib,
};

/// Coroutines per run.
const SIZES: [usize; 2] = [30_000, 1_000_000];
/// Runs per contender and size; the table shows medians.
const RUNS: usize = 3;
/// How often a sleeping coroutine wakes to check whether to stop.
const PERIOD: Duration = Duration::from_secs(1);
/// A child that takes longer is killed (and reported).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Sleepers that have started.
static STARTED: AtomicUsize = AtomicUsize::new(0);
/// Set when the sleepers may finish.
static STOP: AtomicBool = AtomicBool::new(false);

fn main() {
    if let Some(role) = child_role() {
        return child(&role);
    }
    println!(
        "memory per sleeping coroutine (vm.max_map_count = {}), median of {RUNS} fresh processes",
        max_map_count().map_or("?".into(), |m| m.to_string())
    );
    let go = selected("go").then(|| build_go("sleepers"));
    for n in SIZES {
        let mut results: Vec<(&str, Result<Vec<String>, String>)> = Vec::new();
        for contender in ["xasync", "tokio", "may"] {
            if !selected(contender) {
                continue;
            }
            let runs: Result<Vec<String>, String> = (0..RUNS)
                .map(|_| run_child(&format!("{contender}:{n}"), TIMEOUT))
                .collect();
            results.push((contender, runs));
        }
        if let Some(go) = &go {
            let runs = (0..RUNS)
                .map(|_| {
                    let mut command = std::process::Command::new(go.clone()?);
                    command.arg(n.to_string());
                    run_process(command, TIMEOUT)
                })
                .collect();
            results.push(("go", runs));
        }
        report(n, &results);
    }
}

/// Prints one size's table: KiB per coroutine, time to start them all and
/// to finish once woken, mappings while asleep; ratios of xasync to each
/// peer, of memory and of the CPU time to start them all.
fn report(n: usize, results: &[(&str, Result<Vec<String>, String>)]) {
    println!("{n} sleeping coroutines");
    // The median of one figure over a contender's runs.
    let median_of = |runs: &[String], key| {
        median(
            runs.iter()
                .map(|o| field(o, key).unwrap_or(f64::NAN))
                .collect(),
        )
    };
    let ours = results
        .iter()
        .find(|(name, _)| *name == "xasync")
        .and_then(|(_, runs)| runs.as_ref().ok());
    for (name, runs) in results {
        match runs {
            Ok(runs) => {
                let ratio = match ours {
                    Some(ours) if *name != "xasync" => {
                        let of = |key| median_of(ours, key) / median_of(runs, key);
                        format!(
                            "   xasync / {name}: memory {:.3}, start CPU {:.3}",
                            of("kib_per"),
                            of("start_cpu_ms")
                        )
                    }
                    _ => String::new(),
                };
                println!(
                    "  {name:<8} {:>8.2} KiB each  (all started in {:>6.0} ms, {:>6.0} ms of CPU; all joined {:>6.0} ms after the stop; {:>6.0} mappings){ratio}",
                    median_of(runs, "kib_per"),
                    median_of(runs, "start_ms"),
                    median_of(runs, "start_cpu_ms"),
                    median_of(runs, "finish_ms"),
                    median_of(runs, "maps"),
                );
            }
            Err(failure) => println!("  {name:<8} FAILED: {failure}"),
        }
    }
}

/// CPU time used so far by the whole process, all threads: the start time's
/// counterpart that other processes on the machine do not inflate.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A sleeper's body, for the stackful runtimes.
fn sleeper(sleep: fn(Duration)) {
    STARTED.fetch_add(1, Ordering::Relaxed);
    while !STOP.load(Ordering::Relaxed) {
        sleep(PERIOD);
    }
}

/// Runs one contender with `n` sleepers and prints `key=value` figures.
fn child(role: &str) {
    let (name, n) = role.split_once(':').expect("role name:count");
    let n: usize = n.parse().expect("a count");
    // may's failed stack mapping panics in the spawning coroutine.
    exit_on_panic();
    let measure = |start: &dyn Fn(), finish: &dyn Fn()| {
        let before = vm_rss_kib();
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        start();
        while STARTED.load(Ordering::Relaxed) < n {
            thread::sleep(Duration::from_millis(1));
        }
        let start_ms = t0.elapsed().as_secs_f64() * 1e3;
        let start_cpu_ms = (cpu_time() - cpu0).as_secs_f64() * 1e3;
        // Let the last ones reach their sleep.
        thread::sleep(Duration::from_millis(200));
        let during = vm_rss_kib();
        let maps = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
        let t1 = Instant::now();
        STOP.store(true, Ordering::Relaxed);
        finish();
        let finish_ms = t1.elapsed().as_secs_f64() * 1e3;
        let kib_per = (during.saturating_sub(before)) as f64 / n as f64;
        println!(
            "before_kib={before} during_kib={during} kib_per={kib_per:.3} start_ms={start_ms:.1} start_cpu_ms={start_cpu_ms:.1} finish_ms={finish_ms:.1} maps={maps}"
        );
    };
    match name {
        "xasync" => {
            let rt = xasync::Runtime::new().expect("xasync runtime");
            rt.xasync(|| ()).join().unwrap(); // start the workers
            let all = std::cell::RefCell::new(None);
            measure(
                &|| {
                    *all.borrow_mut() = Some(rt.xasync(move || {
                        let handles: Vec<_> = (0..n)
                            .map(|_| xasync::xasync(|| sleeper(xasync::time::sleep)))
                            .collect();
                        handles.into_iter().for_each(|h| h.join().unwrap());
                    }))
                },
                &|| all.borrow_mut().take().unwrap().join().unwrap(),
            );
        }
        "may" => {
            may::go!(|| ()).join().unwrap(); // start the workers
            let all = std::cell::RefCell::new(None);
            measure(
                &|| {
                    *all.borrow_mut() = Some(may::go!(move || {
                        let handles: Vec<_> = (0..n)
                            .map(|_| may::go!(|| sleeper(may::coroutine::sleep)))
                            .collect();
                        handles.into_iter().for_each(|h| h.join().unwrap());
                    }))
                },
                &|| {
                    if let Err(panic) = all.borrow_mut().take().unwrap().join() {
                        std::panic::resume_unwind(panic)
                    }
                },
            );
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_time()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {});
            let all = std::cell::RefCell::new(None);
            measure(
                &|| {
                    *all.borrow_mut() = Some(rt.spawn(async move {
                        let handles: Vec<_> = (0..n)
                            .map(|_| {
                                tokio::spawn(async {
                                    STARTED.fetch_add(1, Ordering::Relaxed);
                                    while !STOP.load(Ordering::Relaxed) {
                                        tokio::time::sleep(PERIOD).await;
                                    }
                                })
                            })
                            .collect();
                        for h in handles {
                            h.await.unwrap();
                        }
                    }))
                },
                &|| rt.block_on(all.borrow_mut().take().unwrap()).unwrap(),
            );
        }
        other => panic!("unknown contender {other}"),
    }
}
