//! Skynet: a tree of coroutines, ten children per node, 1,000,000 leaves
//! returning their number; every node sums its children's. Two worker
//! threads for everyone: xasync coroutines (`xasync` + `xawait`), tokio
//! tasks on a two-worker multi-thread runtime, may coroutines on two
//! workers, and Go goroutines (`bench/go/skynet.go`, channels, built with
//! `go build` here, run with `GOMAXPROCS=2`). Each run is a fresh process
//! that times itself; contenders alternate run by run.
//!
//! `cargo bench -p xasync-bench --bench skynet [xasync|tokio|may|go]`

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::{Duration, Instant};
use xasync_bench::{
    build_go, child_role, exit_on_panic, field, median, run_child, run_process, selected,
};

/// Leaves of the tree.
const LEAVES: u64 = 1_000_000;
/// Children per node.
const DIV: u64 = 10;
/// The sum every contender must find: 0 + 1 + ... + (LEAVES - 1).
const SUM: u64 = LEAVES * (LEAVES - 1) / 2;
/// Worker threads for every contender.
const WORKERS: usize = 2;
/// Runs per contender; the table shows medians.
const RUNS: usize = 5;
/// A run that takes longer is killed (and reported).
const TIMEOUT: Duration = Duration::from_secs(30);

/// One run of a contender: its output, or how it failed.
type Run = Box<dyn Fn() -> Result<String, String>>;

fn main() {
    if let Some(role) = child_role() {
        return child(&role);
    }
    let go = if selected("go") {
        Some(build_go("skynet"))
    } else {
        None
    };
    let mut contenders: Vec<(&str, Run)> = Vec::new();
    for name in ["xasync", "tokio", "may"] {
        if selected(name) {
            contenders.push((name, Box::new(move || run_child(name, TIMEOUT))));
        }
    }
    if let Some(go) = go {
        contenders.push((
            "go",
            Box::new(move || {
                let binary = go.clone()?;
                let mut command = Command::new(binary);
                command.env("GOMAXPROCS", WORKERS.to_string());
                run_process(command, TIMEOUT)
            }),
        ));
    }
    let mut outputs: Vec<Vec<Result<String, String>>> = vec![Vec::new(); contenders.len()];
    for _ in 0..RUNS {
        for ((_, run), runs) in contenders.iter().zip(&mut outputs) {
            runs.push(run().and_then(check_sum));
        }
    }
    println!(
        "skynet: {LEAVES} leaves, {DIV} children per node, {WORKERS} workers, median of {RUNS} fresh processes"
    );
    let medians: Vec<Option<f64>> = outputs
        .iter()
        .map(|runs| {
            let ms: Option<Vec<f64>> = runs
                .iter()
                .map(|r| r.as_ref().ok().and_then(|o| field(o, "ms")))
                .collect();
            ms.map(median)
        })
        .collect();
    let ours = contenders
        .iter()
        .position(|(name, _)| *name == "xasync")
        .and_then(|i| medians[i]);
    for (((name, _), runs), median) in contenders.iter().zip(&outputs).zip(&medians) {
        match median {
            Some(ms) => {
                let ratio = match ours {
                    Some(our_ms) if *name != "xasync" => {
                        format!("   xasync / {name} = {:.3}", our_ms / ms)
                    }
                    _ => String::new(),
                };
                println!("  {name:<8} {ms:>8.1} ms{ratio}");
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

/// Rejects an output whose sum is wrong.
fn check_sum(output: String) -> Result<String, String> {
    match field(&output, "sum") {
        Some(sum) if sum == SUM as f64 => Ok(output),
        _ => Err(format!("wrong sum: {}", output.trim())),
    }
}

/// The xasync tree: each node starts its children as coroutines and waits.
fn skynet_xasync(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / DIV;
    let children: Vec<_> = (0..DIV)
        .map(|i| xasync::xasync(move || skynet_xasync(num + i * sub, sub)))
        .collect();
    children.into_iter().map(xasync::xawait).sum()
}

/// The tokio tree: each node spawns its children as tasks and awaits them.
fn skynet_tokio(num: u64, size: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let sub = size / DIV;
        let children: Vec<_> = (0..DIV)
            .map(|i| tokio::spawn(skynet_tokio(num + i * sub, sub)))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await.unwrap();
        }
        sum
    })
}

/// The may tree: each node starts its children as coroutines and joins them.
fn skynet_may(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / DIV;
    let children: Vec<_> = (0..DIV)
        .map(|i| may::go!(move || skynet_may(num + i * sub, sub)))
        .collect();
    children.into_iter().map(|c| c.join().unwrap()).sum()
}

/// Runs one Rust contender; prints `sum=` and `ms=`.
fn child(role: &str) {
    exit_on_panic();
    let (sum, elapsed) = match role {
        "xasync" => {
            let rt = xasync::Runtime::builder()
                .workers(WORKERS)
                .build()
                .expect("xasync runtime");
            rt.xasync(|| ()).join().unwrap(); // start the workers
            let start = Instant::now();
            let sum = rt.xasync(|| skynet_xasync(0, LEAVES)).join().unwrap();
            (sum, start.elapsed())
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .build()
                .expect("tokio runtime");
            rt.block_on(async {}); // start the workers
            let start = Instant::now();
            let sum = rt.block_on(rt.spawn(skynet_tokio(0, LEAVES))).unwrap();
            (sum, start.elapsed())
        }
        "may" => {
            may::config().set_workers(WORKERS);
            may::go!(|| ()).join().unwrap(); // start the workers
            let start = Instant::now();
            let sum = may::go!(|| skynet_may(0, LEAVES)).join().unwrap();
            (sum, start.elapsed())
        }
        other => panic!("unknown contender {other}"),
    };
    println!("sum={sum} ms={:.1}", elapsed.as_secs_f64() * 1e3);
}
