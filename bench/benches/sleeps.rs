//! 1,000,000 coroutines (tasks), each sleeping a random 0–100 ms: wall time
//! from the first spawn until all are joined. Every contender spawns from
//! inside its runtime (default worker count) and sleeps the same
//! pseudo-random durations; each run is a fresh process, and contenders
//! alternate run by run.
//!
//! `cargo bench -p xasync-bench --bench sleeps [xasync|may|tokio]`

use std::time::{Duration, Instant};
use xasync_bench::{
    SplitMix64, child_role, exit_on_panic, field, median, run_child, selected, vm_hwm_kib,
};

/// Sleeping coroutines per run.
const COUNT: usize = 1_000_000;
/// Longest sleep, in ms (inclusive).
const MAX_MS: u64 = 100;
/// Runs per contender; the table shows medians.
const RUNS: usize = 5;
/// A child that takes longer is killed (and reported).
const TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    if let Some(role) = child_role() {
        return child(&role);
    }
    let contenders: Vec<&str> = ["xasync", "tokio", "may"]
        .into_iter()
        .filter(|c| selected(c))
        .collect();
    let mut outputs: Vec<Vec<Result<String, String>>> = vec![Vec::new(); contenders.len()];
    for _ in 0..RUNS {
        for (contender, runs) in contenders.iter().zip(&mut outputs) {
            runs.push(run_child(contender, TIMEOUT));
        }
    }
    println!(
        "{COUNT} random sleeps of 0-{MAX_MS} ms, default workers, median of {RUNS} fresh processes"
    );
    let medians: Vec<Option<(f64, f64)>> = outputs
        .iter()
        .map(|runs| {
            let ok: Vec<&String> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
            (ok.len() == runs.len()).then(|| {
                let of = |key| {
                    median(
                        ok.iter()
                            .map(|o| field(o, key).unwrap_or(f64::NAN))
                            .collect(),
                    )
                };
                (of("ms"), of("peak_mib"))
            })
        })
        .collect();
    let ours = contenders
        .iter()
        .position(|c| *c == "xasync")
        .and_then(|i| medians[i]);
    for ((name, runs), median) in contenders.iter().zip(&outputs).zip(&medians) {
        match median {
            Some((ms, peak)) => {
                let ratio = match ours {
                    Some((our_ms, _)) if *name != "xasync" => {
                        format!("   xasync / {name} = {:.3}", our_ms / ms)
                    }
                    _ => String::new(),
                };
                println!("  {name:<8} {ms:>8.0} ms   peak RSS {peak:>6.0} MiB{ratio}");
            }
            None => {
                let failure = runs
                    .iter()
                    .find_map(|r| r.as_ref().err())
                    .expect("a failure");
                println!("  {name:<8} FAILED: {failure}");
            }
        }
    }
}

/// The sleep of coroutine `i`, the same for every contender.
fn durations() -> Vec<Duration> {
    let mut rng = SplitMix64::new(0x5eed);
    (0..COUNT)
        .map(|_| Duration::from_millis(rng.below(MAX_MS + 1)))
        .collect()
}

/// Runs one contender and prints `ms=` (wall time) and `peak_mib=`.
fn child(role: &str) {
    exit_on_panic();
    let sleeps = durations();
    let elapsed = match role {
        "xasync" => {
            let rt = xasync::Runtime::new().expect("xasync runtime");
            rt.xasync(|| ()).join().unwrap(); // start the workers
            let start = Instant::now();
            rt.xasync(move || {
                let handles: Vec<_> = sleeps
                    .into_iter()
                    .map(|d| xasync::xasync(move || xasync::time::sleep(d)))
                    .collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
            })
            .join()
            .unwrap();
            start.elapsed()
        }
        "may" => {
            may::go!(|| ()).join().unwrap(); // start the workers
            let start = Instant::now();
            may::go!(move || {
                let handles: Vec<_> = sleeps
                    .into_iter()
                    .map(|d| may::go!(move || may::coroutine::sleep(d)))
                    .collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
            })
            .join()
            .unwrap();
            start.elapsed()
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_time()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {}); // start the workers
            let start = Instant::now();
            rt.block_on(rt.spawn(async move {
                let handles: Vec<_> = sleeps
                    .into_iter()
                    .map(|d| tokio::spawn(tokio::time::sleep(d)))
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            }))
            .unwrap();
            start.elapsed()
        }
        other => panic!("unknown contender {other}"),
    };
    println!(
        "ms={:.1} peak_mib={:.1}",
        elapsed.as_secs_f64() * 1e3,
        vm_hwm_kib() as f64 / 1024.0
    );
}
