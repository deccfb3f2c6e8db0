//! The callback interface of the event loop: file descriptor readiness and
//! timers, deregistration against concurrent firing, panics.

use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use xasync::Runtime;
use xasync::io::callback::{self, Interest};

const HANG_GUARD: Duration = Duration::from_secs(10);

fn nonblocking_pair() -> (UnixStream, Arc<UnixStream>) {
    let (tx, rx) = UnixStream::pair().unwrap();
    rx.set_nonblocking(true).unwrap();
    (tx, Arc::new(rx))
}

#[test]
fn a_readable_fd_runs_its_callback_each_time_it_becomes_ready() {
    let (mut tx, rx) = nonblocking_pair();
    let (got, seen) = mpsc::channel();
    let reader = rx.clone();
    let watch = callback::register_fd(rx, Interest::READABLE, move |ready| {
        assert!(ready.is_readable());
        let mut buf = [0; 64];
        while let Ok(n) = (&*reader).read(&mut buf) {
            if n == 0 {
                break;
            }
            got.send(buf[..n].to_vec()).unwrap();
        }
    })
    .unwrap();
    for word in [&b"one"[..], b"two", b"three"] {
        tx.write_all(word).unwrap();
        assert_eq!(seen.recv_timeout(HANG_GUARD).unwrap(), word);
    }
    let rx = watch.deregister();
    tx.write_all(b"after").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(seen.try_recv().is_err(), "ran after deregistration");
    let mut buf = [0; 5];
    (&*rx).read_exact(&mut buf).unwrap(); // the source came back intact
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn deregistering_waits_for_a_running_callback() {
    let (mut tx, rx) = nonblocking_pair();
    let running = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let (started, start) = mpsc::channel();
    let (r, c) = (running.clone(), calls.clone());
    let captured = SetOnDrop(dropped.clone());
    let watch = callback::register_fd(rx, Interest::READABLE, move |_| {
        let _captured = &captured;
        r.store(true, Ordering::SeqCst);
        c.fetch_add(1, Ordering::SeqCst);
        let _ = started.send(());
        std::thread::sleep(Duration::from_millis(50));
        r.store(false, Ordering::SeqCst);
    })
    .unwrap();
    tx.write_all(b"x").unwrap();
    start.recv_timeout(HANG_GUARD).unwrap();
    let rx = watch.deregister(); // from this thread, while the callback runs on a worker
    assert!(
        !running.load(Ordering::SeqCst),
        "returned while the callback ran"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "returned before the callback was dropped"
    );
    let calls_then = calls.load(Ordering::SeqCst);
    tx.write_all(b"y").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::SeqCst), calls_then);
    drop(rx);
}

#[test]
fn a_callback_may_deregister_itself() {
    let (mut tx, rx) = nonblocking_pair();
    let slot = Arc::new(std::sync::Mutex::new(None));
    let calls = Arc::new(AtomicUsize::new(0));
    let (done, finished) = mpsc::channel();
    let (s, c) = (slot.clone(), calls.clone());
    let watch = callback::register_fd(rx, Interest::READABLE, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        let watch = s.lock().unwrap().take();
        drop(watch); // deregisters from inside: must not deadlock
        let _ = done.send(());
    })
    .unwrap();
    *slot.lock().unwrap() = Some(watch);
    tx.write_all(b"x").unwrap();
    finished.recv_timeout(HANG_GUARD).unwrap();
    let _ = tx.write_all(b"y"); // the source is closed by now
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn timers_fire_once_or_periodically_until_deregistered() {
    let (tx, rx) = mpsc::channel();
    let once = callback::register_timer(Duration::from_millis(5), None, move || {
        tx.send("once").unwrap();
    });
    assert_eq!(rx.recv_timeout(HANG_GUARD).unwrap(), "once");
    drop(once);

    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let periodic = callback::register_timer(
        Duration::from_millis(1),
        Some(Duration::from_millis(2)),
        move || {
            t.fetch_add(1, Ordering::SeqCst);
        },
    );
    let guard = std::time::Instant::now() + HANG_GUARD;
    while ticks.load(Ordering::SeqCst) < 5 {
        assert!(
            std::time::Instant::now() < guard,
            "the periodic timer stalled"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    periodic.deregister();
    let after = ticks.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ticks.load(Ordering::SeqCst), after);

    // A timer deregistered before it is due never fires.
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    let early = callback::register_timer(Duration::from_millis(30), None, move || {
        f.store(true, Ordering::SeqCst);
    });
    early.deregister();
    std::thread::sleep(Duration::from_millis(50));
    assert!(!fired.load(Ordering::SeqCst));
}

#[test]
fn a_panicking_or_waiting_callback_is_deregistered_and_the_loop_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let _panics = callback::register_timer(
        Duration::from_millis(1),
        Some(Duration::from_millis(1)),
        move || {
            c.fetch_add(1, Ordering::SeqCst);
            panic!("callback panic (expected by the test)");
        },
    );
    let c = calls.clone();
    let _waits = callback::register_timer(Duration::from_millis(1), None, move || {
        c.fetch_add(1, Ordering::SeqCst);
        xasync::time::sleep(Duration::from_millis(1)); // refused: panics
    });
    let guard = std::time::Instant::now() + HANG_GUARD;
    while calls.load(Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < guard, "the timers never fired");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "each ran exactly once");
    // The loop still runs tasks.
    assert_eq!(xasync::xawait(xasync::xasync(|| 7)), 7);
}

#[test]
fn registering_a_regular_file_is_an_error() {
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let err = callback::register_fd(file, Interest::READABLE, |_| {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
}

/// A registration of either kind; dropping it deregisters.
type Watch = Box<dyn Send>;

/// Registers `on_call` to be called soon: by a readable descriptor.
fn fd_watch(mut on_call: Box<dyn FnMut() + Send>) -> Watch {
    let (mut tx, rx) = nonblocking_pair();
    let watch = callback::register_fd(rx, Interest::READABLE, move |_| on_call()).unwrap();
    tx.write_all(b"x").unwrap();
    Box::new((watch, tx))
}

/// Registers `on_call` to be called soon: by a timer.
fn timer_watch(on_call: Box<dyn FnMut() + Send>) -> Watch {
    Box::new(callback::register_timer(
        Duration::from_millis(1),
        None,
        on_call,
    ))
}

/// Waits until `count` reaches two, spinning (this runs where nothing may
/// wait); false if it never does.
fn reach_two(count: &AtomicUsize) -> bool {
    let guard = Instant::now() + HANG_GUARD / 2;
    while count.load(Ordering::SeqCst) < 2 {
        if Instant::now() > guard {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Counts the caller in at `count` and waits until two have arrived.
fn meet(count: &AtomicUsize) -> bool {
    count.fetch_add(1, Ordering::SeqCst);
    reach_two(count)
}

/// Two callbacks, registered by `watch` on the two workers of a runtime,
/// run at the same time and each drops the other's registration.
fn deregister_each_other(watch: fn(Box<dyn FnMut() + Send>) -> Watch) {
    // Leaked if the test fails: shutting down would wait for hung workers.
    let rt = ManuallyDrop::new(Runtime::builder().workers(2).build().unwrap());
    let watches: Arc<[Mutex<Option<Watch>>; 2]> = Arc::default();
    let (registering, stored, calling) = <[Arc<AtomicUsize>; 3]>::default().into();
    let (done, calls) = mpsc::channel();
    let registrars: Vec<_> = (0..2)
        .map(|me| {
            let (watches, registering, stored, calling, done) = (
                watches.clone(),
                registering.clone(),
                stored.clone(),
                calling.clone(),
                done.clone(),
            );
            rt.xasync(move || {
                // Both coroutines run at once, so on two workers, and each
                // registers with its own worker.
                assert!(meet(&registering), "the registrations ran on one worker");
                let (theirs, both_stored) = (watches.clone(), stored.clone());
                let registered = watch(Box::new(move || {
                    let met = reach_two(&both_stored) && meet(&calling);
                    // The other callback is running: this must not wait
                    // for it, as it does the same.
                    drop(theirs[1 - me].lock().unwrap().take());
                    let _ = done.send(met);
                }));
                *watches[me].lock().unwrap() = Some(registered);
                stored.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for registrar in registrars {
        registrar.join().unwrap();
    }
    for _ in 0..2 {
        let met = calls
            .recv_timeout(HANG_GUARD)
            .expect("deadlock: each callback waits for the other to return");
        assert!(met, "the callbacks did not run at the same time");
    }
    // Each call dropped its own callback (and with it its clone of
    // `watches`) when it returned, since it had been deregistered.
    let guard = Instant::now() + HANG_GUARD;
    while Arc::strong_count(&watches) > 1 {
        assert!(Instant::now() < guard, "a deregistered callback was kept");
        std::thread::sleep(Duration::from_millis(1));
    }
    ManuallyDrop::into_inner(rt).shutdown();
}

#[test]
fn fd_callbacks_on_two_workers_may_deregister_each_other() {
    deregister_each_other(fd_watch);
}

#[test]
fn timer_callbacks_on_two_workers_may_deregister_each_other() {
    deregister_each_other(timer_watch);
}
