//! `coroutine_local!`: each coroutine (or plain thread) has its own value,
//! made on first access and dropped when its owner ends, however it ends.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use xasync::Runtime;
use xasync::time::sleep;

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().expect("runtime")
}

xasync::coroutine_local! {
    static NAME: RefCell<String> = RefCell::new(String::new());
}

/// Coroutines interleaving on one worker each keep their own value across
/// their waits (a `thread_local!` would be shared by them).
#[test]
fn each_coroutine_has_its_own_value_across_waits() {
    let rt = one_worker();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            rt.xasync(move || {
                NAME.with(|name| *name.borrow_mut() = format!("coroutine {i}"));
                for _ in 0..3 {
                    sleep(Duration::from_millis(5)); // the others run meanwhile
                    xasync::yield_now();
                }
                NAME.with(|name| name.borrow().clone())
            })
        })
        .collect();
    let names: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        names,
        ["coroutine 0", "coroutine 1", "coroutine 2", "coroutine 3"]
    );
    rt.shutdown();
}

static INITS: AtomicUsize = AtomicUsize::new(0);

xasync::coroutine_local! {
    static COUNTED: u32 = {
        INITS.fetch_add(1, Ordering::Relaxed);
        7
    };
}

/// The initializer runs once per coroutine that uses the key, on its first
/// access, and never for the coroutines that do not.
#[test]
fn values_are_made_lazily_once_per_coroutine() {
    let rt = one_worker();
    let users: Vec<_> = (0..3)
        .map(|_| rt.xasync(|| (0..5).map(|_| COUNTED.with(|v| *v)).sum::<u32>()))
        .collect();
    let idlers: Vec<_> = (0..3).map(|_| rt.xasync(|| ())).collect();
    for h in users {
        assert_eq!(h.join().unwrap(), 35);
    }
    for h in idlers {
        h.join().unwrap();
    }
    assert_eq!(INITS.load(Ordering::Relaxed), 3);
    rt.shutdown();
}

/// Counts its drops.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

xasync::coroutine_local! {
    static GUARD: RefCell<Option<Dropped>> = RefCell::new(None);
}

/// Stores a drop counter in `GUARD`.
fn keep(drops: &Arc<AtomicUsize>) {
    GUARD.with(|g| *g.borrow_mut() = Some(Dropped(drops.clone())));
}

/// A coroutine's value is dropped when it returns, when it panics, and when
/// it is cancelled while suspended.
#[test]
fn values_are_dropped_when_the_coroutine_ends_however_it_ends() {
    let rt = one_worker();
    let drops = Arc::new(AtomicUsize::new(0));

    let d = drops.clone();
    rt.xasync(move || keep(&d)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "returned");

    let d = drops.clone();
    let panicked = rt.xasync(move || {
        keep(&d);
        panic!("on purpose");
    });
    assert!(panicked.join().unwrap_err().is_panic());
    assert_eq!(drops.load(Ordering::SeqCst), 2, "panicked");

    let d = drops.clone();
    let (started, wait_started) = xasync::sync::oneshot::channel();
    let cancelled = rt.xasync(move || {
        keep(&d);
        started.send(()).unwrap();
        sleep(Duration::from_secs(60));
    });
    wait_started.recv().unwrap();
    cancelled.cancel();
    assert!(cancelled.join().unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 3, "cancelled");

    let d = drops.clone();
    let (started, wait_started) = xasync::sync::oneshot::channel();
    let _at_shutdown = rt.xasync(move || {
        keep(&d);
        started.send(()).unwrap();
        sleep(Duration::from_secs(60));
    });
    wait_started.recv().unwrap();
    rt.shutdown();
    assert_eq!(drops.load(Ordering::SeqCst), 4, "cancelled by shutdown");
}

xasync::coroutine_local! {
    static SLOW_DROP: RefCell<Option<SleepsOnDrop>> = RefCell::new(None);
}

/// Sleeps in its destructor, then counts the drop.
struct SleepsOnDrop(Arc<AtomicUsize>);

impl Drop for SleepsOnDrop {
    fn drop(&mut self) {
        sleep(Duration::from_millis(20));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A value's destructor runs in its coroutine, so it may wait; the other
/// coroutines run meanwhile.
#[test]
fn a_destructor_may_wait() {
    let rt = one_worker();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let waiting = rt.xasync(move || {
        SLOW_DROP.with(|s| *s.borrow_mut() = Some(SleepsOnDrop(d)));
    });
    let other = rt.xasync(|| 5);
    assert_eq!(other.join().unwrap(), 5);
    waiting.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    rt.shutdown();
}

xasync::coroutine_local! {
    static PROBE: RefCell<Option<Probe>> = RefCell::new(None);
    static OTHER: Cell<u8> = Cell::new(1);
}

/// In its destructor, tries another key of its owner and reports whether
/// that was refused.
struct Probe(std::sync::mpsc::Sender<bool>);

impl Drop for Probe {
    fn drop(&mut self) {
        let refused = OTHER.try_with(Cell::get).is_err();
        self.0.send(refused).unwrap();
    }
}

/// While its values are being dropped, an owner's keys are refused (in a
/// coroutine and on a plain thread), instead of making new values that
/// nothing would drop.
#[test]
fn keys_are_refused_while_values_are_dropped() {
    let (tx, rx) = std::sync::mpsc::channel();
    let rt = one_worker();
    let t = tx.clone();
    rt.xasync(move || PROBE.with(|p| *p.borrow_mut() = Some(Probe(t))))
        .join()
        .unwrap();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "in a coroutine"
    );
    rt.shutdown();
    std::thread::spawn(move || PROBE.with(|p| *p.borrow_mut() = Some(Probe(tx))))
        .join()
        .unwrap();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "on a thread"
    );
}

/// On a plain thread the value is the thread's: kept across calls, apart
/// from other threads', and dropped when the thread exits.
#[test]
fn a_plain_thread_has_its_own_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    std::thread::spawn(move || {
        NAME.with(|name| *name.borrow_mut() = "thread".into());
        keep(&d);
        let other = std::thread::spawn(|| NAME.with(|name| name.borrow().clone()));
        assert_eq!(other.join().unwrap(), "");
        assert_eq!(NAME.with(|name| name.borrow().clone()), "thread");
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A future awaited by a coroutine uses the coroutine's value; an async
/// task, which has none, gets an error from `try_with` and a panic naming
/// the reason from `with`.
#[test]
fn futures_use_their_coroutines_value_and_tasks_have_none() {
    let rt = one_worker();
    let in_future = rt.xasync(|| {
        NAME.with(|name| *name.borrow_mut() = "outer".into());
        xasync::xawait(async { NAME.with(|name| name.borrow().clone()) })
    });
    assert_eq!(in_future.join().unwrap(), "outer");

    let refused = rt.spawn(async { NAME.try_with(|_| ()).unwrap_err().to_string() });
    assert!(refused.join().unwrap().contains("async task"));
    let panicked = rt.spawn(async { NAME.with(|_| ()) });
    let message = panicked.join().unwrap_err().try_into_panic().unwrap();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("async task"), "{message}");
    rt.shutdown();
}

xasync::coroutine_local! {
    static FIRST: u32 = SECOND.with(|s| *s + 1);
    static SECOND: u32 = 41;
    static RECURSIVE: u32 = RECURSION.with(|depth| {
        depth.set(depth.get() + 1);
        if depth.get() < 2 { RECURSIVE.with(|r| *r + 100) } else { 1 }
    });
    static RECURSION: Cell<u32> = Cell::new(0);
}

/// An initializer may use other keys, and even its own key (the value made
/// first wins); `with` calls nest.
#[test]
fn initializers_and_accesses_nest() {
    let rt = one_worker();
    let h = rt.xasync(|| {
        let first = FIRST.with(|f| *f);
        let nested = SECOND.with(|s| NAME.with(|n| format!("{s}{}", n.borrow())));
        let recursive = RECURSIVE.with(|r| *r);
        (first, nested, recursive, RECURSIVE.with(|r| *r))
    });
    assert_eq!(h.join().unwrap(), (42, "41".into(), 1, 1));
    rt.shutdown();
}

xasync::coroutine_local! {
    static COUNT: Cell<u32> = Cell::new(1);
    static WORDS: RefCell<Vec<&'static str>> = RefCell::new(vec!["init"]);
}

/// The `Cell` and `RefCell` shortcuts act on the caller's value, as
/// `std::thread::LocalKey`'s do.
#[test]
fn cell_and_refcell_shortcuts() {
    let rt = one_worker();
    let h = rt.xasync(|| {
        let first = COUNT.get();
        COUNT.set(5);
        let replaced = COUNT.replace(6);
        let taken = COUNT.take();
        WORDS.with_borrow_mut(|w| w.push("more"));
        let joined = WORDS.with_borrow(|w| w.join(" "));
        let old = WORDS.replace(vec!["new"]);
        WORDS.set(vec!["set"]);
        (
            first,
            replaced,
            taken,
            COUNT.get(),
            joined,
            old,
            WORDS.take(),
            WORDS.take(),
        )
    });
    let other = rt.xasync(|| (COUNT.get(), WORDS.take()));
    assert_eq!(
        h.join().unwrap(),
        (
            1,
            5,
            6,
            0,
            "init more".into(),
            vec!["init", "more"],
            vec!["set"],
            vec![]
        )
    );
    assert_eq!(other.join().unwrap(), (1, vec!["init"]));
    rt.shutdown();
}
