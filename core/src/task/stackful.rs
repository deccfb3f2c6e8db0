//! Stackful coroutines as tasks: a future whose `poll` resumes a coroutine.
//!
//! Inside, the coroutine waits on any future through its [`Suspender`]:
//! poll it with the task's context; if it is pending, suspend back to
//! `poll`, which returns `Pending`; the future's wake-up wakes the task,
//! whose next poll resumes the coroutine, which polls again. The scheduler
//! only ever sees a task.
//!
//! ```
//! use xasync_core::stack::{DefaultHeapStack, HeapStackSize};
//! use xasync_core::task::stackful::Stackful;
//!
//! struct Stacks;
//! // SAFETY: the coroutine below uses a few hundred bytes of stack.
//! unsafe impl HeapStackSize for Stacks {
//!     const SIZE: usize = 32 * 1024;
//! }
//! let coroutine = Stackful::<_, _, DefaultHeapStack<Stacks>>::new(|suspender| {
//!     let a = suspender.wait(async { 20 });
//!     suspender.yield_now();
//!     a + 22
//! });
//! assert_eq!(futures_lite_block_on(coroutine), 42);
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! ```

use crate::coroutine::{Cancelled, Coroutine, CoroutineResult, Yielder};
use crate::stack::Stack;
use crate::unwind;
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::ptr;
use core::task::{Context, Poll};

/// The context a poll resumed the coroutine with, type-erased (it only
/// lives for that poll, which outlasts the coroutine's run).
type PollContext = *mut Context<'static>;

/// What each resumption hands the coroutine.
#[derive(Clone, Copy)]
struct Wake {
    /// The context of the poll that resumes it.
    cx: PollContext,
    /// The task is being cancelled (see [`PollCancel`](super::PollCancel)).
    cancel: bool,
}

/// A coroutine's handle for waiting on futures from inside it.
///
/// # Cancellation
///
/// A cancelled coroutine task is resumed one last time at the point where
/// it waits, and unwinds from there (with the `std` feature): the
/// destructors on its stack run as ordinary coroutine code, so a wait
/// inside one — locking a mutex, sending on a full channel, sleeping —
/// suspends the coroutine and completes as usual, and the task finishes as
/// cancelled once the unwinding ends. A coroutine waiting in
/// [`try_wait`](Suspender::try_wait) gets `Err(Cancelled)` instead and
/// should return; later waits still work (for clean-up), later `try_wait`s
/// return `Err(Cancelled)` at once.
///
/// While a coroutine waits inside a destructor during an unwind, its thread
/// counts as panicking for the standard library (the panic count is per
/// thread): `std::thread::panicking()` reads true for the other tasks run
/// on that thread meanwhile, and a `std::sync::Mutex` guard they drop then
/// poisons its mutex. The same holds for a panic unwinding through a
/// destructor that waits.
pub struct Suspender<'a> {
    yielder: &'a Yielder<Wake, ()>,
    /// The context of the poll running the coroutine; null while it is
    /// suspended (and whenever no poll runs it).
    cx: Cell<PollContext>,
    /// The task's cancellation reached the coroutine.
    cancelled: Cell<bool>,
}

impl Suspender<'_> {
    /// Runs `future` to completion, suspending the coroutine while it is
    /// pending; returns its output.
    pub fn wait<F: IntoFuture>(&self, future: F) -> F::Output {
        let mut future = pin!(future.into_future());
        loop {
            if let Poll::Ready(output) = self.poll(future.as_mut()) {
                return output;
            }
            self.suspend();
        }
    }

    /// Runs `future` to completion like [`wait`](Self::wait), but if the
    /// task is cancelled meanwhile, returns `Err(Cancelled)` (the future is
    /// dropped) instead of being unwound: the cancellation path without
    /// unwinding (see [`Yielder::try_suspend`]). Return promptly on `Err`.
    pub fn try_wait<F: IntoFuture>(&self, future: F) -> Result<F::Output, Cancelled> {
        if self.cancelled.get() {
            return Err(Cancelled);
        }
        let mut future = pin!(future.into_future());
        loop {
            if let Poll::Ready(output) = self.poll(future.as_mut()) {
                return Ok(output);
            }
            self.cx.set(ptr::null_mut());
            match self.yielder.try_suspend(()) {
                Ok(wake) => {
                    self.cx.set(wake.cx);
                    if wake.cancel && !self.cancelled.replace(true) {
                        return Err(Cancelled);
                    }
                }
                // The coroutine itself is being dropped, outside any poll
                // (no std: no unwinding): its context stays null.
                Err(cancelled) => {
                    self.cancelled.set(true);
                    return Err(cancelled);
                }
            }
        }
    }

    /// Names the coroutine in stack-overflow reports (like
    /// [`Coroutine::with_name`](crate::coroutine::Coroutine::with_name) for a
    /// coroutine created directly); `None` removes the name.
    ///
    /// # Safety
    ///
    /// `name` must stay valid until it is replaced or the coroutine returns.
    pub unsafe fn set_name(&self, name: Option<&str>) {
        // SAFETY: the header lives at the top of our running coroutine's
        // stack; the caller keeps the name alive while it is set.
        unsafe { self.yielder.header.as_ref().set_name(name) }
    }

    /// The addresses of the coroutine's stack below its bookkeeping: where
    /// its frames lie (for debuggers that walk them while it is suspended).
    pub fn stack_range(&self) -> core::ops::Range<usize> {
        // SAFETY: the header lives at the top of our running coroutine's
        // stack.
        let header = unsafe { self.yielder.header.as_ref() };
        header.limit..core::ptr::from_ref(header) as usize
    }

    /// Lets the other tasks run, then continues.
    #[inline(always)]
    pub fn yield_now(&self) {
        self.with_context(|cx| {
            if !super::raw::yield_hint(cx) {
                cx.waker().wake_by_ref();
            }
        });
        self.suspend();
    }

    /// Polls `future` once with the context of the poll that is running the
    /// coroutine (its waker wakes this task).
    #[inline(always)]
    pub fn poll<F: Future + ?Sized>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        self.with_context(|cx| future.poll(cx))
    }

    /// Runs `f` with the context of the poll running the coroutine.
    ///
    /// # Panics
    ///
    /// When no poll runs the coroutine: it is being dropped without
    /// unwinding (no `std`) after [`try_wait`](Self::try_wait) reported the
    /// cancellation; it cannot wait then, it must return.
    #[inline(always)]
    fn with_context<R>(&self, f: impl FnOnce(&mut Context<'_>) -> R) -> R {
        let cx = self.cx.get();
        assert!(
            !cx.is_null(),
            "a coroutine dropped outside a poll tried to wait; it must return"
        );
        // SAFETY: a non-null `cx` is the context of the poll that is running
        // us (suspended in `resume`, outliving `f`, which cannot keep the
        // borrow): it is set from each resumption's `Wake` and cleared
        // before each suspension.
        f(unsafe { &mut *cx.cast::<Context<'_>>() })
    }

    /// Suspends until the task is polled again (after a wake-up). If it is
    /// resumed by its cancellation, unwinds from here instead of returning.
    #[inline(always)]
    pub fn suspend(&self) {
        self.cx.set(ptr::null_mut());
        let suspension = unwind::Suspension::begin();
        let wake = self.yielder.suspend(());
        let unwinding = suspension.end();
        self.cx.set(wake.cx);
        if wake.cancel && !self.cancelled.get() {
            self.cancel(unwinding);
        }
    }

    /// Delivers the task's cancellation at this suspension point: unwinds
    /// from here — unless the coroutine is suspended in a destructor run by
    /// an unwind of its own (a panic), where starting another would abort
    /// the process. Such a coroutine is left to end its unwinding (it ends
    /// as panicked). When that cannot be told (another coroutine of the
    /// thread is suspended inside an unwind too), the cancellation waits for
    /// a later suspension, and the task asks to be polled again soon.
    #[cold]
    fn cancel(&self, unwinding: unwind::Unwinding) {
        match unwinding {
            unwind::Unwinding::No => {
                self.cancelled.set(true);
                self.yielder.force_unwind();
            }
            unwind::Unwinding::Yes => {}
            unwind::Unwinding::Unknown => self.with_context(|cx| cx.waker().wake_by_ref()),
        }
    }
}

impl fmt::Debug for Suspender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspender").finish_non_exhaustive()
    }
}

enum State<F, T, S: Stack> {
    /// Not started: only the closure exists.
    Unstarted(F),
    Running {
        coroutine: Coroutine<Wake, (), T, S>,
        /// The cancellation was handed to the coroutine.
        cancelling: bool,
    },
    Done,
}

/// A future that runs a closure as a stackful coroutine on a stack of type
/// `S`, created (with `S::default()`) on the first poll.
///
/// Before that first poll it is `Send` in spirit — only the closure exists —
/// but the type cannot express that it stops being `Send` once started, so
/// it is never `Send`: schedulers spawn it with
/// [`spawn_stackful`](super::raw::spawn_stackful) and keep it on the thread of
/// its first poll (see that function's contract).
///
/// Spawned that way, a cancelled coroutine unwinds inside a poll of its task
/// (see [`Suspender`]'s cancellation rules). Dropped any other way while
/// suspended (with `std`), it blocks the dropping thread until it has
/// unwound: waits in its destructors then block the thread, as they would
/// in a destructor run outside any coroutine.
pub struct Stackful<F, T, S: Stack> {
    state: State<F, T, S>,
}

impl<F, T, S> Stackful<F, T, S>
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    S: Stack + Default,
{
    /// A stackful future that will run `body`.
    pub fn new(body: F) -> Self {
        Stackful {
            state: State::Unstarted(body),
        }
    }
}

impl<F, T, S: Stack> Stackful<F, T, S> {
    /// Resumes the coroutine (starting it on the first call) with `wake`.
    /// `None` when it finished without a value (unwound, or returned after
    /// a cancellation).
    #[inline(always)]
    fn resume(&mut self, wake: Wake) -> Poll<Option<T>>
    where
        F: FnOnce(&Suspender<'_>) -> T + 'static,
        T: 'static,
        S: Default,
    {
        if let State::Unstarted(_) = self.state {
            self.start();
        }
        self.resume_started(wake)
    }

    /// Creates the coroutine of an unstarted future (the first poll only:
    /// kept out of line, so that the resumptions that follow inline into
    /// the task's poll without its weight).
    #[cold]
    #[inline(never)]
    fn start(&mut self)
    where
        F: FnOnce(&Suspender<'_>) -> T + 'static,
        T: 'static,
        S: Default,
    {
        let State::Unstarted(body) = core::mem::replace(&mut self.state, State::Done) else {
            unreachable!()
        };
        let coroutine = Coroutine::with_stack(S::default(), move |yielder, wake: Wake| {
            let suspender = Suspender {
                yielder,
                cx: Cell::new(wake.cx),
                cancelled: Cell::new(false),
            };
            body(&suspender)
        });
        self.state = State::Running {
            coroutine,
            cancelling: false,
        };
    }

    /// Resumes the started coroutine with `wake`, as [`resume`](Self::resume).
    ///
    /// Inlined into the task's poll: a call here costs two more saves and
    /// restores of the callee-saved registers per resumption, on top of
    /// those of the switch itself.
    #[inline(always)]
    fn resume_started(&mut self, wake: Wake) -> Poll<Option<T>> {
        let State::Running { coroutine, .. } = &mut self.state else {
            panic!("a finished stackful task was polled again");
        };
        match coroutine.resume_or_unwound(wake) {
            Some(CoroutineResult::Yield(())) => Poll::Pending,
            Some(CoroutineResult::Return(value)) => {
                // Release the stack now rather than when the future drops.
                self.state = State::Done;
                Poll::Ready(Some(value))
            }
            None => {
                self.state = State::Done;
                Poll::Ready(None)
            }
        }
    }

    /// One step of the cancellation: drops an unstarted closure, or resumes
    /// a started coroutine with the cancellation (the first time) or to go
    /// on with its unwinding (after that). Ready once it has ended.
    fn cancel_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.state {
            State::Done => return Poll::Ready(()),
            State::Unstarted(_) => {
                // Never ran: dropping the closure is all there is to do.
                self.state = State::Done;
                return Poll::Ready(());
            }
            State::Running {
                coroutine,
                cancelling,
            } => {
                if !*cancelling && !unwind::CAN_UNWIND && !coroutine.in_try_suspend() {
                    // No unwinding, and not waiting where a cancellation
                    // can be answered: the coroutine stays suspended and
                    // its stack is leaked when the future drops.
                    return Poll::Ready(());
                }
                *cancelling = true;
            }
        }
        let wake = Wake {
            cx: ptr::from_mut(cx).cast(),
            cancel: true,
        };
        // A value returned after the cancellation is dropped here.
        self.resume_started(wake).map(drop)
    }
}

impl<F, T, S> Future for Stackful<F, T, S>
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    S: Stack + Default,
{
    type Output = T;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: nothing here is structurally pinned (the coroutine's
        // stack is its own allocation).
        let this = unsafe { self.get_unchecked_mut() };
        let wake = Wake {
            cx: ptr::from_mut(cx).cast(),
            cancel: false,
        };
        this.resume(wake)
            .map(|value| value.expect("a stackful coroutine unwound without being cancelled"))
    }
}

impl<F, T, S> super::PollCancel for Stackful<F, T, S>
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    S: Stack + Default,
{
    fn poll_cancel(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: as in `poll`.
        unsafe { self.get_unchecked_mut() }.cancel_step(cx)
    }
}

#[cfg(feature = "std")]
impl<F, T, S: Stack> Drop for Stackful<F, T, S> {
    fn drop(&mut self) {
        if let State::Running { coroutine, .. } = &self.state
            && coroutine.started()
            && !coroutine.done()
        {
            self.unwind_blocking();
        }
    }
}

#[cfg(feature = "std")]
impl<F, T, S: Stack> Stackful<F, T, S> {
    /// Cancels a suspended coroutine outside its task: unwinds it, blocking
    /// the thread whenever it waits meanwhile. A panic raised during the
    /// unwinding is re-raised, unless the thread is already panicking.
    ///
    /// Dropped while the thread itself unwinds from a panic, the coroutine
    /// could never be told apart from one that unwinds too (see
    /// `Suspender::cancel`): it is leaked instead — its destructors do not
    /// run and its stack is never reused, so nothing on it dangles.
    #[cold]
    fn unwind_blocking(&mut self) {
        if unwind::panicking() {
            core::mem::forget(core::mem::replace(&mut self.state, State::Done));
            return;
        }
        let waker = super::thread_waker();
        let mut cx = Context::from_waker(&waker);
        let unwound = unwind::catch(|| {
            while self.cancel_step(&mut cx).is_pending() {
                std::thread::park();
            }
        });
        if let Err(payload) = unwound {
            self.state = State::Done;
            if !unwind::panicking() {
                unwind::resume(payload);
            }
        }
    }
}

impl<F, T, S: Stack> fmt::Debug for Stackful<F, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Unstarted(_) => "unstarted",
            State::Running { .. } => "running",
            State::Done => "done",
        };
        f.debug_struct("Stackful").field("state", &state).finish()
    }
}
