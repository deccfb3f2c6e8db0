//! Stacks on a kernel without guard regions (simulated with
//! `XASYNC_GUARD_REGIONS=0`, in a child process): guarded stacks in
//! mappings of their own up to the policy's budget, then an error naming
//! `vm.max_map_count`, or canary slab stacks for programs that opted in.

mod child;

use std::io;
use xasync::stack::{GuardPolicy, StackConfig, StackCounts, StackPool, live_guarded_stacks};

/// Guarded stacks in mappings of their own a pool may add in the scenarios.
const BUDGET: usize = 3;

fn pool(guard: GuardPolicy) -> StackPool {
    caching_pool(guard, 0)
}

fn caching_pool(guard: GuardPolicy, cache: usize) -> StackPool {
    StackPool::new(StackConfig {
        size: 32 * 1024,
        guard,
        cache,
    })
}

fn run_scenario(name: &str) {
    let budget = live_guarded_stacks() + BUDGET;
    match name {
        "budget" => {
            let pool = pool(GuardPolicy::guarded(budget));
            let stacks: Vec<_> = (0..BUDGET).map(|_| pool.get().unwrap()).collect();
            assert!(stacks.iter().all(|s| s.is_guarded()));
            assert_eq!(pool.counts().mapped, BUDGET);
            let error = pool.get().expect_err("past the budget");
            assert_eq!(error.kind(), io::ErrorKind::OutOfMemory);
            let message = error.to_string();
            assert!(message.contains("vm.max_map_count"), "{message}");
        }
        "reuse" => {
            // More than the pool's ready list holds, so that some go back
            // to the cache behind it.
            let n = 100;
            let pool = caching_pool(GuardPolicy::guarded(live_guarded_stacks() + n), n);
            let stacks: Vec<_> = (0..n).map(|_| pool.get().unwrap()).collect();
            drop(stacks);
            assert_eq!(pool.counts().cached, n);
            let again: Vec<_> = (0..n).map(|_| pool.get().unwrap()).collect();
            assert!(again.iter().all(|s| s.is_guarded()));
            assert_eq!(pool.counts().mapped, n);
        }
        "beyond" => {
            // SAFETY: nothing runs on these stacks.
            let pool = pool(unsafe { GuardPolicy::guarded(budget).unguarded_beyond() });
            let stacks: Vec<_> = (0..2 * BUDGET).map(|_| pool.get().unwrap()).collect();
            assert_eq!(stacks.iter().filter(|s| s.is_guarded()).count(), BUDGET);
            let counts = pool.counts();
            assert_eq!(
                counts,
                StackCounts {
                    guarded: BUDGET,
                    unguarded: BUDGET,
                    mapped: BUDGET,
                    cached: counts.cached,
                }
            );
        }
        "runtime" => {
            let rt = xasync::Runtime::builder()
                .workers(1)
                .guard_policy(GuardPolicy::guarded(budget))
                .build()
                .unwrap();
            let (started, starts) = std::sync::mpsc::channel();
            let (tx, rx) = xasync::sync::channel::unbounded::<()>();
            // Each holds its stack until the channel closes.
            let holders: Vec<_> = (0..BUDGET)
                .map(|_| {
                    let (rx, started) = (rx.clone(), started.clone());
                    rt.xasync(move || {
                        started.send(()).unwrap();
                        while rx.recv().is_ok() {}
                    })
                })
                .collect();
            (0..BUDGET).for_each(|_| starts.recv().unwrap());
            let error = rt.xasync(|| ()).join().expect_err("no stack left");
            assert!(error.to_string().contains("vm.max_map_count"), "{error}");
            drop(tx);
            holders.into_iter().for_each(|h| h.join().unwrap());
            rt.shutdown();
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario passed");
}

/// Entry point of the child process; does nothing in a normal test run.
#[test]
fn child() {
    if let Some(name) = child::scenario() {
        run_scenario(&name);
    }
}

fn assert_passes(scenario: &str) {
    let (output, stderr) = child::run(scenario, &[("XASYNC_GUARD_REGIONS", "0")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{scenario}:\n{stdout}\n{stderr}");
    assert!(stdout.contains("scenario passed"), "{scenario}:\n{stdout}");
}

#[test]
fn past_the_budget_a_pool_fails_naming_the_sysctl() {
    assert_passes("budget");
}

#[test]
fn at_the_budget_a_pool_hands_out_its_cached_stacks() {
    assert_passes("reuse");
}

#[test]
fn programs_that_opt_in_get_canary_stacks_past_the_budget() {
    assert_passes("beyond");
}

#[test]
fn past_the_budget_a_spawned_coroutine_fails_naming_the_sysctl() {
    assert_passes("runtime");
}
