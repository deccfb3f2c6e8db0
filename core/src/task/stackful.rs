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
use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::ptr;
use core::task::{Context, Poll};

/// The context a poll resumed the coroutine with, type-erased (it only
/// lives for that poll, which outlasts the coroutine's run).
type PollContext = *mut Context<'static>;

/// A coroutine's handle for waiting on futures from inside it.
pub struct Suspender<'a> {
    yielder: &'a Yielder<PollContext, ()>,
    cx: core::cell::Cell<PollContext>,
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
        let mut future = pin!(future.into_future());
        loop {
            if let Poll::Ready(output) = self.poll(future.as_mut()) {
                return Ok(output);
            }
            match self.yielder.try_suspend(()) {
                Ok(cx) => self.cx.set(cx),
                Err(cancelled) => {
                    // No poll runs us anymore: forget its (dead) context.
                    self.cx.set(ptr::null_mut());
                    return Err(cancelled);
                }
            }
        }
    }

    /// Lets the other tasks run, then continues.
    #[inline(always)]
    pub fn yield_now(&self) {
        self.with_context(|cx| {
            if !super::yield_hint(cx) {
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
    /// After [`try_wait`](Self::try_wait) reported a cancellation: no poll
    /// runs the coroutine anymore, so it cannot wait; it must return.
    #[inline(always)]
    fn with_context<R>(&self, f: impl FnOnce(&mut Context<'_>) -> R) -> R {
        let cx = self.cx.get();
        assert!(
            !cx.is_null(),
            "a cancelled coroutine tried to wait; it must return"
        );
        // SAFETY: a non-null `cx` is the context of the poll that is running
        // us (suspended in `resume`, outliving `f`, which cannot keep the
        // borrow); after a cancellation it is null.
        f(unsafe { &mut *cx.cast::<Context<'_>>() })
    }

    /// Suspends until the task is polled again (after a wake-up).
    #[inline(always)]
    pub fn suspend(&self) {
        self.cx.set(self.yielder.suspend(()));
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
    Running(Coroutine<PollContext, (), T, S>),
    Done,
}

/// A future that runs a closure as a stackful coroutine on a stack of type
/// `S`, created (with `S::default()`) on the first poll.
///
/// Before that first poll it is `Send` in spirit — only the closure exists —
/// but the type cannot express that it stops being `Send` once started, so
/// it is never `Send`: schedulers spawn it with
/// [`spawn_unchecked`](super::spawn_unchecked) and keep it on the thread of
/// its first poll (see that function's contract).
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

impl<F, T, S> Future for Stackful<F, T, S>
where
    F: FnOnce(&Suspender<'_>) -> T + 'static,
    T: 'static,
    S: Stack + Default,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: nothing here is structurally pinned (the coroutine's
        // stack is its own allocation).
        let this = unsafe { self.get_unchecked_mut() };
        if let State::Unstarted(_) = this.state {
            let State::Unstarted(body) = core::mem::replace(&mut this.state, State::Done) else {
                unreachable!()
            };
            let coroutine = Coroutine::with_stack(
                S::default(),
                move |yielder: &Yielder<PollContext, ()>, cx| {
                    let suspender = Suspender {
                        yielder,
                        cx: core::cell::Cell::new(cx),
                    };
                    body(&suspender)
                },
            );
            this.state = State::Running(coroutine);
        }
        let State::Running(coroutine) = &mut this.state else {
            panic!("a finished stackful task was polled again");
        };
        let cx: PollContext = core::ptr::from_mut(cx).cast();
        match coroutine.resume(cx) {
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(value) => {
                // Release the stack now rather than when the future drops.
                this.state = State::Done;
                Poll::Ready(value)
            }
        }
    }
}

impl<F, T, S: Stack> fmt::Debug for Stackful<F, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Unstarted(_) => "unstarted",
            State::Running(_) => "running",
            State::Done => "done",
        };
        f.debug_struct("Stackful").field("state", &state).finish()
    }
}
