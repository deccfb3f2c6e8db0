//! A worker's reactor: one epoll instance (through `mio`) in which the
//! worker parks, and the dispatch of the readiness it reports.
//!
//! # Why `mio`, and why one reactor per worker
//!
//! `mio` is the small, well-kept crate for exactly this: a thin epoll
//! wrapper with an eventfd-based [`mio::Waker`], edge-triggered
//! registrations and no runtime of its own. `polling` would do as well, but
//! it is oneshot/level oriented (every wait re-arms the registration with
//! an `epoll_ctl` system call) while edge-triggered registration costs one
//! `epoll_ctl` per socket for its whole life, which matters on the HTTP
//! path. Its `Token` is a plain `usize`, so a token can be the address of
//! the registration itself: no slab, no lookup.
//!
//! Every worker has its own reactor and parks in it (see
//! `runtime::park`). A started coroutine never leaves its worker, and a
//! socket registers with the reactor of the worker that first waits on it,
//! so the common case — a connection served by one coroutine — sees its
//! readiness on the very worker that runs the coroutine: no cross-thread
//! wake-up, no shared poller to contend for, and each worker sleeps in
//! `epoll_wait` with its own timer deadline. A socket later used from
//! another worker is still correct: its readiness is reported here and the
//! waiter's waker sends the task home.
//!
//! # Token lifetime
//!
//! A token is the address of an [`Entry`] kept alive by the registration's
//! `Arc`. An event already returned by `epoll_wait` may name an entry that
//! another thread is deregistering right now, so deregistration never frees
//! an entry: it removes the descriptor from epoll (no later event can name
//! it) and hands the `Arc` to the reactor, which drops it at the start of
//! its next poll — after the batch that might still name it.

use super::backend::IoBackend;
use super::callback::Readiness;
use super::entry::Entry;
use super::uring::Ring;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The token of the reactor's own eventfd (no entry lives at address 0).
const WAKER: mio::Token = mio::Token(0);

/// Events collected per `epoll_wait`.
const EVENTS: usize = 1024;

/// One worker's epoll instance, and its ring if the runtime uses io_uring.
pub(crate) struct Reactor {
    /// Where the worker parks with the io_uring backend (which then
    /// watches the epoll instance); `None` with epoll.
    ring: Option<Ring>,
    /// The poller and its event buffer; only the owning worker polls.
    poller: Mutex<Poller>,
    /// Registers descriptors from any thread (a dup of the epoll fd).
    registry: mio::Registry,
    /// Interrupts `epoll_wait` (an eventfd).
    waker: mio::Waker,
    /// Entries deregistered since the last poll, freed at the next.
    released: Mutex<Vec<Arc<Entry>>>,
    /// Whether `released` may be non-empty (skips its lock when not).
    has_released: AtomicBool,
    /// Descriptors registered now (not counting the eventfd).
    registered: AtomicUsize,
}

struct Poller {
    poll: mio::Poll,
    events: mio::Events,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor").finish_non_exhaustive()
    }
}

impl Reactor {
    /// A new epoll instance with its eventfd, and a ring for `backend`
    /// [`IoBackend::Uring`].
    pub(crate) fn new(backend: IoBackend) -> io::Result<Reactor> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let ring = match backend {
            IoBackend::Uring => Some(Ring::new(poll.as_raw_fd())?),
            IoBackend::Epoll => None,
        };
        Ok(Reactor {
            ring,
            poller: Mutex::new(Poller {
                poll,
                events: mio::Events::with_capacity(EVENTS),
            }),
            registry,
            waker,
            released: Mutex::new(Vec::new()),
            has_released: AtomicBool::new(false),
            registered: AtomicUsize::new(0),
        })
    }

    /// Waits up to `timeout` (`None`: until woken) for readiness, and with
    /// a ring for completions, and dispatches them: wakes the waiting
    /// tasks, runs the callbacks.
    pub(crate) fn poll(&self, timeout: Option<Duration>) {
        let mut poller = lock(&self.poller);
        self.free_released();
        let Some(ring) = &self.ring else {
            return collect(&mut poller, timeout);
        };
        if ring.wait(timeout) {
            collect(&mut poller, Some(Duration::ZERO));
            ring.arm_epoll();
        }
    }

    /// Collects what is ready without sleeping: submits what the ring has
    /// queued, then dispatches. No system call while there is nothing to
    /// submit (the ring's completions are read from memory) or, with
    /// epoll, while nothing is registered.
    pub(crate) fn poll_now(&self) {
        if self.ring.is_some() || !self.is_empty() {
            self.poll(Some(Duration::ZERO));
        }
    }

    /// The worker's ring, if the runtime uses io_uring.
    pub(crate) fn ring(&self) -> Option<&Ring> {
        self.ring.as_ref()
    }

    /// Interrupts the worker's `epoll_wait` (or its next one).
    pub(crate) fn wake(&self) {
        // Fails only if the eventfd counter would overflow after being
        // reset, i.e. never; a missed wake-up would be a hang, so say it.
        if let Err(e) = self.waker.wake() {
            panic!("xasync: cannot wake a worker: {e}");
        }
    }

    /// Registers `fd` (edge-triggered) for `interest`; readiness goes to
    /// `entry`. The caller must [`deregister`](Self::deregister) it before
    /// closing `fd`.
    pub(crate) fn register(
        &self,
        fd: RawFd,
        interest: mio::Interest,
        entry: Entry,
    ) -> io::Result<Arc<Entry>> {
        let entry = Arc::new(entry);
        let token = mio::Token(Arc::as_ptr(&entry) as usize);
        self.registry
            .register(&mut mio::unix::SourceFd(&fd), token, interest)?;
        self.registered.fetch_add(1, Ordering::Relaxed);
        Ok(entry)
    }

    /// Removes `fd` from epoll and frees `entry` once no event can name it.
    pub(crate) fn deregister(&self, fd: RawFd, entry: Arc<Entry>) {
        // ENOENT/EBADF (the fd was closed or replaced) leave nothing to undo.
        let _ = self.registry.deregister(&mut mio::unix::SourceFd(&fd));
        self.registered.fetch_sub(1, Ordering::Relaxed);
        lock(&self.released).push(entry);
        self.has_released.store(true, Ordering::Release);
    }

    /// Whether no descriptor is registered: a poll without waiting would
    /// find nothing to dispatch (the eventfd only interrupts sleeps).
    pub(crate) fn is_empty(&self) -> bool {
        self.registered.load(Ordering::Relaxed) == 0
    }

    /// Frees the entries deregistered since the last poll (their wakers
    /// and callbacks, which may hold tasks). Also called by a worker that
    /// exits, so that nothing it kept holds its runtime alive.
    pub(crate) fn free_released(&self) {
        if self.has_released.swap(false, Ordering::AcqRel) {
            let released = std::mem::take(&mut *lock(&self.released));
            drop(released); // wakers and callbacks, outside the lock
        }
    }
}

/// Waits up to `timeout` in `epoll_wait` and dispatches what it returns.
fn collect(poller: &mut Poller, timeout: Option<Duration>) {
    let Poller { poll, events } = poller;
    let timeout = match timeout {
        Some(short) if !short.is_zero() && short < PRECISE_BELOW => {
            // epoll_wait counts whole milliseconds (mio rounds up): a
            // 1 ms sleep would take up to 2. Sleep precisely in ppoll(2)
            // on the epoll fd, then collect without waiting.
            sleep_precisely(poll.as_raw_fd(), short);
            Some(Duration::ZERO)
        }
        timeout => timeout,
    };
    if let Err(e) = poll.poll(events, timeout) {
        // EINTR is an early wake-up; anything else means the epoll fd
        // itself is broken, which nothing here can repair.
        assert!(
            e.kind() == io::ErrorKind::Interrupted,
            "xasync: epoll_wait failed: {e}"
        );
        return;
    }
    for event in events.iter() {
        if event.token() == WAKER {
            continue;
        }
        let entry = event.token().0 as *const Entry;
        // SAFETY: tokens other than WAKER are `Arc::as_ptr` of entries
        // registered here (`register`). Deregistration removes the fd
        // from epoll before handing its `Arc` to `released`, which is
        // emptied only at the start of a poll (`Reactor::poll`, our
        // caller), so an entry named by an event of this batch is still
        // alive.
        unsafe { &*entry }.dispatch(Readiness::of(event));
    }
}

/// Timeouts shorter than this are slept with `ppoll(2)`'s nanosecond
/// precision; longer ones in `epoll_wait` (at most 1 ms late: < 10 %).
const PRECISE_BELOW: Duration = Duration::from_millis(10);

/// Sleeps until the epoll instance `epfd` has events or `timeout` passed.
fn sleep_precisely(epfd: RawFd, timeout: Duration) {
    let mut pollfd = libc::pollfd {
        fd: epfd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: 0, // below PRECISE_BELOW
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: one valid `pollfd`, a valid timespec, no signal mask. An
    // error (EINTR) is an early wake-up, which the caller tolerates.
    unsafe { libc::ppoll(&mut pollfd, 1, &timeout, std::ptr::null()) };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
