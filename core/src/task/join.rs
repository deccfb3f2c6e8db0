//! Waiting for a task's result, cancelling it, and plain references.

use super::cell::{self, Header};
use super::state::{COMPLETED, HANDLE, JOIN_WAKER, SCHEDULED};
use crate::loom::Ordering;
use crate::unwind::Payload;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, RawWakerVTable, Waker};

/// Why a task has no output.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    Panicked(Payload),
}

impl JoinError {
    pub(super) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(super) fn panicked(payload: Payload) -> Self {
        JoinError {
            repr: Repr::Panicked(payload),
        }
    }

    /// The task was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked(_))
    }

    /// The panic's payload, to inspect or re-raise with
    /// `std::panic::resume_unwind`; the error back if it was a cancellation.
    #[cfg(feature = "std")]
    pub fn try_into_panic(
        self,
    ) -> Result<std::boxed::Box<dyn core::any::Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panicked(payload) => Ok(payload),
            Repr::Cancelled => Err(self),
        }
    }

    /// Re-raises the task's panic, or panics with this error if it was
    /// cancelled.
    pub fn resume(self) -> ! {
        match self.repr {
            Repr::Panicked(payload) => crate::unwind::resume(payload),
            Repr::Cancelled => panic!("the task was cancelled"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panicked(_payload) => {
                #[cfg(feature = "std")]
                if let Some(message) = _payload.downcast_ref::<&str>().copied().or_else(|| {
                    _payload
                        .downcast_ref::<std::string::String>()
                        .map(|s| s.as_str())
                }) {
                    return write!(f, "task panicked: {message}");
                }
                f.write_str("task panicked")
            }
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JoinError {}

/// The owner's handle on a task: await its result, or cancel it. Dropping
/// it detaches the task, which keeps running.
#[must_use = "dropping a JoinHandle detaches the task; call `detach()` to say so"]
pub struct JoinHandle<T> {
    header: NonNull<Header>,
    /// Set once the output was taken.
    consumed: bool,
    /// What the waker left in the task (JOIN_WAKER) wakes: a poll with a
    /// waker that wakes the same leaves it there without touching the task.
    registered: Option<WakerIdentity>,
    _output: PhantomData<T>,
}

/// What makes two wakers wake the same task (as [`Waker::will_wake`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct WakerIdentity(*const (), *const RawWakerVTable);

impl WakerIdentity {
    fn of(waker: &Waker) -> Self {
        WakerIdentity(waker.data(), waker.vtable())
    }
}

// SAFETY: the handle only moves the output `T` out (hence `T: Send`) and
// touches the thread-safe header (the awaiter cell by the JOIN_WAKER
// protocol); the pointers of its `WakerIdentity` are only compared.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&self` methods only touch atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(super) fn new(header: NonNull<Header>) -> Self {
        JoinHandle {
            header,
            consumed: false,
            registered: None,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }
    }

    /// Whether the task has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETED != 0
    }

    /// Requests cancellation: the task's future is dropped on its scheduler
    /// (for a coroutine: its stack is unwound) the next time it would run,
    /// and the handle then yields a cancelled [`JoinError`]. A task that
    /// finishes first keeps its result.
    pub fn cancel(&self) {
        // SAFETY: our reference.
        unsafe { cell::close(self.header) }
    }

    /// Lets the task run on with nobody waiting for it.
    pub fn detach(self) {
        drop(self)
    }

    /// The scheduler's word for the task (see [`Runnable::tag`](super::Runnable::tag)).
    pub fn tag(&self) -> usize {
        self.header().tag.load(Ordering::Relaxed)
    }

    /// A plain reference to the task.
    pub fn task(&self) -> TaskRef {
        // SAFETY: our reference.
        unsafe { cell::add_reference(self.header) };
        TaskRef {
            header: self.header,
        }
    }

    /// Polls for the result.
    ///
    /// # Panics
    ///
    /// If the result was already taken.
    pub fn poll_join(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, super::JoinError>> {
        assert!(
            !self.consumed,
            "JoinHandle polled after it returned the result"
        );
        if self.wait_for(cx.waker()) {
            return Poll::Pending;
        }
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: COMPLETED is set and we are the JoinHandle; `out` has the
        // task's output type.
        unsafe {
            (self.header().vtable.take_output)(self.header, core::ptr::addr_of_mut!(out).cast())
        };
        self.consumed = true;
        Poll::Ready(out.expect("a completed task holds its result"))
    }

    /// Unless the task has completed, leaves `waker` in it for the
    /// completion to wake (see JOIN_WAKER) and returns true.
    fn wait_for(&mut self, waker: &Waker) -> bool {
        let header = self.header;
        // SAFETY: our reference keeps the header alive.
        let h = unsafe { header.as_ref() };
        let mut current = h.state.load(Ordering::Acquire);
        if current & COMPLETED != 0 {
            return false;
        }
        if current & JOIN_WAKER != 0 {
            if self.registered == Some(WakerIdentity::of(waker)) {
                // The waker left there wakes this poller already.
                return true;
            }
            // Take the cell back to put another waker in it.
            loop {
                if current & COMPLETED != 0 {
                    return false;
                }
                let next = current & !JOIN_WAKER;
                match h.state.compare_exchange_weak(
                    current,
                    next,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(actual) => current = actual,
                }
            }
            current &= !JOIN_WAKER;
        }
        let waker = waker.clone();
        let identity = WakerIdentity::of(&waker);
        // SAFETY: JOIN_WAKER is clear and the task has not completed: the
        // cell is ours.
        let old = h.awaiter.with_mut(|w| unsafe { (*w).replace(waker) });
        loop {
            if current & COMPLETED != 0 {
                // Completed without seeing our waker: the cell stays ours.
                // SAFETY: as above (JOIN_WAKER was never set over it).
                let ours = h.awaiter.with_mut(|w| unsafe { (*w).take() });
                self.registered = None;
                drop(old);
                drop(ours);
                return false;
            }
            let next = current | JOIN_WAKER;
            match h
                .state
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.registered = Some(identity);
        drop(old);
        true
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_join(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // Once the result is taken the task has completed, and `finish`
        // read HANDLE and JOIN_WAKER when it did: nothing is left to do
        // but give our reference up.
        if self.consumed {
            // SAFETY: our reference.
            unsafe { cell::drop_reference(self.header) };
            return;
        }
        let h = self.header();
        let mut current = h.state.load(Ordering::Acquire);
        let mut unclaimed: Option<Result<T, JoinError>> = None;
        let mut waker = None;
        loop {
            if current & COMPLETED != 0 {
                // The result nobody claimed: dropped now rather than with
                // the last reference (a scheduler's registry may hold one a
                // while). HANDLE was read by the completion already.
                // SAFETY: COMPLETED is set and we are the JoinHandle;
                // `unclaimed` has the task's output type.
                unsafe {
                    (h.vtable.take_output)(self.header, core::ptr::addr_of_mut!(unclaimed).cast())
                };
                break;
            }
            let next = current & !(HANDLE | JOIN_WAKER);
            match h
                .state
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // The completion will neither wake nor look at the
                    // cell: take our waker back, to drop it now rather
                    // than with the task.
                    // SAFETY: JOIN_WAKER is clear before COMPLETED: the
                    // cell is ours.
                    waker = h.awaiter.with_mut(|w| unsafe { (*w).take() });
                    break;
                }
                Err(actual) => current = actual,
            }
        }
        // SAFETY: our reference.
        unsafe { cell::drop_reference(self.header) }
        // Last: their destructors may panic, and our reference is gone
        // already.
        drop(waker);
        drop(unclaimed);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// A plain counted reference to a task: keeps it alive (for a scheduler's
/// registry of live tasks), can cancel it and see whether it finished.
pub struct TaskRef {
    header: NonNull<Header>,
}

// SAFETY: only the thread-safe header is touched.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Wraps a reference the caller owns.
    pub(super) fn new(header: NonNull<Header>) -> Self {
        TaskRef { header }
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }
            .state
            .load(Ordering::Acquire)
            & COMPLETED
            != 0
    }

    /// Requests cancellation, as [`JoinHandle::cancel`].
    pub fn cancel(&self) {
        // SAFETY: our reference.
        unsafe { cell::close(self.header) }
    }

    /// Whether two references designate the same task.
    pub fn ptr_eq(&self, other: &TaskRef) -> bool {
        self.header == other.header
    }

    /// The scheduler's word for the task.
    pub fn tag(&self) -> usize {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }.tag.load(Ordering::Relaxed)
    }

    /// Whether the task is queued or running, rather than waiting for a
    /// wake-up (or finished): for a scheduler's dump of its tasks.
    pub fn is_scheduled(&self) -> bool {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.header.as_ref() }
            .state
            .load(Ordering::Acquire)
            & SCHEDULED
            != 0
    }

    /// The task's address: an id, unique among the live tasks, for a
    /// scheduler's dump of its tasks.
    pub fn id(&self) -> usize {
        self.header.as_ptr() as usize
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        // SAFETY: our reference.
        unsafe { cell::add_reference(self.header) };
        TaskRef {
            header: self.header,
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { cell::drop_reference(self.header) }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
