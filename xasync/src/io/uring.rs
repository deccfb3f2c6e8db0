//! A worker's io_uring instance: where the worker parks when the runtime
//! uses io_uring (see [`super::backend`]), and where its coroutines' socket
//! and file operations run with the buffers they borrowed.
//!
//! # Why a borrowed buffer is sound here
//!
//! A future can be dropped or leaked while the kernel still writes into
//! its buffer, which is why io_uring runtimes for futures take buffers by
//! value. A coroutine's frame cannot go away behind the runtime's back:
//! [`Ring::run`] returns, or unwinds (a cancellation, a panic), only after
//! the operation's completion was reaped. Its guard, [`Reap`], asks the
//! kernel to cancel an operation still in flight (on a timeout, or during
//! an unwind) and then waits, in the ring, without suspending, until the
//! completion arrives. So the frame that lent the buffer, and the [`Op`]
//! whose address is the operation's `user_data`, outlive the kernel's use
//! of both. Futures never lend buffers to the ring: they keep waiting for
//! readiness. Hooked calls (feature `hook`) lend theirs through
//! `run_here_until`, which also ends the wait when another future does
//! (the descriptor closed) and returns a cancellation instead of unwinding.
//!
//! # Timeouts
//!
//! An operation's timeout is a timer in its worker's wheel, armed only if
//! the operation is still pending once submitted (see
//! [`Ring::arm_timers`]): most complete in the `io_uring_enter` that
//! submits them and pay for no timer. When it fires, the coroutine wakes,
//! sees the deadline passed, and [`Reap`] cancels the operation as above.
//!
//! # Readiness on a ring
//!
//! The readiness registrations (futures' sockets, the callback API) stay
//! in the reactor's epoll instance, which the ring watches with a one-shot
//! `IORING_OP_POLL_ADD`: when it completes, the reactor collects the
//! epoll events without waiting and arms the poll again. A one-shot poll
//! is checked when it is armed, so events that arrived meanwhile complete
//! it at once: none is lost. The worker's wake-up (the eventfd of the
//! reactor's `mio::Waker`, registered in epoll) reaches the ring the same
//! way.
//!
//! Only the owning worker submits and reaps (coroutines run on their
//! worker and never migrate), so the mutex around the ring is never
//! contended; it makes `Ring` shareable with the other threads that hold
//! the runtime.

use crate::context::{self, Caller, CoroutineCx};
use crate::runtime::Handle;
use io_uring::{IoUring, opcode, squeue, types};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::marker::PhantomPinned;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use xasync_core::time::TimerKey;

/// Submission queue entries per ring (the completion queue has twice as
/// many, and the kernel keeps overflowing completions rather than drop
/// them: `IORING_FEAT_NODROP`).
const ENTRIES: u32 = 256;

/// The `user_data` of the poll on the epoll instance. An [`Op`]'s address
/// is never this small.
const EPOLL: u64 = 0;

/// The `user_data` of cancellation requests, whose own completions say
/// nothing the cancelled operation's will not.
const CANCEL: u64 = 1;

/// The operations the runtime submits, which the probe checks.
const NEEDED: [(u8, &str); 11] = [
    (opcode::PollAdd::CODE, "IORING_OP_POLL_ADD"),
    (opcode::AsyncCancel::CODE, "IORING_OP_ASYNC_CANCEL"),
    (opcode::Recv::CODE, "IORING_OP_RECV"),
    (opcode::Send::CODE, "IORING_OP_SEND"),
    (opcode::RecvMsg::CODE, "IORING_OP_RECVMSG"),
    (opcode::SendMsg::CODE, "IORING_OP_SENDMSG"),
    (opcode::Accept::CODE, "IORING_OP_ACCEPT"),
    (opcode::Read::CODE, "IORING_OP_READ"),
    (opcode::Write::CODE, "IORING_OP_WRITE"),
    (opcode::Fsync::CODE, "IORING_OP_FSYNC"),
    (opcode::OpenAt::CODE, "IORING_OP_OPENAT"),
];

/// Whether io_uring can be used: a ring can be set up, waits with a
/// timeout (`IORING_FEAT_EXT_ARG`, Linux 5.11) and knows every operation
/// the runtime submits. The error says what is missing.
pub(crate) fn probe() -> Result<(), String> {
    let ring = IoUring::new(2).map_err(|e| format!("io_uring_setup failed: {e}"))?;
    if !ring.params().is_feature_ext_arg() {
        return Err("the kernel's io_uring cannot wait with a timeout (Linux < 5.11)".into());
    }
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring cannot be probed: {e}"))?;
    match NEEDED.iter().find(|(code, _)| !probe.is_supported(*code)) {
        Some((_, name)) => Err(format!("the kernel's io_uring lacks {name}")),
        None => Ok(()),
    }
}

/// Runs the operation that `sqe` builds in the ring of the current worker
/// if the caller is a coroutine on a worker that parks in one, and returns
/// its result as [`Ring::run`] does; `None` for any other caller, which
/// waits for readiness instead.
///
/// # Safety
///
/// As for [`Ring::run`]: what the operation refers to stays valid, and
/// unused by others as it needs, until this returns or unwinds.
pub(crate) unsafe fn run_here(
    timeout: Option<Duration>,
    sqe: impl FnOnce() -> squeue::Entry,
) -> Option<io::Result<u32>> {
    // SAFETY: by this function's contract.
    here(|coroutine, ring, handle| unsafe { ring.run(coroutine, sqe(), timeout, handle) })
}

/// How [`run_here_until`] ended.
#[cfg(feature = "hook")]
#[derive(Debug)]
pub(crate) enum Finish<T> {
    /// The operation completed (possibly while being cancelled): its
    /// result.
    Completed(io::Result<u32>),
    /// The end came first (or refused the start): its output.
    Ended(T),
    /// The timeout ran out first.
    TimedOut,
    /// The coroutine was cancelled (see
    /// [`CoroutineCx::wait_or_cancelled`]).
    Cancelled,
}

/// Runs an operation in the ring of the current worker, as [`run_here`],
/// for a caller that must not be unwound (a hook): `start` gives the
/// operation and a guard that is held until it is submitted — which
/// happens at once, so that the kernel takes hold of the file it names
/// before the guard goes — or refuses with an output of `end`. The wait
/// ends when the operation completes, when `end` does, or when the
/// coroutine is cancelled, which comes back as [`Finish::Cancelled`]
/// rather than as an unwind, or when `timeout` runs out (counted as
/// [`Ring::run`] counts it). The operation is cancelled and reaped before
/// this returns, on every path. `None` (and `start` not called) for a
/// caller that is not a coroutine on a worker parking in a ring.
///
/// # Safety
///
/// As for [`Ring::run`].
#[cfg(feature = "hook")]
pub(crate) unsafe fn run_here_until<G, E: Future + Unpin>(
    start: impl FnOnce() -> Result<(squeue::Entry, G), E::Output>,
    end: E,
    timeout: Option<Duration>,
) -> Option<Finish<E::Output>> {
    here(|coroutine, ring, handle| {
        let (sqe, guard) = match start() {
            Ok(started) => started,
            Err(ended) => return Finish::Ended(ended),
        };
        // SAFETY: by this function's contract.
        let (waited, result) = unsafe {
            ring.with(sqe, timeout, handle, |completion| {
                ring.submit();
                drop(guard);
                coroutine.wait_or_cancelled(completion.or(end))
            })
        };
        match waited {
            Some(Ok(Err(_timed_out))) if result == -libc::ECANCELED => Finish::TimedOut,
            Some(Err(ended)) if result == -libc::ECANCELED => Finish::Ended(ended),
            None if result == -libc::ECANCELED => Finish::Cancelled,
            _ => Finish::Completed(outcome(result)),
        }
    })
}

/// Calls `f` with the caller, the ring of its worker and its runtime if
/// the caller is a coroutine on a worker that parks in a ring.
fn here<R>(f: impl FnOnce(&CoroutineCx<'_>, &Ring, &Handle) -> R) -> Option<R> {
    let Caller::Coroutine(coroutine) = context::caller() else {
        return None;
    };
    let (handle, index) = crate::runtime::current_worker()?;
    let ring = handle.reactor(index).ring()?;
    // `coroutine` is the caller, on its worker (a started coroutine never
    // leaves it), whose ring this is.
    Some(f(coroutine, ring, &handle))
}

/// An operation's result as a count or an error.
fn outcome(result: i32) -> io::Result<u32> {
    if result < 0 {
        Err(io::Error::from_raw_os_error(-result))
    } else {
        Ok(result as u32)
    }
}

/// Whether [`run_here`] would run an operation for the caller: it is a
/// coroutine on a worker that parks in a ring.
pub(crate) fn usable_here() -> bool {
    here(|_, _, _| ()).is_some()
}

/// A length for the ring, which counts in `u32` (a longer transfer is
/// short, as `read` and `write` may be).
pub(crate) fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Whether collecting without waiting takes an `io_uring_enter`: there is
/// something to submit, completions wait for the worker to run them
/// (`taskrun`), or the completion queue overflowed into the kernel's
/// backlog, which only an enter flushes.
fn needs_enter(ring: &mut IoUring) -> bool {
    let queue = ring.submission();
    !queue.is_empty() || queue.taskrun() || queue.cq_overflow()
}

/// Sleeps until `fd` is readable or `timeout` (`None`: without end) ran
/// out; a signal ends it early, which the caller tolerates.
fn sleep_until_readable(fd: RawFd, timeout: Option<Duration>) {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(t.subsec_nanos()),
    });
    let timeout = timeout
        .as_ref()
        .map_or(std::ptr::null(), std::ptr::from_ref);
    // SAFETY: one valid `pollfd`; a valid timespec or null (no timeout);
    // no signal mask.
    unsafe { libc::ppoll(&mut pollfd, 1, timeout, std::ptr::null()) };
}

/// One worker's ring.
pub(crate) struct Ring {
    /// Not dropped while operations are in flight (see `Drop`).
    ring: ManuallyDrop<Mutex<IoUring>>,
    /// The epoll instance the ring watches.
    epoll: RawFd,
    /// The poll on `epoll` completed: collect its events at the next poll.
    epoll_ready: AtomicBool,
    /// Operations pushed whose completion was not reaped yet.
    in_flight: AtomicUsize,
    /// The addresses of the operations with a timeout whose timer is not
    /// armed yet: it is, by [`arm_timers`](Self::arm_timers), once they
    /// were submitted and did not complete at once.
    unarmed: Mutex<Vec<usize>>,
    /// Sleep in `ppoll(2)` on the ring rather than in `io_uring_enter`:
    /// under valgrind (3.19, the version CI installs), which runs
    /// `io_uring_enter` holding the lock that lets one thread run at a
    /// time, not knowing that it blocks, so that no other thread could run
    /// to wake it: the process hung.
    sleep_in_ppoll: bool,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").finish_non_exhaustive()
    }
}

impl Ring {
    /// A ring watching the epoll instance `epoll` (which must outlive it).
    pub(crate) fn new(epoll: RawFd) -> io::Result<Ring> {
        let sleep_in_ppoll = xasync_core::stack::running_on_valgrind();
        // Cooperative task running: the kernel does not interrupt the
        // running worker (an inter-processor interrupt, a signal-like
        // wake-up) to post each completion, but leaves them for its next
        // `io_uring_enter`, and flags that there are some (`taskrun`).
        // Linux 5.19; not under valgrind, whose ppoll sleep enters no ring.
        let cooperative = (!sleep_in_ppoll).then(|| {
            IoUring::builder()
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .build(ENTRIES)
        });
        let ring = match cooperative {
            Some(Ok(ring)) => ring,
            _ => IoUring::new(ENTRIES)?,
        };
        let ring = Ring {
            ring: ManuallyDrop::new(Mutex::new(ring)),
            epoll,
            epoll_ready: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            unarmed: Mutex::new(Vec::new()),
            sleep_in_ppoll,
        };
        ring.arm_epoll();
        Ok(ring)
    }

    /// Watches the epoll instance again (after its events were collected).
    pub(crate) fn arm_epoll(&self) {
        let poll = opcode::PollAdd::new(types::Fd(self.epoll), libc::POLLIN as u32)
            .build()
            .user_data(EPOLL);
        // SAFETY: a poll refers to no memory.
        unsafe { self.push(&[poll]) };
    }

    /// Submits what was pushed and waits up to `timeout` (`None`: without
    /// end) for a completion — not at all if the epoll instance has events
    /// to collect already — then dispatches every completion there is, and
    /// arms the timers of the operations submitted that are still pending.
    /// Returns whether the epoll instance has events to collect (the
    /// caller then collects them and calls [`arm_epoll`](Self::arm_epoll)).
    pub(crate) fn wait(&self, mut timeout: Option<Duration>) -> bool {
        if timeout != Some(Duration::ZERO)
            && let Some(first) = self.arm_timers()
        {
            // About to sleep: the timers of what was pushed are armed
            // first, counting from now, which is after their calls began,
            // and the sleep ends no later than the first of them.
            timeout = Some(timeout.map_or(first, |t| t.min(first)));
        }
        self.enter(timeout);
        self.arm_timers();
        self.epoll_ready.swap(false, Ordering::Relaxed)
    }

    /// Submits what was pushed, waits up to `timeout` as [`wait`](Self::wait)
    /// says, and dispatches the completions.
    fn enter(&self, timeout: Option<Duration>) {
        let mut ring = self.lock();
        let timeout = if self.epoll_ready.load(Ordering::Relaxed) {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let entered = match timeout {
            Some(Duration::ZERO) if !needs_enter(&mut ring) => Ok(0),
            Some(Duration::ZERO) => ring.submit(),
            _ if self.sleep_in_ppoll => ring.submit().inspect(|_| {
                if ring.completion().is_empty() {
                    sleep_until_readable(ring.as_raw_fd(), timeout);
                }
            }),
            Some(timeout) => {
                let timespec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&timespec);
                ring.submitter().submit_with_args(1, &args)
            }
            None => ring.submit_and_wait(1),
        };
        drop(ring);
        if let Err(e) = entered {
            // ETIME: the timeout; EINTR: a signal; EBUSY: completions
            // overflowed, which reaping below makes room for. Anything else
            // means the ring itself is broken.
            assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ),
                "xasync: io_uring_enter failed: {e}"
            );
        }
        self.reap();
    }

    /// Arms the timers of the operations listed in `unarmed` that did not
    /// complete yet, with one clock read for all. A busy worker calls it
    /// right after the `io_uring_enter` that submitted them, so that an
    /// operation that completed there (a send with room, a receive with
    /// data: most) costs no timer at all; a worker about to sleep calls it
    /// before. Returns the shortest timeout armed.
    fn arm_timers(&self) -> Option<Duration> {
        let mut unarmed = lock(&self.unarmed);
        if unarmed.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut shortest: Option<Duration> = None;
        for op in unarmed.drain(..) {
            // SAFETY: a listed `Op` is alive: `Reap` takes it off the list
            // before its frame goes.
            let op = unsafe { &*(op as *const Op<'_>) };
            op.listed.set(false);
            if let Some(timeout) = op.arm(now) {
                shortest = Some(shortest.map_or(timeout, |s| s.min(timeout)));
            }
        }
        shortest
    }

    /// Runs `sqe` for `coroutine` and returns its result (a count, or the
    /// error), `TimedOut` if `timeout` ran out first (unless the operation
    /// completed while being cancelled: then its result).
    ///
    /// The timeout's timer, in the wheel of the worker (of `handle`'s
    /// runtime), is armed only if the operation did not complete when
    /// submitted, and counts from then (see
    /// [`arm_timers`](Self::arm_timers)). A timeout linked to the operation
    /// in the kernel (`IORING_OP_LINK_TIMEOUT`) was tried: the kernel arms
    /// and disarms it even for an operation that completes when submitted,
    /// which cost 5% of pipelined HTTP's throughput per CPU-second.
    ///
    /// # Safety
    ///
    /// Whatever memory `sqe` refers to stays valid, and unused by others as
    /// the operation needs, until this returns or unwinds; the caller is
    /// `coroutine` itself, running on the worker that owns this ring.
    pub(crate) unsafe fn run(
        &self,
        coroutine: &CoroutineCx<'_>,
        sqe: squeue::Entry,
        timeout: Option<Duration>,
        handle: &Handle,
    ) -> io::Result<u32> {
        // SAFETY: by this function's contract.
        let (waited, result) = unsafe {
            self.with(sqe, timeout, handle, |completion| {
                coroutine.wait(completion)
            })
        };
        match waited {
            Err(timed_out) if result == -libc::ECANCELED => Err(timed_out),
            _ => outcome(result),
        }
    }

    /// Pushes `sqe` (with `timeout` and `handle` as for [`run`](Self::run))
    /// and calls `wait` with its completion, to wait for; returns what
    /// `wait` returned and the operation's result, once the operation was
    /// cancelled (if `wait` returned before its completion) and reaped —
    /// also when `wait` unwinds.
    ///
    /// # Safety
    ///
    /// As for [`run`](Self::run).
    unsafe fn with<W>(
        &self,
        sqe: squeue::Entry,
        timeout: Option<Duration>,
        handle: &Handle,
        wait: impl FnOnce(Completion<'_>) -> W,
    ) -> (W, i32) {
        let op = std::pin::pin!(Op::new(timeout, handle));
        let op = op.as_ref().get_ref();
        let address = std::ptr::from_ref(op) as usize;
        // SAFETY: the caller keeps the buffers valid until we return; the
        // `Op` lives in this frame, which `Reap` (below) keeps until the
        // completion is reaped.
        unsafe { self.push(&[sqe.user_data(address as u64)]) };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if timeout.is_some() {
            op.listed.set(true);
            lock(&self.unarmed).push(address);
        }
        let reap = Reap { ring: self, op };
        let waited = wait(Completion(op));
        drop(reap);
        (waited, op.result.get().expect("reaped"))
    }

    /// Submits what was pushed, without waiting: the kernel starts the
    /// operations (and takes hold of their files) now rather than when the
    /// worker next parks.
    #[cfg(feature = "hook")]
    fn submit(&self) {
        if let Err(e) = self.lock().submit() {
            // EBUSY: completions overflowed; EINTR: a signal. The worker
            // submits what is left when it next parks.
            assert!(
                matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)),
                "xasync: io_uring_enter failed: {e}"
            );
        }
    }

    /// Pushes `sqes`, together (a link is not split across submissions),
    /// submitting what is queued first if they do not fit.
    ///
    /// # Safety
    ///
    /// What `sqes` refer to stays valid until their completions are reaped.
    unsafe fn push(&self, sqes: &[squeue::Entry]) {
        loop {
            let mut ring = self.lock();
            // SAFETY: by this function's contract.
            if unsafe { ring.submission().push_multiple(sqes) }.is_ok() {
                return;
            }
            let submitted = ring.submit();
            drop(ring);
            if let Err(e) = submitted {
                // EBUSY: too many completions unreaped; reap, then retry.
                assert!(
                    matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)),
                    "xasync: io_uring_enter failed: {e}"
                );
                self.reap();
            }
        }
    }

    /// Cancels `op` and waits, without suspending, for its completion.
    fn cancel(&self, op: &Op<'_>) {
        let cancel = opcode::AsyncCancel::new(std::ptr::from_ref(op) as u64)
            .build()
            .user_data(CANCEL);
        // SAFETY: a cancellation refers to no memory.
        unsafe { self.push(&[cancel]) };
        while op.result.get().is_none() {
            let waited = self.lock().submit_and_wait(1);
            if let Err(e) = waited {
                assert!(
                    matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)),
                    "xasync: io_uring_enter failed: {e}"
                );
            }
            self.reap();
        }
    }

    /// Dispatches every completion in the queue. The completions are taken
    /// under the lock and dispatched after it: a waker may drop a task,
    /// whose coroutine then unwinds here and cancels its own operation.
    fn reap(&self) {
        let mut batch = [(0, 0); 32];
        loop {
            let mut taken = 0;
            for (slot, cqe) in batch.iter_mut().zip(self.lock().completion()) {
                *slot = (cqe.user_data(), cqe.result());
                taken += 1;
            }
            for &(user_data, result) in &batch[..taken] {
                self.dispatch(user_data, result);
            }
            if taken < batch.len() {
                return;
            }
        }
    }

    fn dispatch(&self, user_data: u64, result: i32) {
        match user_data {
            EPOLL => self.epoll_ready.store(true, Ordering::Relaxed),
            CANCEL => {}
            op => {
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                let op = op as *const Op<'_>;
                // SAFETY: every other `user_data` is the address of an `Op`
                // pushed by `run`, which does not return (or unwind) before
                // its completion was dispatched, here.
                unsafe { &*op }.complete(result);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, IoUring> {
        lock(&self.ring)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Operations are in flight only if a coroutine was not unwound
        // before its worker exited, which the runtime never does (see
        // `run`). Were one left, closing the ring would let the kernel
        // complete it into memory since reused; a leaked ring keeps it
        // pending instead.
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            // SAFETY: dropped once, here, and not used after.
            unsafe { ManuallyDrop::drop(&mut self.ring) };
        }
    }
}

/// An operation in flight: where its completion goes, and its timeout.
/// Lives in the frame of [`Ring::run`], at an address that is its
/// `user_data`.
///
/// Plain cells: the coroutine that waits and the worker that dispatches
/// are on the same thread (a started coroutine never leaves its worker's
/// thread, even to be dropped: see `xasync_core::task::stackful`).
struct Op<'a> {
    result: Cell<Option<i32>>,
    waker: Cell<Option<Waker>>,
    /// How long it may wait once submitted (`None`: without end).
    timeout: Option<Duration>,
    /// The runtime whose wheel holds the timer.
    handle: &'a Handle,
    /// In the ring's `unarmed` list.
    listed: Cell<bool>,
    /// Once armed: the deadline, and the timer's worker and key.
    timer: Cell<Option<(Instant, usize, TimerKey)>>,
    _pinned: PhantomPinned,
}

impl<'a> Op<'a> {
    fn new(timeout: Option<Duration>, handle: &'a Handle) -> Op<'a> {
        Op {
            result: Cell::new(None),
            waker: Cell::new(None),
            timeout,
            handle,
            listed: Cell::new(false),
            timer: Cell::new(None),
            _pinned: PhantomPinned,
        }
    }

    fn complete(&self, result: i32) {
        self.result.set(Some(result));
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Arms the timer of an operation submitted by `now`, if it is still
    /// pending; returns its timeout if it did.
    fn arm(&self, now: Instant) -> Option<Duration> {
        if self.result.get().is_some() {
            return None;
        }
        let timeout = self.timeout?;
        // Beyond the clock's range: never.
        let deadline = now.checked_add(timeout)?;
        // The coroutine polled its completion, which left the waker,
        // before its worker could get here.
        let waker = self.waker.take()?;
        let (worker, key) = self.handle.register_timer(Some(deadline), waker.clone());
        self.waker.set(Some(waker));
        self.timer.set(Some((deadline, worker, key)));
        Some(timeout)
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.result.get().is_some() {
            return Poll::Ready(Ok(()));
        }
        let timer = self.timer.get();
        if timer.is_some_and(|(deadline, ..)| Instant::now() >= deadline) {
            return Poll::Ready(Err(super::pollable::timed_out()));
        }
        let waker = match self.waker.take() {
            Some(waker) if waker.will_wake(cx.waker()) => waker,
            _ => {
                if let Some((_, worker, key)) = timer {
                    self.handle.timers(worker).update(key, cx.waker());
                }
                cx.waker().clone()
            }
        };
        self.waker.set(Some(waker));
        Poll::Pending
    }
}

/// Cancels the operation if it is still in flight and reaps it, whenever
/// [`Ring::run`] leaves: after a timeout, and during an unwind; and takes
/// it off the ring's `unarmed` list and its timer out of the wheel.
struct Reap<'a> {
    ring: &'a Ring,
    op: &'a Op<'a>,
}

impl Drop for Reap<'_> {
    fn drop(&mut self) {
        let op = self.op;
        if op.listed.get() {
            let address = std::ptr::from_ref(op) as usize;
            lock(&self.ring.unarmed).retain(|&listed| listed != address);
        }
        if op.result.get().is_none() {
            self.ring.cancel(op);
        }
        if let Some((_, worker, key)) = op.timer.take() {
            op.handle.timers(worker).remove(key);
        }
        // The waker, which holds the task, goes with the frame.
        drop(self.op.waker.take());
    }
}

/// The completion of an operation, or `TimedOut` once its timer fired, as
/// a future for a coroutine to wait on.
struct Completion<'a>(&'a Op<'a>);

impl Future for Completion<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll(cx)
    }
}

impl<'a> Completion<'a> {
    /// The completion, or `other`'s output if it comes first.
    #[cfg(feature = "hook")]
    fn or<F: Future + Unpin>(self, other: F) -> CompletionOr<'a, F> {
        CompletionOr { op: self.0, other }
    }
}

/// The completion or its timeout (`Ok`), or another future's output
/// (`Err`) if it comes first.
#[cfg(feature = "hook")]
struct CompletionOr<'a, F> {
    op: &'a Op<'a>,
    other: F,
}

#[cfg(feature = "hook")]
impl<F: Future + Unpin> Future for CompletionOr<'_, F> {
    type Output = Result<io::Result<()>, F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(completed) = self.op.poll(cx) {
            return Poll::Ready(Ok(completed));
        }
        Pin::new(&mut self.other).poll(cx).map(Err)
    }
}

/// Locks `mutex`, whose data a panic cannot leave inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
