//! The event loop's callback interface (the seed's "event response
//! mechanism", and what the C ABI exposes): run a function when a file
//! descriptor becomes ready or when a timer expires.
//!
//! Callbacks run *on the loop*: on the worker whose reactor (for a file
//! descriptor) or timing wheel (for a timer) holds the registration — the
//! current worker when registering from one, else a worker of the current
//! (or default) runtime chosen by thread. The "user data" of a C-style
//! callback is whatever the closure captures.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use std::sync::{Arc, mpsc};
//! use xasync::io::callback::{self, Interest};
//!
//! let (mut tx, rx) = UnixStream::pair().unwrap();
//! rx.set_nonblocking(true).unwrap();
//! let rx = Arc::new(rx);
//! let (done, got) = mpsc::channel();
//! let reader = rx.clone(); // the callback's user data
//! let watch = callback::register_fd(rx, Interest::READABLE, move |ready| {
//!     if ready.is_readable() {
//!         let mut buf = [0; 5];
//!         if let Ok(n) = (&*reader).read(&mut buf) {
//!             done.send(buf[..n].to_vec()).unwrap();
//!         }
//!     }
//! })
//! .unwrap();
//! tx.write_all(b"hello").unwrap();
//! assert_eq!(got.recv().unwrap(), b"hello");
//! watch.deregister(); // after this the callback never runs again
//! ```
//!
//! # Rules
//!
//! * **Edge-triggered.** A file descriptor's callback runs when it *becomes*
//!   ready; consume what is there (read until `WouldBlock`) or the next
//!   call waits for new readiness. Set the descriptor non-blocking.
//! * **Do not wait in a callback.** It runs on a worker between tasks:
//!   waiting functions (`xawait`, `sleep`, a blocking `read`) panic there
//!   as they do inside `Future::poll`. Start a coroutine with
//!   [`xasync`](crate::xasync) for longer work.
//! * **Deregistration.** Once [`FdRegistration::deregister`] or
//!   [`TimerRegistration::deregister`] (or the drop of the registration)
//!   has returned, the callback is never called again. A call already in
//!   progress is waited for only where that cannot deadlock:
//!   * on a thread that is not a runtime's worker (the main thread, a
//!     thread of your own, the blocking pool), deregistration waits for a
//!     call in progress to return, and the callback is dropped by the time
//!     it returns;
//!   * on a worker (in a callback, a coroutine or an async task) it does
//!     not wait: a call in progress on another worker goes on, and drops
//!     the callback when it returns. (Two callbacks on two workers that
//!     deregister each other would otherwise each wait for the other
//!     forever.) This covers a callback that deregisters itself. From a
//!     coroutine that must know the callback has returned, deregister on
//!     the blocking pool: `xasync::blocking(move || watch.deregister())`.
//! * A callback that panics is deregistered (and dropped); the panic is
//!   reported on standard error and the loop goes on.

use crate::context::Polling;
use crate::runtime::Handle;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use super::entry::Entry;
use super::registration::Registration;

/// Which readiness of a file descriptor to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest {
    readable: bool,
    writable: bool,
}

impl Interest {
    /// Ready to read (or accept).
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Ready to write (or a connect finished).
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Both.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };

    pub(crate) fn to_mio(self) -> mio::Interest {
        match (self.readable, self.writable) {
            (true, false) => mio::Interest::READABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE | mio::Interest::WRITABLE,
        }
    }
}

/// The readiness a callback is called with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Readiness(u8);

const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;
const ERROR: u8 = 16;

impl Readiness {
    pub(crate) fn of(event: &mio::event::Event) -> Readiness {
        let bit = |set: bool, bit: u8| if set { bit } else { 0 };
        Readiness(
            bit(event.is_readable(), READABLE)
                | bit(event.is_writable(), WRITABLE)
                | bit(event.is_read_closed(), READ_CLOSED)
                | bit(event.is_write_closed(), WRITE_CLOSED)
                | bit(event.is_error(), ERROR),
        )
    }

    /// Data can be read (or a connection accepted).
    pub fn is_readable(self) -> bool {
        self.0 & READABLE != 0
    }

    /// Data can be written.
    pub fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }

    /// The peer closed its side, or the descriptor hung up.
    pub fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }

    /// Writing can no longer succeed.
    pub fn is_write_closed(self) -> bool {
        self.0 & WRITE_CLOSED != 0
    }

    /// An error is pending on the descriptor (read it with `SO_ERROR`, or
    /// by the next operation, which fails with it).
    pub fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    /// Any of: read closed, write closed, error.
    pub(crate) fn is_closed(self) -> bool {
        self.0 & (READ_CLOSED | WRITE_CLOSED | ERROR) != 0
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness")
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("error", &self.is_error())
            .finish()
    }
}

/// Calls `callback` on the loop each time `source` becomes ready for
/// `interest`, until the returned registration is deregistered or dropped.
///
/// The registration owns `source` (so the descriptor cannot be closed, and
/// its number reused, while it is watched); pass an `Arc` to use it in the
/// callback too, and get it back from [`FdRegistration::deregister`].
///
/// # Errors
///
/// What `epoll_ctl` reports: e.g. `PermissionDenied` for a regular file,
/// `AlreadyExists` if the descriptor is already registered in this loop.
pub fn register_fd<S, F>(
    source: S,
    interest: Interest,
    callback: F,
) -> io::Result<FdRegistration<S>>
where
    S: AsFd,
    F: FnMut(Readiness) + Send + 'static,
{
    let fd = source.as_fd().as_raw_fd();
    let registration = Registration::new(
        fd,
        interest.to_mio(),
        Entry::Callback(Slot::new(Box::new(callback))),
    )?;
    Ok(FdRegistration {
        registration,
        source,
    })
}

/// A file descriptor watched by a callback; see [`register_fd`].
/// Dropping it deregisters (and drops the source).
#[must_use = "dropping the registration deregisters the callback at once"]
pub struct FdRegistration<S> {
    // Declared first: deregistered before the source can be closed.
    registration: Registration,
    source: S,
}

impl<S> FdRegistration<S> {
    /// The watched source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Stops watching and returns the source. The callback is never called
    /// again; off the runtime's workers, a call in progress has returned
    /// too (see the module docs). A call still in progress on another
    /// worker reaches the source only through what it captured (an `Arc`).
    pub fn deregister(self) -> S {
        let FdRegistration {
            registration,
            source,
        } = self;
        drop(registration);
        source
    }
}

impl<S> fmt::Debug for FdRegistration<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdRegistration").finish_non_exhaustive()
    }
}

/// Calls `callback` on the loop once `after` has elapsed, then every
/// `period` if one is given, until the returned registration is
/// deregistered or dropped. A periodic timer that falls behind skips the
/// missed calls rather than running them in a burst.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use xasync::io::callback;
///
/// let (tx, rx) = mpsc::channel();
/// let timer = callback::register_timer(Duration::from_millis(1), Some(Duration::from_millis(1)), move || {
///     let _ = tx.send(());
/// });
/// for _ in 0..3 {
///     rx.recv().unwrap(); // three ticks
/// }
/// timer.deregister();
/// ```
pub fn register_timer<F>(
    after: Duration,
    period: Option<Duration>,
    callback: F,
) -> TimerRegistration
where
    F: FnMut() + Send + 'static,
{
    let mut callback = callback;
    let timer = Arc::new(TimerCallback {
        slot: Slot::new(Box::new(move |()| callback())),
        period: period.map(|p| p.max(Duration::from_millis(1))),
        handle: Handle::current(),
        armed: Mutex::new(Armed {
            deadline: Instant::now().checked_add(after),
            key: None,
        }),
    });
    timer.arm(&mut lock(&timer.armed));
    TimerRegistration { timer }
}

/// A timer with a callback; see [`register_timer`]. Dropping it
/// deregisters.
#[must_use = "dropping the registration deregisters the callback at once"]
pub struct TimerRegistration {
    timer: Arc<TimerCallback>,
}

impl TimerRegistration {
    /// Cancels the timer. The callback is never called again; off the
    /// runtime's workers, a call in progress has returned too (see the
    /// module docs).
    pub fn deregister(self) {}
}

impl Drop for TimerRegistration {
    fn drop(&mut self) {
        self.timer.slot.cancel();
        let mut armed = lock(&self.timer.armed);
        if let Some((worker, key)) = armed.key.take() {
            self.timer.handle.timers(worker).remove(key);
        }
    }
}

impl fmt::Debug for TimerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerRegistration")
            .field("period", &self.timer.period)
            .finish_non_exhaustive()
    }
}

/// A timer callback; it is its own waker in the worker's timing wheel, so
/// "waking" it runs the callback on the worker that fires the wheel.
struct TimerCallback {
    slot: Slot<()>,
    period: Option<Duration>,
    handle: Handle,
    /// The pending timer; serializes re-arming with deregistration.
    armed: Mutex<Armed>,
}

struct Armed {
    /// When the pending (or next) call is due; `None`: never.
    deadline: Option<Instant>,
    key: Option<(usize, xasync_core::time::TimerKey)>,
}

impl TimerCallback {
    /// Registers the timer for `armed.deadline` unless deregistered.
    fn arm(self: &Arc<Self>, armed: &mut Armed) {
        if self.slot.is_cancelled() {
            return;
        }
        let waker = Waker::from(self.clone());
        armed.key = Some(self.handle.register_timer(armed.deadline, waker));
    }
}

impl Wake for TimerCallback {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.armed).key = None; // it fired
        self.slot.fire(());
        if let Some(period) = self.period {
            let mut armed = lock(&self.armed);
            let now = Instant::now();
            let next = armed.deadline.and_then(|d| d.checked_add(period));
            armed.deadline = next.map(|next| if next < now { now + period } else { next });
            self.arm(&mut armed);
        }
    }
}

/// A callback that can be fired and cancelled from different threads.
pub(crate) struct Slot<A> {
    state: Mutex<SlotState<A>>,
    /// Signalled when a call ends.
    idle: Condvar,
}

struct SlotState<A> {
    /// `None` while it runs, and once cancelled.
    callback: Option<Box<dyn FnMut(A) + Send>>,
    /// Whether a call is in progress.
    firing: bool,
    cancelled: bool,
}

impl<A> Slot<A> {
    pub(crate) fn new(callback: Box<dyn FnMut(A) + Send>) -> Slot<A> {
        Slot {
            state: Mutex::new(SlotState {
                callback: Some(callback),
                firing: false,
                cancelled: false,
            }),
            idle: Condvar::new(),
        }
    }

    /// Runs the callback with `arg`, unless cancelled (or already running).
    /// If it was cancelled meanwhile (or panicked), drops it before the
    /// call counts as ended.
    pub(crate) fn fire(&self, arg: A) {
        let mut callback = {
            let mut state = lock(&self.state);
            if state.cancelled {
                return;
            }
            let Some(callback) = state.callback.take() else {
                return;
            };
            state.firing = true;
            callback
        };
        let outcome = {
            let _polling = Polling::enter(); // waiting in it panics loudly
            catch_unwind(AssertUnwindSafe(|| callback(arg)))
        };
        if outcome.is_err() {
            eprintln!("xasync: an event callback panicked; it has been deregistered");
        }
        let mut state = lock(&self.state);
        let mut dropped = Ok(());
        if outcome.is_ok() && !state.cancelled {
            state.callback = Some(callback);
        } else {
            state.cancelled = true;
            // Dropped with the lock released (dropping what it captured may
            // deregister this very slot), and before the call counts as
            // ended even if a destructor panics.
            drop(state);
            dropped = catch_unwind(AssertUnwindSafe(|| drop(callback)));
            state = lock(&self.state);
        }
        state.firing = false;
        drop(state);
        self.idle.notify_all();
        if let Err(panic) = dropped {
            resume_unwind(panic);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called (or the callback panicked).
    fn is_cancelled(&self) -> bool {
        lock(&self.state).cancelled
    }

    /// Makes sure the callback is never called again. A call in progress
    /// drops it when it returns; off the runtime's workers this waits for
    /// that (see the module docs: a worker must not, since the call may be
    /// waiting for it in turn).
    pub(crate) fn cancel(&self) {
        let mut state = lock(&self.state);
        state.cancelled = true;
        let callback = state.callback.take();
        if Handle::try_current().is_none() {
            while state.firing {
                state = self.idle.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        }
        drop(state);
        drop(callback);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
