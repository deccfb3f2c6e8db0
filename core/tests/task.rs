//! The task state machine: running, waking, joining, cancelling, yielding,
//! panics and reference counting.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use xasync_core::task::raw::yield_hint;
use xasync_core::task::{self, JoinHandle, Runnable};

type Queue = Arc<Mutex<Vec<Runnable>>>;

fn queue() -> (Queue, impl Fn(Runnable) + Send + Sync + 'static) {
    let q: Queue = Arc::default();
    let q2 = q.clone();
    (q, move |r| q2.lock().unwrap().push(r))
}

fn pop(q: &Queue) -> Option<Runnable> {
    q.lock().unwrap().pop()
}

fn poll_join<T>(h: &mut JoinHandle<T>) -> Poll<Result<T, task::JoinError>> {
    let mut cx = Context::from_waker(Waker::noop());
    h.poll_join(&mut cx)
}

/// Pending until `ready` is set; stores its waker in `slot`.
struct Gate {
    ready: Arc<AtomicUsize>,
    slot: Arc<Mutex<Option<Waker>>>,
    polls: Arc<AtomicUsize>,
}

impl Future for Gate {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.ready.load(Ordering::SeqCst) != 0 {
            return Poll::Ready(self.polls.load(Ordering::SeqCst));
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[allow(clippy::type_complexity)]
fn gate() -> (
    Gate,
    Arc<AtomicUsize>,
    Arc<Mutex<Option<Waker>>>,
    Arc<AtomicUsize>,
) {
    let (ready, slot, polls) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::default(),
        Arc::new(AtomicUsize::new(0)),
    );
    (
        Gate {
            ready: ready.clone(),
            slot: Arc::clone(&slot),
            polls: polls.clone(),
        },
        ready,
        slot,
        polls,
    )
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn run_to_completion_and_join() {
    let (q, schedule) = queue();
    let (runnable, mut handle) = task::spawn(async { 7 }, schedule);
    assert!(poll_join(&mut handle).is_pending());
    assert!(runnable.run().is_none());
    assert!(handle.is_finished());
    assert_eq!(poll_join(&mut handle).map(Result::unwrap), Poll::Ready(7));
    assert!(pop(&q).is_none());
}

#[test]
fn wake_schedules_once() {
    let (q, schedule) = queue();
    let (fut, ready, slot, polls) = gate();
    let (runnable, mut handle) = task::spawn(fut, schedule);
    assert!(runnable.run().is_none());
    assert!(pop(&q).is_none(), "idle after Pending");
    let waker = slot.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref(); // already scheduled: no second Runnable
    assert_eq!(q.lock().unwrap().len(), 1);
    ready.store(1, Ordering::SeqCst);
    pop(&q).unwrap().run();
    assert_eq!(poll_join(&mut handle).map(Result::unwrap), Poll::Ready(2));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    waker.wake(); // completed: nothing happens
    assert!(pop(&q).is_none());
}

#[test]
fn wake_during_poll_reschedules() {
    let (q, schedule) = queue();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let (runnable, _handle) = task::spawn(
        std::future::poll_fn(move |cx| {
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }),
        schedule,
    );
    runnable.run();
    pop(&q).expect("rescheduled").run();
    pop(&q).expect("rescheduled again").run();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(pop(&q).is_none());
}

#[test]
fn yield_hint_hands_the_runnable_back() {
    let (q, schedule) = queue();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let (runnable, mut handle) = task::spawn(
        std::future::poll_fn(move |cx| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                assert!(yield_hint(cx));
                Poll::Pending
            } else {
                Poll::Ready(5)
            }
        }),
        schedule,
    );
    let again = runnable.run().expect("yielded");
    assert!(pop(&q).is_none(), "no wake-up went through the scheduler");
    assert!(again.run().is_none());
    assert_eq!(poll_join(&mut handle).map(Result::unwrap), Poll::Ready(5));
}

#[test]
fn yield_hint_refuses_foreign_contexts() {
    let cx = Context::from_waker(Waker::noop());
    assert!(!yield_hint(&cx));
    // A task's waker in a context the task is not being polled with.
    let (_q, schedule) = queue();
    let (fut, _ready, slot, _polls) = gate();
    let (runnable, _handle) = task::spawn(fut, schedule);
    runnable.run();
    let waker = slot.lock().unwrap().take().unwrap();
    let cx = Context::from_waker(&waker);
    assert!(!yield_hint(&cx));
}

#[test]
fn panics_become_join_errors() {
    let (_q, schedule) = queue();
    let (runnable, mut handle) = task::spawn(async { panic!("task boom") }, schedule);
    runnable.run();
    let Poll::Ready(Err(err)) = poll_join::<()>(&mut handle) else {
        panic!("expected a panic")
    };
    assert!(err.is_panic() && !err.is_cancelled());
    assert_eq!(err.to_string(), "task panicked: task boom");
}

#[test]
fn cancel_an_idle_task_drops_its_future_on_the_scheduler() {
    let (q, schedule) = queue();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (fut, _ready, _slot, _polls) = gate();
    let (runnable, mut handle) = task::spawn(
        async move {
            let _guard = guard;
            fut.await
        },
        schedule,
    );
    runnable.run();
    handle.cancel();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "dropped by the scheduler, not here"
    );
    pop(&q).expect("scheduled to be dropped").run();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let Poll::Ready(Err(err)) = poll_join(&mut handle) else {
        panic!("expected cancellation")
    };
    assert!(err.is_cancelled());
}

#[test]
fn cancel_while_running_takes_effect_after_the_poll() {
    let (q, schedule) = queue();
    let slot: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::default();
    let s = slot.clone();
    let (runnable, handle) = task::spawn(
        std::future::poll_fn(move |_| {
            s.lock().unwrap().as_ref().unwrap().cancel();
            Poll::<()>::Pending
        }),
        schedule,
    );
    *slot.lock().unwrap() = Some(handle);
    runnable.run();
    assert!(pop(&q).is_none());
    let mut handle = slot.lock().unwrap().take().unwrap();
    assert!(matches!(poll_join(&mut handle), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn a_finished_task_keeps_its_result_when_cancelled() {
    let (_q, schedule) = queue();
    let (runnable, mut handle) = task::spawn(async { 3 }, schedule);
    runnable.run();
    handle.cancel();
    assert_eq!(poll_join(&mut handle).map(Result::unwrap), Poll::Ready(3));
}

#[test]
fn dropping_a_runnable_cancels() {
    let (_q, schedule) = queue();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (runnable, mut handle) = task::spawn(async move { drop(guard) }, schedule);
    drop(runnable);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_join(&mut handle), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn detached_tasks_run_and_free_their_output() {
    let (_q, schedule) = queue();
    let drops = Arc::new(AtomicUsize::new(0));
    let out = DropCounter(drops.clone());
    let (runnable, handle) = task::spawn(async move { out }, schedule);
    handle.detach();
    runnable.run();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "output dropped with the task"
    );
}

#[test]
fn the_last_reference_frees_the_task() {
    let (q, schedule) = queue();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (fut, _ready, slot, _polls) = gate();
    let (runnable, handle) = task::spawn(
        async move {
            let _guard = guard;
            fut.await
        },
        schedule,
    );
    let task_ref = handle.task();
    runnable.run();
    drop(handle);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(slot.lock().unwrap().take()); // the waker
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the TaskRef keeps it alive"
    );
    assert!(!task_ref.is_finished());
    drop(task_ref);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "freed with its last reference"
    );
    assert!(pop(&q).is_none());
}

#[test]
fn join_handle_wakes_its_waiter() {
    let (q, schedule) = queue();
    let (fut, ready, slot, _polls) = gate();
    let (runnable, handle) = task::spawn(fut, schedule);
    runnable.run();
    // Await the handle from another task.
    let (q2, schedule2) = queue();
    let (waiter, mut waiter_handle) = task::spawn(handle, schedule2);
    waiter.run();
    assert!(pop(&q2).is_none());
    ready.store(1, Ordering::SeqCst);
    slot.lock().unwrap().take().unwrap().wake();
    pop(&q).unwrap().run();
    pop(&q2).expect("the waiter was woken").run();
    assert!(matches!(
        poll_join(&mut waiter_handle),
        Poll::Ready(Ok(Ok(2)))
    ));
}

#[test]
fn concurrent_wakes_from_many_threads() {
    let (q, schedule) = queue();
    let remaining = Arc::new(AtomicUsize::new(1000));
    let r = remaining.clone();
    let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let ws = waker_slot.clone();
    let (runnable, mut handle) = task::spawn(
        std::future::poll_fn(move |cx| {
            *ws.lock().unwrap() = Some(cx.waker().clone());
            if r.load(Ordering::SeqCst) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }),
        schedule,
    );
    runnable.run();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (remaining, ws) = (remaining.clone(), waker_slot.clone());
            std::thread::spawn(move || {
                for _ in 0..250 {
                    remaining.fetch_sub(1, Ordering::SeqCst);
                    let w = ws.lock().unwrap().clone();
                    if let Some(w) = w {
                        w.wake();
                    }
                }
            })
        })
        .collect();
    // The last decrement is followed by a wake, so the task is scheduled
    // (or marked to run again) after it: no wake-up may be lost.
    // (Miri runs this some thousand times slower.)
    let limit = std::time::Duration::from_secs(if cfg!(miri) { 3600 } else { 10 });
    let deadline = std::time::Instant::now() + limit;
    while !handle.is_finished() {
        assert!(std::time::Instant::now() < deadline, "a wake-up was lost");
        match pop(&q) {
            Some(r) => drop(r.run()),
            None => std::thread::yield_now(),
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(matches!(poll_join(&mut handle), Poll::Ready(Ok(()))));
}

#[test]
fn cancelling_a_detached_task_through_its_task_ref() {
    // The reference count must stay exact: the TaskRef outlives the task's
    // completion and still reads its state.
    let (q, schedule) = queue();
    let (fut, _ready, _slot, _polls) = gate();
    let (runnable, handle) = task::spawn(fut, schedule);
    let task_ref = handle.task();
    let second = task_ref.clone();
    runnable.run();
    handle.detach();
    task_ref.cancel();
    task_ref.cancel(); // idempotent
    pop(&q).expect("scheduled to be dropped").run();
    assert!(task_ref.is_finished());
    drop(task_ref);
    assert!(second.is_finished());
    assert!(pop(&q).is_none());
}

#[test]
fn run_tracked_hands_out_a_task_ref_on_the_first_idle_only() {
    let (q, schedule) = queue();
    // Completing at once: never tracked.
    let (runnable, _handle) = task::spawn(async { 1 }, schedule);
    let ran = runnable.run_tracked();
    assert!(ran.again.is_none() && ran.idle.is_none());

    let (q2, schedule) = queue();
    let (fut, ready, slot, _polls) = gate();
    let (runnable, mut handle) = task::spawn(fut, schedule);
    let first = runnable.run_tracked();
    let task_ref = first.idle.expect("went idle: tracked");
    assert!(first.again.is_none());
    slot.lock().unwrap().take().unwrap().wake();
    let second = pop(&q2).unwrap().run_tracked();
    assert!(second.idle.is_none(), "only the first idle is tracked");
    ready.store(1, Ordering::SeqCst);
    slot.lock().unwrap().take().unwrap().wake();
    drop(pop(&q2).unwrap().run_tracked());
    assert!(task_ref.is_finished());
    assert!(matches!(poll_join(&mut handle), Poll::Ready(Ok(3))));
    drop(task_ref);
    assert!(pop(&q).is_none());
}
