//! Loom models of the executor's lock-free paths: wakes and spawns from
//! another CPU racing with the executor emptying its inbox and idling, and
//! with its shutdown. The executor idles with loom's `park`, and a kick is
//! an `unpark`: a lost wake-up leaves it parked forever, which loom
//! reports as a deadlock.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p xasync-core --release --test loom_executor`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread::{self, Thread, ThreadId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use xasync_core::executor::{
    Alarm, Clock, CpuId, Idle, InterruptGuard, Kick, LocalExecutor, Platform,
};
use xasync_core::stack::{DefaultHeapStack, HeapStackSize};
use xasync_core::sync::oneshot;

/// The executor's thread is CPU 0; any other thread is CPU 1.
struct LoomCpu {
    owner: Thread,
}

impl LoomCpu {
    /// A platform whose CPU 0 is the calling thread.
    fn here() -> Self {
        LoomCpu {
            owner: thread::current(),
        }
    }
}

impl Clock for LoomCpu {
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl Alarm for LoomCpu {
    fn set_alarm(&self, _deadline: Option<Duration>) {}
}

impl InterruptGuard for LoomCpu {
    type Saved = ();
    fn save_disable(&self) {}
    fn restore(&self, (): ()) {}
}

impl CpuId for LoomCpu {
    fn cpu_id(&self) -> usize {
        usize::from(thread::current().id() != self.owner.id())
    }
}

impl Kick for LoomCpu {
    fn kick(&self, cpu: usize) {
        assert_eq!(cpu, 0);
        self.owner.unpark();
    }
}

impl Idle for LoomCpu {
    fn idle(&self) {
        thread::park();
    }
}

impl Platform for LoomCpu {
    type Stack = DefaultHeapStack<TestStacks>;
}

/// The stacks of these tests' coroutines.
struct TestStacks;

// SAFETY: the coroutines of these tests use a few KiB of stack at most.
unsafe impl HeapStackSize for TestStacks {
    const SIZE: usize = 64 * 1024;
}

/// Counts its drops, and remembers the thread of the last one.
struct Probe {
    drops: Arc<AtomicUsize>,
    thread: Arc<Mutex<Option<ThreadId>>>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        *self.thread.lock().unwrap() = Some(thread::current().id());
    }
}

fn probe() -> (Probe, Arc<AtomicUsize>, Arc<Mutex<Option<ThreadId>>>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let thread = Arc::new(Mutex::new(None));
    let probe = Probe {
        drops: drops.clone(),
        thread: thread.clone(),
    };
    (probe, drops, thread)
}

/// Pending until woken once; hands its waker out through `slot`.
struct WakeOnce {
    slot: Arc<Mutex<Option<Waker>>>,
    polled: bool,
}

impl Future for WakeOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_wake_from_another_cpu_is_never_lost() {
    loom::model(|| {
        let executor = LocalExecutor::new(LoomCpu::here());
        let (tx, rx) = oneshot::channel::<u32>();
        let task = executor.spawn(async move { rx.await.unwrap() + 1 });
        executor.run_until_idle();
        let sender = thread::spawn(move || tx.send(41).unwrap());
        assert_eq!(executor.block_on(task).unwrap(), 42);
        sender.join().unwrap();
    });
}

#[test]
fn wakes_from_two_cpus_racing_are_both_delivered() {
    loom::model(|| {
        let executor = LocalExecutor::new(LoomCpu::here());
        let slots: Vec<Arc<Mutex<Option<Waker>>>> = (0..2).map(|_| Arc::default()).collect();
        let tasks: Vec<_> = slots
            .iter()
            .map(|slot| {
                executor.spawn(WakeOnce {
                    slot: slot.clone(),
                    polled: false,
                })
            })
            .collect();
        executor.run_until_idle();
        let wakers: Vec<_> = slots
            .iter()
            .map(|slot| {
                let waker = slot.lock().unwrap().take().unwrap();
                thread::spawn(move || waker.wake())
            })
            .collect();
        executor.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        for w in wakers {
            w.join().unwrap();
        }
    });
}

#[test]
fn a_spawn_from_another_cpu_reaches_the_idle_executor() {
    loom::model(|| {
        let executor = LocalExecutor::new(LoomCpu::here());
        let spawner = executor.spawner();
        let (tx, rx) = oneshot::channel::<u32>();
        let other = thread::spawn(move || {
            spawner
                .spawn(async move {
                    tx.send(7).unwrap();
                })
                .detach();
        });
        assert_eq!(executor.block_on(rx), Ok(7));
        other.join().unwrap();
    });
}

#[test]
fn a_spawn_racing_with_shutdown_is_run_or_cancelled_once() {
    loom::model(|| {
        let executor = LocalExecutor::new(LoomCpu::here());
        let spawner = executor.spawner();
        let (probe, drops, _) = probe();
        let other = thread::spawn(move || {
            spawner.spawn(async move {
                let _probe = probe;
            })
        });
        drop(executor);
        let handle = other.join().unwrap();
        // The executor never ran it: it was cancelled by the executor's
        // shutdown or refused by the closed inbox, exactly once.
        assert!(handle.is_finished());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let mut cx = Context::from_waker(Waker::noop());
        let mut handle = handle;
        match handle.poll_join(&mut cx) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            other => panic!(
                "expected a cancellation, got {:?}",
                other.map(|r| r.is_ok())
            ),
        }
    });
}

#[test]
fn a_wake_racing_with_shutdown_drops_the_future_on_the_executor() {
    loom::model(|| {
        let executor = LocalExecutor::new(LoomCpu::here());
        let (probe, drops, thread) = probe();
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let s = slot.clone();
        let task = executor.spawn(async move {
            let _probe = probe;
            WakeOnce {
                slot: s,
                polled: false,
            }
            .await;
            std::future::pending::<()>().await
        });
        executor.run_until_idle();
        let waker = slot.lock().unwrap().take().unwrap();
        let other = thread::spawn(move || waker.wake());
        let me = thread::current().id();
        // The wake may be in flight (task state updated, node not yet
        // pushed) while the executor shuts down: it must wait for it
        // rather than leave the Runnable to be dropped on the waker's CPU.
        drop(executor);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(*thread.lock().unwrap(), Some(me));
        other.join().unwrap();
        assert!(task.is_finished());
    });
}
