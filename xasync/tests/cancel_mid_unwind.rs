//! A cancellation reaches a coroutine while another coroutine of the same
//! worker is suspended in the middle of its own unwinding (a destructor
//! that waits): the thread then counts as panicking for the standard
//! library, which must not stop the first one from unwinding. Under
//! valgrind, whose slow threads order the coroutines so,
//! `cancel::a_destructor_waits_while_the_runtime_shuts_down` hung; this
//! test sets that order up on purpose, with one worker.

mod bounded;

use bounded::within;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use xasync::Runtime;
use xasync::sync::Mutex;

/// Locks the mutex in its destructor.
struct LockOnDrop(Arc<Mutex<u32>>);

impl Drop for LockOnDrop {
    fn drop(&mut self) {
        *self.0.lock() += 1;
    }
}

/// One worker. The first coroutine goes idle first, so the shutdown
/// cancels it first: its destructor waits for the mutex, which the second
/// coroutine holds while it sleeps. The second one must still unwind (and
/// unlock) although the worker's thread counts as panicking meanwhile.
#[test]
fn a_coroutine_holding_what_an_unwinding_destructor_waits_for_is_cancelled() {
    within(Duration::from_secs(10), "shutdown", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let mutex = Arc::new(Mutex::new(0));
        let (m1, m2) = (mutex.clone(), mutex.clone());
        let waits = Arc::new(AtomicBool::new(false));
        let locked = Arc::new(AtomicBool::new(false));
        let (w, l) = (waits.clone(), locked.clone());
        rt.xasync(move || {
            let _unlock_later = LockOnDrop(m1);
            w.store(true, Ordering::SeqCst);
            xasync::time::sleep(Duration::from_secs(3600));
        })
        .detach();
        while !waits.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.xasync(move || {
            let _held = m2.lock();
            l.store(true, Ordering::SeqCst);
            xasync::time::sleep(Duration::from_secs(3600));
        })
        .detach();
        while !locked.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.shutdown();
        assert_eq!(*mutex.lock(), 1, "the destructor's lock did not complete");
    });
}
