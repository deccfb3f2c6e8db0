//! The task allocation: a header shared by all tasks, followed by the
//! scheduler hook and the future or its result; plus the type-erased
//! operations (vtable) and the waker built on the header.
//!
//! # Fields in the task, and who may touch them
//!
//! * `header.state` ([`super::state`]): any holder of a reference, through
//!   atomic read-modify-writes only. The flags grant the other rights.
//! * `header.vtable`: written at allocation, never changed: any holder of a
//!   reference may read it — before giving its reference up, never after.
//! * `header.awaiter`: the `JoinHandle`'s waker. While JOIN_WAKER is clear
//!   and the task is not completed, only the `JoinHandle` touches it; it
//!   hands the cell over by setting JOIN_WAKER (and takes it back only by
//!   clearing the flag before COMPLETED is set). `finish`, when it sets
//!   COMPLETED over JOIN_WAKER, owns the cell: it takes the waker and wakes
//!   it. Otherwise, once COMPLETED is set, the cell is the handle's again.
//! * `header.tag`: the scheduler's word; relaxed loads and stores by whoever
//!   holds the Runnable (or a reference, to read it).
//! * `header.polling` and `header.yielded`: only the thread running the task
//!   (holding its Runnable), during the poll; `yield_hint` reads `polling`
//!   to recognize it.
//! * `schedule`: immutable; any holder of a reference calls it.
//! * `stage`:
//!   - while the task is not COMPLETED: only the holder of the Runnable
//!     (SCHEDULED) polls or drops the future in it;
//!   - once COMPLETED is set: only the `JoinHandle` moves the result out, or,
//!     when there is no `JoinHandle` (HANDLE was clear when COMPLETED was
//!     set), `finish` drops the result right away;
//!   - `destroy`, with the last reference, drops whatever is left.

use super::raw::TaskRef;
use super::state::{
    CLOSED, COMPLETED, HANDLE, JOIN_WAKER, NOTIFIED, REFERENCE, SCHEDULED, TRACKED, references,
};
use super::{JoinError, PollCancel, Ran, Runnable, Schedule};
use crate::loom::{AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::unwind::{self, Payload};
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// What every task starts with; wakers and handles point here.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: AtomicUsize,
    pub(crate) vtable: &'static TaskVTable,
    /// The `JoinHandle`'s waker, woken on completion (see JOIN_WAKER).
    pub(crate) awaiter: UnsafeCell<Option<Waker>>,
    /// A word for the scheduler (e.g. the worker a task is pinned to).
    pub(crate) tag: AtomicUsize,
    /// The address of the `Context` the task is being polled with (0 when
    /// not polled): how [`yield_hint`](super::raw::yield_hint) recognizes the
    /// running task from inside its own poll.
    pub(crate) polling: AtomicUsize,
    /// Set by `yield_hint` during a poll: requeue the task when the poll
    /// returns `Pending`, without a wake-up.
    pub(crate) yielded: AtomicBool,
}

/// What `run` does when the task goes idle (pending, not woken meanwhile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnIdle {
    /// Gives the Runnable's reference up.
    Release,
    /// The first time: hands the reference to the scheduler as a `TaskRef`
    /// (see [`Runnable::run_tracked`]); later times, as `Release`.
    Track,
}

/// Type-erased operations on a task.
pub(crate) struct TaskVTable {
    /// Polls the future (or advances or finishes its cancellation).
    /// Consumes the Runnable's reference, or hands it to the returned value.
    pub(crate) run: unsafe fn(NonNull<Header>, OnIdle) -> Ran,
    /// Drops the future of a task that will never run again, recording a
    /// cancellation; then completes it. Caller holds the Runnable.
    pub(crate) cancel_unrun: unsafe fn(NonNull<Header>),
    /// Hands a Runnable (owning one reference) to the scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>, Runnable),
    /// Moves the result out into `*out` (an `Option<Result<T, JoinError>>`).
    pub(crate) take_output: unsafe fn(NonNull<Header>, out: *mut ()),
    /// Frees the task; called when the last reference goes.
    pub(crate) destroy: unsafe fn(NonNull<Header>),
}

/// How a task's future is cancelled.
pub(crate) trait Cancellation<F: Future> {
    /// The future finishes its own cancellation over polls of the task
    /// ([`PollCancel`]) instead of being dropped at once.
    const BY_POLL: bool;

    /// One step of a cancellation by poll.
    fn poll_cancel(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<()>;
}

/// Cancelled by dropping the future (any future).
pub(crate) struct ByDrop;

impl<F: Future> Cancellation<F> for ByDrop {
    const BY_POLL: bool = false;

    fn poll_cancel(_: Pin<&mut F>, _: &mut Context<'_>) -> Poll<()> {
        unreachable!("a task cancelled by drop was polled to cancel")
    }
}

/// Cancelled through [`PollCancel::poll_cancel`].
pub(crate) struct ByPoll;

impl<F: PollCancel> Cancellation<F> for ByPoll {
    const BY_POLL: bool = true;

    fn poll_cancel(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<()> {
        future.poll_cancel(cx)
    }
}

/// Where the future is in its life.
pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole task allocation.
#[repr(C)]
pub(crate) struct TaskCell<F: Future, S, C> {
    pub(crate) header: Header,
    schedule: S,
    stage: UnsafeCell<Stage<F>>,
    _cancellation: PhantomData<C>,
}

impl<F, S, C> TaskCell<F, S, C>
where
    F: Future,
    S: Schedule,
    C: Cancellation<F>,
{
    const VTABLE: TaskVTable = TaskVTable {
        run: Self::run,
        cancel_unrun: Self::cancel_unrun,
        schedule: Self::schedule,
        take_output: Self::take_output,
        destroy: Self::destroy,
    };

    /// Allocates a task with `references` references and `flags`.
    pub(crate) fn allocate(
        future: F,
        schedule: S,
        flags: usize,
        references: usize,
        tag: usize,
    ) -> NonNull<Header> {
        let cell = super::memory::allocate::<Self>();
        let value = TaskCell {
            header: Header {
                state: AtomicUsize::new(flags | (references * REFERENCE)),
                vtable: &Self::VTABLE,
                awaiter: UnsafeCell::new(None),
                tag: AtomicUsize::new(tag),
                polling: AtomicUsize::new(0),
                yielded: AtomicBool::new(false),
            },
            schedule,
            stage: UnsafeCell::new(Stage::Running(future)),
            _cancellation: PhantomData::<C>,
        };
        // SAFETY: a fresh block for a `Self`.
        unsafe { cell.as_ptr().write(value) };
        cell.cast()
    }

    /// # Safety
    ///
    /// `header` must be the header of a live `TaskCell<F, S, C>`.
    unsafe fn cell<'a>(header: NonNull<Header>) -> &'a Self {
        // SAFETY: `repr(C)` puts the header first.
        unsafe { header.cast::<Self>().as_ref() }
    }

    /// # Safety
    ///
    /// The caller holds the task's Runnable.
    unsafe fn run(header: NonNull<Header>, on_idle: OnIdle) -> Ran {
        // SAFETY: the Runnable keeps the task alive.
        let cell = unsafe { Self::cell(header) };
        let state = &cell.header.state;
        // The Runnable came through the scheduler's queue, which ordered
        // its wake-up before us: only a wake-up since then needs clearing,
        // so that one arriving during the poll can be told apart.
        let mut current = state.load(Ordering::Acquire);
        debug_assert!(current & SCHEDULED != 0 && current & COMPLETED == 0);
        if current & NOTIFIED != 0 {
            current = state.fetch_and(!NOTIFIED, Ordering::AcqRel);
        }
        let cancelling = current & CLOSED != 0;
        if cancelling && !C::BY_POLL {
            // SAFETY: we run the task.
            unsafe { Self::finish(header, Err(JoinError::cancelled())) };
            return Ran::default();
        }
        let waker = ManuallyDrop::new(
            // SAFETY: the borrowed waker is valid while our reference lives.
            unsafe { Waker::from_raw(RawWaker::new(header.as_ptr().cast(), &WAKER_VTABLE)) },
        );
        let mut cx = Context::from_waker(&waker);
        cell.header
            .polling
            .store(core::ptr::addr_of!(cx) as usize, Ordering::Relaxed);
        // SAFETY: the Runnable gives us exclusive access to the stage; the
        // future never moves inside the heap cell.
        let poll = cell.stage.with_mut(|stage| unsafe {
            match &mut *stage {
                Stage::Running(future) => {
                    let future = Pin::new_unchecked(future);
                    unwind::catch(|| {
                        if cancelling {
                            C::poll_cancel(future, &mut cx).map(|()| None)
                        } else {
                            future.poll(&mut cx).map(Some)
                        }
                    })
                }
                _ => unreachable!("a finished task was run"),
            }
        });
        cell.header.polling.store(0, Ordering::Relaxed);
        let result = match poll {
            Ok(Poll::Ready(Some(output))) => Ok(output),
            Ok(Poll::Ready(None)) => Err(JoinError::cancelled()),
            Err(payload) => Err(JoinError::panicked(payload)),
            Ok(Poll::Pending) => {
                // A plain load and store, not a swap: only the polling
                // thread sets the flag during its poll (and a stray set
                // from elsewhere costs one spurious requeue at worst).
                let yielded = cell.header.yielded.load(Ordering::Relaxed);
                if yielded {
                    cell.header.yielded.store(false, Ordering::Relaxed);
                }
                if yielded && (cancelling || state.load(Ordering::Acquire) & CLOSED == 0) {
                    // Requeue as is: still SCHEDULED, our reference kept.
                    return Ran {
                        again: Some(Runnable::new(header)),
                        idle: None,
                    };
                }
                // SAFETY: we run the task.
                return unsafe { Self::release(header, on_idle, cancelling) };
            }
        };
        // SAFETY: we run the task.
        unsafe { Self::finish(header, result) };
        Ran::default()
    }

    /// After a poll returned `Pending`: stop running, and either reschedule
    /// (a wake-up arrived meanwhile, or a cancellation the poll did not
    /// see yet and that the future finishes over polls), drop the future (a
    /// cancellation by drop), or go idle, giving up the Runnable's
    /// reference — or, the first time with [`OnIdle::Track`], turning it
    /// into the `TaskRef` returned. `cancelling`: the poll was a
    /// cancellation step already.
    ///
    /// # Safety
    ///
    /// The caller runs the task.
    unsafe fn release(header: NonNull<Header>, on_idle: OnIdle, cancelling: bool) -> Ran {
        // SAFETY: the Runnable keeps the task alive.
        let state = &unsafe { Self::cell(header) }.header.state;
        let mut current = state.load(Ordering::Acquire);
        loop {
            let newly_closed = current & CLOSED != 0 && !cancelling;
            if newly_closed && !C::BY_POLL {
                // SAFETY: we still run the task.
                unsafe { Self::finish(header, Err(JoinError::cancelled())) };
                return Ran::default();
            }
            let rescheduled = current & NOTIFIED != 0 || newly_closed;
            let tracking = !rescheduled && on_idle == OnIdle::Track && current & TRACKED == 0;
            let next = if rescheduled {
                current & !NOTIFIED
            } else if tracking {
                (current & !SCHEDULED) | TRACKED
            } else {
                (current & !SCHEDULED) - REFERENCE
            };
            match state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if rescheduled => {
                    // SAFETY: still SCHEDULED: our reference becomes the new
                    // Runnable's.
                    unsafe { Self::schedule(header, Runnable::new(header)) };
                    return Ran::default();
                }
                Ok(_) if tracking => {
                    // Our reference becomes the scheduler's TaskRef.
                    return Ran {
                        again: None,
                        idle: Some(TaskRef::new(header)),
                    };
                }
                Ok(_) => {
                    if references(next) == 0 {
                        // SAFETY: that was the last reference.
                        unsafe { Self::destroy(header) };
                    }
                    return Ran::default();
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Records the result, marks the task completed, wakes the handle (or,
    /// when there is none, drops the result) and drops the Runnable's
    /// reference.
    ///
    /// A panic of user code on the way — the future's or the result's
    /// destructor, the handle's waker — does not stop the bookkeeping: it
    /// is re-raised once the task is consistent again (a destructor's
    /// panic while dropping the future becomes the task's result instead).
    ///
    /// # Safety
    ///
    /// The caller runs (or holds the Runnable of) the task.
    unsafe fn finish(header: NonNull<Header>, result: Result<F::Output, JoinError>) {
        // SAFETY: the Runnable keeps the task alive.
        let cell = unsafe { Self::cell(header) };
        // Dropping the future runs user code; a panic there becomes the
        // task's result instead of unwinding through the scheduler.
        let dropped = unwind::catch(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: we own the stage until COMPLETED is published.
                unsafe { *stage = Stage::Consumed }
            })
        });
        let result = match dropped {
            Ok(()) => result,
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        // SAFETY: as above.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Finished(result) });
        let state = &cell.header.state;
        let mut current = state.load(Ordering::Acquire);
        loop {
            let next = (current & !(SCHEDULED | NOTIFIED)) | COMPLETED;
            match state.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let escaped = unwind::catch(|| {
            if current & JOIN_WAKER != 0 {
                // SAFETY: COMPLETED set over JOIN_WAKER hands us the cell.
                let waker = cell.header.awaiter.with_mut(|w| unsafe { (*w).take() });
                if let Some(waker) = waker {
                    waker.wake();
                }
            } else if current & HANDLE == 0 {
                // Nobody will claim the result: drop it now rather than
                // with the last reference (a scheduler's registry may hold
                // one for a while).
                cell.stage.with_mut(|stage| {
                    // SAFETY: without a JoinHandle the stage is ours after
                    // COMPLETED.
                    unsafe { *stage = Stage::Consumed }
                });
            }
        });
        // SAFETY: the Runnable's reference.
        unsafe { drop_reference(header) };
        reraise(escaped);
    }

    /// # Safety
    ///
    /// The caller holds the Runnable and will not run it.
    unsafe fn cancel_unrun(header: NonNull<Header>) {
        // SAFETY: forwarded.
        unsafe { Self::finish(header, Err(JoinError::cancelled())) }
    }

    /// # Safety
    ///
    /// `runnable` is this task's only Runnable.
    unsafe fn schedule(header: NonNull<Header>, runnable: Runnable) {
        // SAFETY: the Runnable keeps the task alive.
        unsafe { Self::cell(header) }.schedule.schedule(runnable);
    }

    /// # Safety
    ///
    /// COMPLETED is set, the caller is the JoinHandle, and `out` points to
    /// an `Option<Result<F::Output, JoinError>>`.
    unsafe fn take_output(header: NonNull<Header>, out: *mut ()) {
        // SAFETY: after COMPLETED only the JoinHandle touches the stage.
        let cell = unsafe { Self::cell(header) };
        // Moves only the result out, not the whole stage (which is as large
        // as the future).
        // SAFETY: as above, the stage is ours now. The result is read out
        // once, and the stage overwritten without dropping it.
        let result = cell.stage.with_mut(|stage| unsafe {
            let Stage::Finished(result) = &*stage else {
                return None;
            };
            let result = core::ptr::read(result);
            stage.write(Stage::Consumed);
            Some(result)
        });
        // SAFETY: the caller's contract on `out`.
        unsafe { *out.cast::<Option<Result<F::Output, JoinError>>>() = result };
    }

    /// # Safety
    ///
    /// No reference is left.
    unsafe fn destroy(header: NonNull<Header>) {
        let cell = header.cast::<Self>();
        // SAFETY: written by `allocate`; nobody else refers to it. (Should a
        // destructor panic, the block is leaked, never reused.)
        unsafe {
            core::ptr::drop_in_place(cell.as_ptr());
            super::memory::free(cell);
        }
    }
}

/// Re-raises a panic caught while the task's bookkeeping went on.
fn reraise(caught: Result<(), Payload>) {
    if let Err(payload) = caught {
        unwind::resume(payload);
    }
}

/// Drops one reference, destroying the task with the last one.
///
/// # Safety
///
/// The caller owns a reference to the task.
pub(crate) unsafe fn drop_reference(header: NonNull<Header>) {
    // SAFETY: our reference keeps the header alive until the decrement;
    // the vtable is read before it (after it, another thread may have
    // dropped the last reference and freed the header).
    let h = unsafe { header.as_ref() };
    let vtable = h.vtable;
    // Ours is the last reference when the count reads 1: adding one takes
    // one, so nobody else can change the count anymore, and the decrement
    // can be skipped (a JoinHandle taking the result of a task that
    // completed usually holds the last one). The load acquires what the
    // other references' decrements released.
    if references(h.state.load(Ordering::Acquire)) == 1
        || references(h.state.fetch_sub(REFERENCE, Ordering::AcqRel)) == 1
    {
        // SAFETY: that was the last reference.
        unsafe { (vtable.destroy)(header) };
    }
}

/// Adds a reference.
///
/// # Safety
///
/// The caller owns a reference to the task.
pub(crate) unsafe fn add_reference(header: NonNull<Header>) {
    // SAFETY: our reference keeps the header alive.
    let previous = unsafe { header.as_ref() }
        .state
        .fetch_add(REFERENCE, Ordering::Relaxed);
    assert!(
        references(previous) < isize::MAX as usize / REFERENCE,
        "task reference count overflow"
    );
}

/// Wakes the task: schedules it unless it is already scheduled, running
/// (then it runs again) or completed. Consumes one reference if `owned`.
///
/// # Safety
///
/// The caller owns a reference to the task (which `owned` gives away).
pub(crate) unsafe fn wake(header: NonNull<Header>, owned: bool) {
    // SAFETY: the caller's reference keeps the task alive.
    let h = unsafe { header.as_ref() };
    let mut current = h.state.load(Ordering::Acquire);
    loop {
        if current & (COMPLETED | NOTIFIED) != 0 {
            break;
        }
        if current & SCHEDULED != 0 {
            // The Runnable's holder will see NOTIFIED and run it again.
            match h.state.compare_exchange_weak(
                current,
                current | NOTIFIED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
            continue;
        }
        // Idle: schedule it with a reference of its own.
        let next = if owned {
            current | SCHEDULED
        } else {
            (current | SCHEDULED) + REFERENCE
        };
        match h
            .state
            .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: SCHEDULED is ours; the Runnable owns the reference.
                unsafe { (h.vtable.schedule)(header, Runnable::new(header)) };
                return;
            }
            Err(actual) => current = actual,
        }
    }
    if owned {
        // SAFETY: the caller's reference.
        unsafe { drop_reference(header) };
    }
}

/// The waker vtable shared by all tasks: the data pointer is the header.
pub(crate) static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_waker, wake_by_ref_waker, drop_waker);

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    let header = NonNull::new(data.cast_mut())
        .expect("task waker with a null header")
        .cast();
    // SAFETY: a waker owns (or borrows from a Runnable) a reference.
    unsafe { add_reference(header) };
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake_waker(data: *const ()) {
    let header = NonNull::new(data.cast_mut())
        .expect("task waker with a null header")
        .cast();
    // SAFETY: an owned waker gives away its reference.
    unsafe { wake(header, true) }
}

unsafe fn wake_by_ref_waker(data: *const ()) {
    let header = NonNull::new(data.cast_mut())
        .expect("task waker with a null header")
        .cast();
    // SAFETY: the waker's reference keeps the task alive.
    unsafe { wake(header, false) }
}

unsafe fn drop_waker(data: *const ()) {
    let header = NonNull::new(data.cast_mut())
        .expect("task waker with a null header")
        .cast();
    // SAFETY: an owned waker's reference.
    unsafe { drop_reference(header) }
}

/// Schedules with a CLOSED flag: used by `JoinHandle::cancel`.
///
/// # Safety
///
/// The caller owns a reference to the task.
pub(crate) unsafe fn close(header: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the task alive.
    let h = unsafe { header.as_ref() };
    let mut current = h.state.load(Ordering::Acquire);
    loop {
        if current & (COMPLETED | CLOSED) != 0 {
            return;
        }
        let idle = current & SCHEDULED == 0;
        let next = if idle {
            (current | CLOSED | SCHEDULED) + REFERENCE
        } else {
            current | CLOSED
        };
        match h
            .state
            .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                if idle {
                    // The scheduler runs it once more, on the right thread,
                    // to drop the future there.
                    // SAFETY: SCHEDULED is ours; the Runnable owns the new reference.
                    unsafe { (h.vtable.schedule)(header, Runnable::new(header)) };
                }
                return;
            }
            Err(actual) => current = actual,
        }
    }
}
