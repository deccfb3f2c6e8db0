//! Loom models of the task state machine: wakes racing with runs, cancels
//! racing with runs, completion racing with the JoinHandle's registration,
//! its re-registration with another waker, and its drop.
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p xasync-core --release --test loom_task`
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use xasync_core::task::{self, JoinHandle, Runnable};

type Queue = Arc<Mutex<Vec<Runnable>>>;

fn spawn<F>(future: F) -> (Queue, Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let q: Queue = Arc::new(Mutex::new(Vec::new()));
    let q2 = q.clone();
    let (r, h) = task::spawn(future, move |r| q2.lock().unwrap().push(r));
    (q, r, h)
}

fn drain(q: &Queue) -> usize {
    let mut runs = 0;
    loop {
        let next = q.lock().unwrap().pop();
        match next {
            Some(r) => {
                runs += 1;
                if let Some(again) = r.run() {
                    q.lock().unwrap().push(again);
                }
            }
            None => return runs,
        }
    }
}

/// Ready once `flag` is set; parks its waker in `slot`.
struct Flag {
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
}

impl Future for Flag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        if self.flag.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_racing_with_a_run_is_never_lost() {
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (q, runnable, handle) = spawn(Flag {
            flag: flag.clone(),
            slot: slot.clone(),
        });
        runnable.run();
        let waker = slot.lock().unwrap().clone().unwrap();
        let setter = loom::thread::spawn(move || {
            flag.store(true, Ordering::SeqCst);
            waker.wake();
        });
        drain(&q);
        setter.join().unwrap();
        drain(&q);
        assert!(handle.is_finished(), "the wake-up after the flag was lost");
    });
}

#[test]
fn a_cancel_racing_with_a_run_drops_the_future_exactly_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let guard = Guard(drops.clone());
        let (q, runnable, mut handle) = spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let handle_ref = handle.task();
        let canceller = loom::thread::spawn(move || handle_ref.cancel());
        runnable.run();
        canceller.join().unwrap();
        drain(&q);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(handle.poll_join(&mut cx), Poll::Ready(Err(e)) if e.is_cancelled()));
    });
}

#[test]
fn completion_racing_with_the_join_registration_wakes_the_joiner() {
    loom::model(|| {
        let (q, runnable, mut handle) = spawn(async { 1 });
        let woken = Arc::new(AtomicBool::new(false));
        let runner = loom::thread::spawn(move || {
            runnable.run();
            drain(&q);
        });
        let waker = waker_setting(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let first = handle.poll_join(&mut cx);
        runner.join().unwrap();
        if first.is_pending() {
            assert!(woken.load(Ordering::SeqCst), "the joiner was not woken");
            assert!(matches!(handle.poll_join(&mut cx), Poll::Ready(Ok(1))));
        }
    });
}

#[test]
fn a_wake_while_queued_and_one_during_the_run_both_count() {
    loom::model(|| {
        let flag = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        struct Twice {
            flag: Arc<AtomicUsize>,
            slot: Arc<Mutex<Option<Waker>>>,
        }
        impl Future for Twice {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                *self.slot.lock().unwrap() = Some(cx.waker().clone());
                if self.flag.load(Ordering::SeqCst) == 2 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
        let (q, runnable, handle) = spawn(Twice {
            flag: flag.clone(),
            slot: slot.clone(),
        });
        runnable.run();
        let waker = slot.lock().unwrap().clone().unwrap();
        // The first wake queues the task; the second lands while it is
        // queued or while it runs.
        flag.fetch_add(1, Ordering::SeqCst);
        waker.wake_by_ref();
        let setter = loom::thread::spawn(move || {
            flag.fetch_add(1, Ordering::SeqCst);
            waker.wake();
        });
        drain(&q);
        setter.join().unwrap();
        drain(&q);
        assert!(handle.is_finished(), "the second wake-up was lost");
    });
}

#[test]
fn rejoining_with_another_waker_racing_with_completion_wakes_the_new_one() {
    loom::model(|| {
        let (q, runnable, mut handle) = spawn(async { 1 });
        let (first, second) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (a, b) = (waker_setting(first.clone()), waker_setting(second.clone()));
        if handle.poll_join(&mut Context::from_waker(&a)).is_ready() {
            return;
        }
        let runner = loom::thread::spawn(move || {
            runnable.run();
            drain(&q);
        });
        let mut cx = Context::from_waker(&b);
        let again = handle.poll_join(&mut cx);
        runner.join().unwrap();
        if again.is_pending() {
            assert!(second.load(Ordering::SeqCst), "the new waker was not woken");
            assert!(matches!(handle.poll_join(&mut cx), Poll::Ready(Ok(1))));
        }
    });
}

#[test]
fn dropping_the_join_handle_racing_with_completion_drops_its_waker() {
    loom::model(|| {
        let (q, runnable, mut handle) = spawn(async { 1 });
        let probe = std::sync::Arc::new(());
        let counted = counted_waker(probe.clone());
        assert!(
            handle
                .poll_join(&mut Context::from_waker(&counted))
                .is_pending()
        );
        drop(counted);
        let runner = loom::thread::spawn(move || {
            runnable.run();
            drain(&q);
        });
        drop(handle);
        runner.join().unwrap();
        assert_eq!(
            std::sync::Arc::strong_count(&probe),
            1,
            "the handle's waker leaked"
        );
    });
}

/// A waker that does nothing but keep `probe` alive (to count its clones).
fn counted_waker(probe: std::sync::Arc<()>) -> Waker {
    struct Probe(#[allow(dead_code)] std::sync::Arc<()>);
    impl std::task::Wake for Probe {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    Waker::from(std::sync::Arc::new(Probe(probe)))
}

/// A waker that sets `flag`.
fn waker_setting(flag: Arc<AtomicBool>) -> Waker {
    struct FlagWaker(Arc<AtomicBool>);
    impl std::task::Wake for FlagWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    Waker::from(std::sync::Arc::new(FlagWaker(flag)))
}
