//! Seeing inside a running runtime: task names, dumps, metrics and the
//! stall watchdog (issue 13). Scenarios that read the process's standard
//! error or crash run in a child process.

mod bounded;
mod child;
mod until;

use bounded::within;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use until::wait_until;
use xasync::runtime::{Dump, TaskKind, TaskState};
use xasync::task::Builder;

/// Spawns `n` coroutines on `rt` that each wait until the sender returned
/// is dropped, and waits (bounded) until they have all started.
fn spawn_waiters(
    rt: &xasync::Runtime,
    n: usize,
) -> (
    xasync::sync::channel::Sender<()>,
    Vec<xasync::JoinHandle<()>>,
) {
    let (tx, rx) = xasync::sync::channel::unbounded::<()>();
    let started = Arc::new(AtomicUsize::new(0));
    let waiters = (0..n)
        .map(|_| {
            let (rx, started) = (rx.clone(), started.clone());
            rt.xasync(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = rx.recv();
            })
        })
        .collect();
    wait_until("the waiters to start", || {
        started.load(Ordering::SeqCst) == n
    });
    (tx, waiters)
}

/// The first dump of `rt` for which `done` holds, taken again and again
/// until it does (bounded: a dump that never comes fails the test).
fn dump_when(rt: &xasync::Runtime, done: impl Fn(&Dump) -> bool + Send + 'static) -> Dump {
    let handle = rt.handle().clone();
    within(Duration::from_secs(60), "the dump", move || {
        loop {
            let dump = handle.dump();
            if done(&dump) {
                break dump;
            }
        }
    })
}

#[test]
fn the_dump_lists_every_live_task_with_its_name_and_state() {
    const N: usize = 50;
    const F: usize = 6; // one of them named
    let rt = xasync::Runtime::builder().workers(2).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for i in 0..N {
        let (tx, rx) = xasync::sync::oneshot::channel::<()>();
        senders.push(tx);
        let started = started.clone();
        handles.push(Builder::new().name(format!("waiter {i}")).xasync_on(
            rt.handle(),
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = rx.recv();
            },
        ));
    }
    // Futures that wait (listed once they have).
    let futures_started = Arc::new(AtomicUsize::new(0));
    let mut future_handles = Vec::new();
    for _ in 0..F - 1 {
        let (tx, rx) = xasync::sync::oneshot::channel::<()>();
        senders.push(tx);
        let started = futures_started.clone();
        future_handles.push(rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let _ = rx.recv_async().await;
        }));
    }
    // A named one.
    let (tx, rx) = xasync::sync::oneshot::channel::<()>();
    senders.push(tx);
    let counted = futures_started.clone();
    future_handles.push(
        Builder::new()
            .name("named future")
            .spawn_on(rt.handle(), async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = rx.recv_async().await;
            }),
    );
    // One that only yields: ready whenever its worker looks.
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = stop.clone();
    let spinner = Builder::new()
        .name("spinner")
        .xasync_on(rt.handle(), move || {
            while !spinning.load(Ordering::SeqCst) {
                xasync::yield_now();
            }
        });
    wait_until("the waiters to start", || {
        started.load(Ordering::SeqCst) == N && futures_started.load(Ordering::SeqCst) == F
    });
    // A waiter that counted itself may not have suspended yet; the dump
    // is taken between tasks, so once it is listed, it waits.
    let dump = dump_when(&rt, |dump| dump.tasks.len() == N + 1 + F);
    assert!(dump.missing_workers.is_empty());
    let names: BTreeSet<_> = dump.tasks.iter().filter_map(|t| t.name.clone()).collect();
    let mut expected: BTreeSet<_> = (0..N).map(|i| format!("waiter {i}")).collect();
    expected.insert("spinner".into());
    expected.insert("named future".into());
    assert_eq!(names, expected);
    let ids: BTreeSet<_> = dump.tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), N + 1 + F, "ids are unique");
    let (futures, coroutines): (Vec<_>, Vec<_>) =
        dump.tasks.iter().partition(|t| t.kind == TaskKind::Future);
    assert_eq!(futures.len(), F);
    for future in &futures {
        assert_eq!(future.state, TaskState::Waiting, "{future}");
    }
    let named: Vec<_> = futures.iter().filter_map(|f| f.name.as_deref()).collect();
    assert_eq!(named, ["named future"]);
    for task in coroutines {
        assert!(task.worker.is_some_and(|w| w < 2));
        let expected = if task.name.as_deref() == Some("spinner") {
            TaskState::Ready
        } else {
            TaskState::Waiting
        };
        assert_eq!(task.state, expected, "{task}");
    }
    let text = dump.to_string();
    assert!(
        text.contains(&format!("{} live tasks", N + 1 + F)),
        "{text}"
    );
    for i in 0..N {
        assert!(
            text.contains(&format!("[waiting] \"waiter {i}\"")),
            "{text}"
        );
    }
    assert!(text.contains("[ready] \"spinner\""), "{text}");
    assert!(text.contains("future "), "{text}");
    drop(senders);
    stop.store(true, Ordering::SeqCst);
    for handle in handles {
        handle.join().unwrap();
    }
    for handle in future_handles {
        handle.join().unwrap();
    }
    spinner.join().unwrap();
    wait_until("the coroutines to leave the dump", || {
        rt.dump().tasks.is_empty()
    });
    rt.shutdown();
}

#[test]
fn the_dump_lists_tasks_that_have_not_started_and_the_running_one() {
    // More than a worker runs before it looks at a dump asked for (61):
    // some of them have not started when it answers.
    const N: usize = 200;
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = xasync::sync::channel::unbounded::<()>();
    let parent = Builder::new().name("parent").xasync_on(rt.handle(), {
        let handle = rt.handle().clone();
        move || {
            // Spawned on the parent's worker, busy with the parent until
            // it suspends in the dump.
            let children: Vec<_> = (0..N)
                .map(|i| {
                    let rx = rx.clone();
                    Builder::new()
                        .name(format!("child {i}"))
                        .xasync_on(&handle, move || {
                            let _ = rx.recv();
                        })
                })
                .collect();
            let future = Builder::new().name("queued future").spawn_on(&handle, {
                let rx = rx.clone();
                async move {
                    let _ = rx.recv_async().await;
                }
            });
            (handle.dump(), children, future)
        }
    });
    let (dump, children, future) = within(Duration::from_secs(60), "the dump", move || {
        parent.join().unwrap()
    });
    assert!(dump.missing_workers.is_empty());
    let names: BTreeSet<_> = dump.tasks.iter().filter_map(|t| t.name.clone()).collect();
    let mut expected: BTreeSet<_> = (0..N).map(|i| format!("child {i}")).collect();
    expected.insert("parent".into());
    expected.insert("queued future".into());
    assert_eq!(names, expected);
    assert_eq!(dump.tasks.len(), N + 2, "one entry per task");
    assert_eq!(dump.unlisted, 0, "{dump}");
    let ids: BTreeSet<_> = dump.tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), N + 2, "ids are unique");
    let parent = dump
        .tasks
        .iter()
        .find(|t| t.name.as_deref() == Some("parent"));
    assert_eq!(parent.unwrap().state, TaskState::Running, "{dump}");
    let unstarted = dump
        .tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Coroutine && t.worker.is_none())
        .inspect(|t| assert_eq!(t.state, TaskState::Ready, "{t}"))
        .count();
    assert!(unstarted > 0, "no child was listed before it started");
    let text = dump.to_string();
    assert!(text.contains("[running] \"parent\""), "{text}");
    assert!(text.contains("[ready] \"child "), "{text}");
    assert!(!text.contains("more live tasks"), "{text}");
    drop(tx);
    xasync::join_all(children);
    future.join().unwrap();
    rt.shutdown();
}

#[test]
fn the_dump_counts_the_unnamed_tasks_it_cannot_list() {
    const N: usize = 100;
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = xasync::sync::channel::unbounded::<()>();
    let parent = rt.xasync({
        let handle = rt.handle().clone();
        move || {
            let children: Vec<_> = (0..N)
                .map(|_| {
                    let rx = rx.clone();
                    handle.xasync(move || {
                        let _ = rx.recv();
                    })
                })
                .collect();
            (handle.dump(), children)
        }
    });
    let (dump, children) = within(Duration::from_secs(60), "the dump", move || {
        parent.join().unwrap()
    });
    // The parent and the children that started are listed, the others
    // counted.
    assert_eq!(
        dump.tasks.len() as u64 + dump.unlisted,
        N as u64 + 1,
        "{dump}"
    );
    assert!(dump.unlisted > 0, "{dump}");
    assert!(
        dump.to_string()
            .contains(&format!("and {} more live tasks", dump.unlisted)),
        "{dump}"
    );
    drop(tx);
    xasync::join_all(children);
    rt.shutdown();
}

#[test]
fn a_sleeping_coroutine_shows_until_when() {
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let sleepers: Vec<_> = [
        ("an hour", Duration::from_secs(3600)),
        ("ever", Duration::MAX),
    ]
    .into_iter()
    .map(|(name, duration)| {
        let started = started.clone();
        Builder::new().name(name).xasync_on(rt.handle(), move || {
            started.fetch_add(1, Ordering::SeqCst);
            xasync::time::sleep(duration);
        })
    })
    .collect();
    wait_until("the sleepers to start", || {
        started.load(Ordering::SeqCst) == 2
    });
    // Listed as waiting from their first suspension.
    let dump = dump_when(&rt, |dump| {
        dump.tasks.len() == 2 && dump.tasks.iter().all(|t| t.worker.is_some())
    });
    let state = |name: &str| {
        let task = dump.tasks.iter().find(|t| t.name.as_deref() == Some(name));
        task.unwrap().state
    };
    match state("an hour") {
        TaskState::Sleeping { left_ms: Some(ms) } => {
            assert!((3_000_000..=3_600_000).contains(&ms), "{dump}")
        }
        other => panic!("{other:?}: {dump}"),
    }
    assert_eq!(state("ever"), TaskState::Sleeping { left_ms: None });
    let text = dump.to_string();
    assert!(text.contains("[sleeping (until +"), "{text}");
    assert!(text.contains("[sleeping (for ever)] \"ever\""), "{text}");
    for sleeper in &sleepers {
        sleeper.cancel();
    }
    for sleeper in sleepers {
        assert!(sleeper.join().unwrap_err().is_cancelled());
    }
    rt.shutdown();
}

#[test]
fn dumps_at_the_same_time_each_get_every_coroutine() {
    const N: usize = 20;
    let rt = xasync::Runtime::builder().workers(2).build().unwrap();
    let (tx, waiters) = spawn_waiters(&rt, N);
    wait_until("the waiters to wait", || rt.dump().tasks.len() == N);
    let dumpers: Vec<_> = (0..4)
        .map(|_| {
            let handle = rt.handle().clone();
            std::thread::spawn(move || handle.dump())
        })
        .collect();
    for dumper in dumpers {
        let dump = dumper.join().unwrap();
        assert!(dump.missing_workers.is_empty());
        assert_eq!(dump.tasks.len(), N);
    }
    drop(tx);
    xasync::join_all(waiters);
    rt.shutdown();
}

#[test]
fn the_metrics_add_up() {
    const N: u64 = 100;
    const K: u64 = 10;
    let rt = xasync::Runtime::builder().workers(2).build().unwrap();
    let coroutines: Vec<_> = (0..N).map(|i| rt.xasync(move || i)).collect();
    let futures: Vec<_> = (0..N).map(|i| rt.spawn(async move { i })).collect();
    assert_eq!(xasync::join_all(coroutines).len() as u64, N);
    assert_eq!(xasync::join_all(futures).len() as u64, N);
    // A task is done with once its worker, too, has let it go, which may
    // come just after its handle returned its value.
    wait_until("the tasks to be released", || rt.metrics().live == 0);
    let metrics = rt.metrics();
    assert_eq!(metrics.spawned, 2 * N);
    assert_eq!(metrics.finished, 2 * N, "{metrics:?}");
    assert!(metrics.polls >= 2 * N, "{metrics:?}");
    assert_eq!(metrics.workers.len(), 2);

    let (tx, waiting) = spawn_waiters(&rt, K as usize);
    let metrics = rt.metrics();
    assert_eq!(metrics.spawned, 2 * N + K);
    assert_eq!(metrics.live, K);
    assert_eq!(metrics.spawned, metrics.finished + metrics.live);
    drop(tx);
    for handle in waiting {
        handle.join().unwrap();
    }
    let metrics = rt.metrics();
    assert_eq!(metrics.spawned, metrics.finished + metrics.live);
    let per_worker: u64 = metrics.workers.iter().map(|w| w.spawned).sum();
    assert!(per_worker <= metrics.spawned);
    rt.shutdown();
}

#[test]
fn a_healthy_load_reports_no_stall() {
    // Short polls only. The threshold leaves room for a loaded machine
    // (or valgrind) keeping a worker off its CPU for a while, which a
    // watchdog cannot tell from a stall.
    let rt = xasync::Runtime::builder()
        .workers(2)
        .stall_threshold(Duration::from_secs(1))
        .build()
        .unwrap();
    let handles: Vec<_> = (0..100)
        .map(|i| {
            rt.xasync(move || {
                for _ in 0..20 {
                    xasync::time::sleep(Duration::from_millis(1));
                    xasync::yield_now();
                }
                i
            })
        })
        .collect();
    xasync::join_all(handles);
    // Idle workers past the threshold: parked, not stalled.
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = rt.metrics();
    assert_eq!(metrics.stalls, 0);
    assert!(metrics.parks > 0, "the workers slept between the sleeps");
    rt.shutdown();
}

#[test]
fn a_coroutine_gets_the_stack_size_it_asks_for() {
    // 1 MiB of locals, far beyond the runtime's 64 KiB stacks.
    fn deep(n: usize) -> usize {
        let buffer = std::hint::black_box([n as u8; 16 * 1024]);
        if n == 0 {
            buffer[0] as usize
        } else {
            deep(n - 1) + buffer[1] as usize
        }
    }
    let rt = xasync::Runtime::builder()
        .workers(1)
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    let h = Builder::new()
        .name("deep")
        .stack_size(4 << 20)
        .xasync_on(rt.handle(), || {
            xasync::time::sleep(Duration::from_millis(1));
            deep(64)
        });
    assert_eq!(h.join().unwrap(), (1..=64).sum::<usize>());
    rt.shutdown();
}

#[test]
fn a_coroutine_on_a_stack_of_its_own_is_cancelled_as_any() {
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let h = Builder::new()
        .stack_size(1 << 20)
        .xasync_on(rt.handle(), || xasync::time::sleep(Duration::from_secs(60)));
    let error = h.join_timeout(Duration::from_millis(10)).unwrap_err();
    assert!(error.is_cancelled());
    rt.shutdown();
}

/// Entry point of the child process; does nothing in a normal test run.
#[test]
fn child() {
    let Some(name) = child::scenario() else {
        return;
    };
    match name.as_str() {
        "busy-loop" => {
            let rt = xasync::Runtime::builder().workers(2).build().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let spinning = stop.clone();
            let busy = Builder::new()
                .name("busy loop")
                .xasync_on(rt.handle(), move || {
                    // Never suspends until the stall was counted.
                    while !spinning.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                });
            wait_until("the stall report", || rt.metrics().stalls >= 1);
            stop.store(true, Ordering::SeqCst);
            busy.join().unwrap();
            assert_eq!(rt.metrics().stalls, 1, "one report per stall");
            rt.shutdown();
        }
        "busy-while" => {
            let rt = xasync::Runtime::builder().workers(1).build().unwrap();
            let busy = rt.xasync(|| {
                let end = Instant::now() + Duration::from_millis(400);
                while Instant::now() < end {
                    std::hint::spin_loop();
                }
            });
            busy.join().unwrap();
            assert_eq!(rt.metrics().stalls, 0);
            rt.shutdown();
        }
        "sigquit" => {
            let rt = xasync::Runtime::builder()
                .workers(1)
                .dump_on_sigquit(true)
                .build()
                .unwrap();
            let (_tx, rx) = xasync::sync::oneshot::channel::<()>();
            let _patient = Builder::new()
                .name("patient")
                .xasync_on(rt.handle(), move || {
                    let _ = rx.recv();
                });
            wait_until("the coroutine to wait", || {
                rt.dump()
                    .tasks
                    .iter()
                    .any(|t| t.state == TaskState::Waiting)
            });
            println!("ready");
            // The parent reads the dump and kills us.
            std::thread::sleep(Duration::from_secs(120));
        }
        "overflow" => {
            #[allow(unconditional_recursion)]
            fn recurse(n: u64) -> u64 {
                let buffer = std::hint::black_box([n; 512]);
                recurse(n + 1) + buffer[3]
            }
            let rt = xasync::Runtime::builder().workers(1).build().unwrap();
            let h = Builder::new()
                .name("deep one")
                .xasync_on(rt.handle(), || recurse(0));
            let _ = h.join();
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn the_watchdog_reports_a_busy_loop_with_the_tasks_name() {
    let (output, stderr) = child::run("busy-loop", &[]);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("without suspending").count(),
        1,
        "one report:\n{stderr}"
    );
    assert!(
        stderr.contains("has been inside a coroutine \"busy loop\" for"),
        "{stderr}"
    );
    // The interrupted instruction at least.
    assert!(stderr.contains("    0x"), "{stderr}");
}

#[test]
fn the_watchdog_is_off_with_a_zero_threshold() {
    let (output, stderr) = child::run("busy-while", &[("XASYNC_STALL_MS", "0")]);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("without suspending"), "{stderr}");
}

#[test]
fn a_named_coroutine_is_named_in_its_overflow_report() {
    let (output, stderr) = child::run("overflow", &[]);
    assert!(!output.status.success());
    assert!(
        stderr.contains("coroutine 'deep one' has overflowed its stack"),
        "{stderr}"
    );
}

#[test]
fn sigquit_prints_a_dump_when_the_runtime_opts_in() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("XASYNC_TEST_SCENARIO", "sigquit")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let dump = within(Duration::from_secs(60), "the dump on SIGQUIT", move || {
        // After the harness's "test child ... ", on the same line.
        for line in stdout.lines() {
            if line.unwrap().ends_with("ready") {
                break;
            }
        }
        let killed = Command::new("kill").args(["-QUIT", &pid]).status().unwrap();
        assert!(killed.success());
        let mut dump = String::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            dump.push_str(&line);
            dump.push('\n');
            if line.contains("\"patient\"") {
                break;
            }
        }
        dump
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(dump.contains("xasync: 1 live tasks"), "{dump}");
    assert!(dump.contains("[waiting] \"patient\""), "{dump}");
}

#[test]
fn the_trace_parses_as_json_and_its_events_are_ordered_per_worker() {
    const N: usize = 20;
    let path = std::env::temp_dir().join(format!("xasync-trace-{}.json", std::process::id()));
    let rt = xasync::Runtime::builder()
        .workers(2)
        .trace(&path)
        .build()
        .unwrap();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            Builder::new()
                .name(format!("traced {i}"))
                .xasync_on(rt.handle(), move || {
                    for _ in 0..3 {
                        xasync::time::sleep(Duration::from_millis(1));
                    }
                    i
                })
        })
        .collect();
    xasync::join_all(handles);
    rt.shutdown(); // the last worker out writes the file
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let mut last_ts = std::collections::HashMap::new();
    let mut names = BTreeSet::new();
    let mut parked = 0;
    for event in events.iter().filter(|e| e["ph"] == "X") {
        let tid = event["tid"].as_u64().unwrap();
        let ts = event["ts"].as_f64().unwrap();
        assert!(event["dur"].as_f64().unwrap() >= 0.0);
        let last = last_ts.entry(tid).or_insert(ts);
        assert!(
            *last <= ts,
            "worker {tid}: an event at {ts} after one at {last}"
        );
        *last = ts;
        let name = event["name"].as_str().unwrap();
        parked += usize::from(name == "parked");
        if let Some(start) = name.find("\"traced ") {
            names.insert(name[start..].to_owned());
        }
    }
    assert!(last_ts.keys().all(|&tid| tid < 2));
    assert_eq!(names.len(), N, "every coroutine ran by name: {names:?}");
    assert!(parked > 0, "the workers slept between the sleeps");
}
