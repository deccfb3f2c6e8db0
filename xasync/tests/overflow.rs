//! Stack overflows are reported with the coroutine's name and end the
//! process; faults that are not ours reach the previous handler. Each
//! scenario runs in a child process.

mod child;

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::os::unix::process::ExitStatusExt;
use xasync::coroutine::{CoroutineOn, Yielder};
use xasync::stack::{GuardPolicy, GuardedStack, HeapStack, Stack, StackConfig, StackPool};

/// Recurses, filling about 1 KiB of stack per level so that it overwrites
/// whatever it lands on, until its frames reach below `target`; suspends at
/// the deepest level if asked to.
#[inline(never)]
fn recurse(target: usize, y: Option<&Yielder<(), ()>>) -> u64 {
    let buf = black_box([0xa5u8; 1024]);
    if (buf.as_ptr() as usize) < target {
        if let Some(y) = y {
            y.suspend(());
        }
        return buf[7] as u64;
    }
    recurse(target, y) + black_box(buf)[target % 1024] as u64
}

/// Has a frame half again as large as a default stack, of which it writes
/// only the first (lowest) byte: the stack pointer moves past the stack's
/// limit without writing anything near it.
#[inline(never)]
fn big_frame() -> u8 {
    let mut buf = MaybeUninit::<[u8; 96 * 1024]>::uninit();
    let first = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: the first byte of our own buffer.
    unsafe {
        first.write_volatile(1);
        black_box(first).read_volatile()
    }
}

/// More stacks than the default pool gives guard pages to when the kernel
/// cannot make guard regions: a quarter of `vm.max_map_count`.
fn past_guarded_budget() -> usize {
    let max_map_count: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    max_map_count / 4 + 16
}

fn run_scenario(name: &str) {
    match name {
        "big-frame" => {
            let pool = StackPool::new(StackConfig::default());
            let _held: Vec<_> = (0..past_guarded_budget())
                .map(|_| pool.get().unwrap())
                .collect();
            // The slot below the coroutine's, where the frame lands.
            let _below = pool.get().unwrap();
            let stack = pool.get().unwrap();
            let mut co = CoroutineOn::with_stack(stack, |y: &Yielder<(), ()>, ()| {
                black_box(big_frame());
                y.suspend(());
            })
            .with_name("big-frame");
            co.resume(());
            eprintln!("UNDETECTED");
        }
        "many-live-unbounded" => {
            let pool = StackPool::new(StackConfig::default());
            let mut live: Vec<_> = (0..past_guarded_budget())
                .map(|_| {
                    CoroutineOn::with_stack(pool.get().unwrap(), |y: &Yielder<(), ()>, ()| {
                        y.suspend(())
                    })
                })
                .collect();
            live.iter_mut()
                .for_each(|co| assert!(co.resume(()).as_yield().is_some()));
            let mut co = CoroutineOn::with_stack(pool.get().unwrap(), |_: &Yielder<(), ()>, ()| {
                recurse(0, None);
            })
            .with_name("unbounded");
            co.resume(());
            eprintln!("UNDETECTED");
        }
        "guarded" => {
            let stack = GuardedStack::new(64 * 1024).unwrap();
            let mut co = CoroutineOn::with_stack(stack, |_: &Yielder<(), ()>, ()| {
                recurse(0, None);
            })
            .with_name("deep-recursion");
            co.resume(());
        }
        "slab-deep" | "slab-returned" => {
            let pool = StackPool::new(StackConfig {
                // SAFETY: the overflow below is the point: the canary check
                // catches it, and the process aborts.
                guard: unsafe { GuardPolicy::unguarded() },
                ..StackConfig::default()
            });
            // The second slot: overflowing it runs into the first, which is
            // mapped, so only the canary check can catch it.
            let _below = pool.get().unwrap();
            let stack = pool.get().unwrap();
            assert!(!stack.is_guarded());
            let deep = name == "slab-deep";
            // Suspended deep: 2 KiB into the slack below the limit, where
            // the stack pointer alone tells the overflow. Returned: 16 KiB
            // into the slot below, past the canary, which tells it.
            let past = if deep { 2 * 1024 } else { 16 * 1024 };
            let target = stack.limit().as_ptr() as usize - past;
            let mut co = CoroutineOn::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
                recurse(target, deep.then_some(y));
                y.suspend(());
            })
            .with_name("slab-overflow");
            co.resume(());
            eprintln!("UNDETECTED");
        }
        "heap" => {
            // SAFETY: the overflow below stays in the slack the stack owns,
            // so it corrupts nothing of anyone else's before the check.
            let stack = unsafe { HeapStack::new(32 * 1024) };
            // Past the canary, into the slack the heap stack keeps below it.
            let target = stack.limit().as_ptr() as usize - 1024;
            let mut co = CoroutineOn::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
                recurse(target, Some(y));
            })
            .with_name("heap-overflow");
            co.resume(());
            eprintln!("UNDETECTED");
        }
        "chain-custom" => {
            extern "C" fn custom(_: libc::c_int) {
                let msg = b"custom handler ran\n";
                // SAFETY: async-signal-safe calls with valid buffers.
                unsafe {
                    libc::write(2, msg.as_ptr().cast(), msg.len());
                    libc::_exit(42);
                }
            }
            // SAFETY: installing a plain handler before xasync installs its own.
            unsafe { libc::signal(libc::SIGSEGV, custom as *const () as libc::sighandler_t) };
            let _stack = GuardedStack::new(64 * 1024).unwrap(); // installs ours
            // SAFETY: deliberately faults, far from any guard page.
            unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
        }
        "chain-default" => {
            let _stack = GuardedStack::new(64 * 1024).unwrap();
            // SAFETY: deliberately faults, far from any guard page.
            unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Entry point of the child process; does nothing in a normal test run.
#[test]
fn child() {
    if let Some(name) = child::scenario() {
        run_scenario(&name);
    }
}

/// Without kernel guard regions, as on Linux before 6.13.
const NO_GUARD_REGIONS: (&str, &str) = ("XASYNC_GUARD_REGIONS", "0");

fn assert_overflow_report(scenario: &str, name: &str) {
    assert_overflow_report_with(scenario, name, &[]);
}

fn assert_overflow_report_with(scenario: &str, name: &str, env: &[(&str, &str)]) {
    let (output, stderr) = child::run(scenario, env);
    assert!(
        !output.status.success(),
        "{scenario}: child succeeded:\n{stderr}"
    );
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "{scenario}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("coroutine '{name}' has overflowed its stack")),
        "{scenario}: no report in:\n{stderr}"
    );
    assert!(!stderr.contains("UNDETECTED"), "{scenario}:\n{stderr}");
}

#[test]
fn guard_page_overflow_is_reported_with_the_name() {
    assert_overflow_report("guarded", "deep-recursion");
}

#[test]
fn protected_guard_page_overflow_is_reported_without_guard_regions() {
    assert_overflow_report_with("guarded", "deep-recursion", &[NO_GUARD_REGIONS]);
}

#[test]
fn slab_overflow_is_caught_while_suspended_deep() {
    assert_overflow_report("slab-deep", "slab-overflow");
}

#[test]
fn slab_overflow_is_caught_after_returning() {
    assert_overflow_report("slab-returned", "slab-overflow");
}

#[test]
fn heap_stack_overflow_is_caught_by_its_canary() {
    assert_overflow_report("heap", "heap-overflow");
}

#[test]
fn a_frame_that_skips_past_the_limit_hits_a_guard_past_the_mapping_budget() {
    assert_overflow_report("big-frame", "big-frame");
}

#[test]
fn unbounded_recursion_with_many_coroutines_alive_is_reported() {
    assert_overflow_report("many-live-unbounded", "unbounded");
}

#[test]
fn faults_outside_guard_pages_reach_the_previous_handler() {
    let (output, stderr) = child::run("chain-custom", &[]);
    assert_eq!(output.status.code(), Some(42), "{stderr}");
    assert!(stderr.contains("custom handler ran"), "{stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

#[test]
fn faults_outside_guard_pages_still_crash_by_default() {
    let (output, stderr) = child::run("chain-default", &[]);
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
}
