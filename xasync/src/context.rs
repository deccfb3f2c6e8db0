//! What the current thread is doing, for the functions that wait
//! (`xawait`, `sleep`, `recv`, ...): running a coroutine (suspend it),
//! polling a future (waiting here would deadlock: refuse loudly), or
//! neither (block the thread).

use crate::local::Locals;
use crate::runtime::tasks::Node;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::Poll;
use xasync_core::task::stackful::Suspender;

/// The innermost activity of this thread.
#[derive(Clone, Copy)]
struct Frame {
    /// The coroutine running on this thread, if any (null otherwise).
    coroutine: *const CoroutineCx<'static>,
    /// How many futures are being polled inside it (or on the thread).
    polling: usize,
}

const THREAD: Frame = Frame {
    coroutine: ptr::null(),
    polling: 0,
};

thread_local! {
    // Two cells rather than one `Cell<Frame>`: the fields are updated one
    // at a time, and a 16-byte load right after 8-byte stores would stall
    // on store forwarding.
    static COROUTINE: Cell<*const CoroutineCx<'static>> = const { Cell::new(ptr::null()) };
    static POLLING: Cell<usize> = const { Cell::new(0) };
}

/// The thread's frame.
#[inline(always)]
fn frame() -> Frame {
    Frame {
        coroutine: COROUTINE.with(Cell::get),
        polling: POLLING.with(Cell::get),
    }
}

/// Replaces the thread's frame, returning the previous one.
#[inline(always)]
fn replace_frame(frame: Frame) -> Frame {
    Frame {
        coroutine: COROUTINE.with(|c| c.replace(frame.coroutine)),
        polling: POLLING.with(|p| p.replace(frame.polling)),
    }
}

/// A running coroutine's bookkeeping, on its own stack.
pub(crate) struct CoroutineCx<'a> {
    suspender: &'a Suspender<'a>,
    /// The coroutine's record in its worker's list (dumps, stall reports).
    node: &'a Node,
    /// The frame of the code that resumed us (a worker polling our task),
    /// restored while we are suspended.
    outer: Cell<Frame>,
    /// The coroutine's coroutine-local values (see [`crate::local`]).
    locals: Locals,
    /// The `tracing` spans it entered, exited while it is suspended.
    #[cfg(feature = "tracing")]
    spans: crate::spans::Spans,
    /// A cancellation reached it as an error (in a hooked call) rather
    /// than as an unwind: see [`CoroutineCx::wait_or_cancelled`].
    #[cfg(feature = "hook")]
    cancelled_by_error: Cell<bool>,
}

/// The record of the coroutine running on this thread, if any; for a
/// signal handler interrupting it (a plain load of a thread-local).
///
/// # Safety
///
/// The record must not be used once the coroutine may have suspended or
/// ended: only by code that interrupts it (a signal handler), until that
/// code returns.
pub(crate) unsafe fn running_node<'a>() -> Option<&'a Node> {
    let coroutine = COROUTINE.with(Cell::get);
    // SAFETY: a non-null pointer is the running coroutine's context, on its
    // stack, alive while it runs — which the caller's contract covers.
    unsafe { coroutine.as_ref() }.map(|cx| {
        // SAFETY: as above, the record outlives its use by the caller.
        unsafe { &*ptr::from_ref(cx.node) }
    })
}

/// Whether this thread is running a task: polling a future, or running a
/// coroutine (whose frame counts no poll); for a signal handler
/// interrupting it (plain loads of thread-locals).
pub(crate) fn in_task() -> bool {
    POLLING.with(Cell::get) > 0 || !COROUTINE.with(Cell::get).is_null()
}

/// Who is calling a waiting function.
pub(crate) enum Caller<'a> {
    /// A coroutine: suspend it.
    Coroutine(&'a CoroutineCx<'a>),
    /// Code inside `Future::poll`: waiting would block the executor.
    Polling,
    /// A plain thread: block it.
    Thread,
}

/// Who is calling.
#[inline(always)]
pub(crate) fn caller<'a>() -> Caller<'a> {
    let frame = frame();
    if frame.polling > 0 {
        Caller::Polling
    } else if frame.coroutine.is_null() {
        Caller::Thread
    } else {
        // SAFETY: set by `run_coroutine` for the coroutine running on this
        // thread right now; it lives on that coroutine's stack until it
        // returns or suspends (when the frame is swapped out).
        Caller::Coroutine(unsafe { &*frame.coroutine.cast::<CoroutineCx<'a>>() })
    }
}

/// Whose coroutine-local values the caller uses.
pub(crate) enum Owner<'a> {
    /// A coroutine's.
    Coroutine(&'a Locals),
    /// The thread's (a plain thread).
    Thread,
    /// None: an async task, outside any coroutine.
    Task,
}

/// Whose coroutine-local values the caller uses: the innermost coroutine's
/// (even inside a future it polls), else the thread's if it is not polling.
pub(crate) fn owner<'a>() -> Owner<'a> {
    let frame = frame();
    if !frame.coroutine.is_null() {
        // SAFETY: as in `caller`; the values are used only while the
        // caller runs, inside the coroutine.
        Owner::Coroutine(unsafe { &(*frame.coroutine.cast::<CoroutineCx<'a>>()).locals })
    } else if frame.polling > 0 {
        Owner::Task
    } else {
        Owner::Thread
    }
}

/// Runs `body` as the coroutine of `suspender`: waiting functions called
/// from it suspend it.
pub(crate) fn run_coroutine<T>(
    suspender: &Suspender<'_>,
    node: &Node,
    body: impl FnOnce() -> T,
) -> T {
    let cx = CoroutineCx {
        suspender,
        node,
        outer: Cell::new(THREAD),
        locals: Locals::new(),
        #[cfg(feature = "tracing")]
        spans: Default::default(),
        #[cfg(feature = "hook")]
        cancelled_by_error: Cell::new(false),
    };
    let entered = Frame {
        coroutine: ptr::from_ref(&cx).cast(),
        polling: 0,
    };
    cx.outer.set(replace_frame(entered));
    #[cfg(feature = "tracing")]
    cx.spans.resume();
    /// Restores the resumer's frame when the body returns or unwinds, then
    /// exits the spans the coroutine left entered (after: a subscriber that
    /// panics must not leave the frame pointing at a finished coroutine).
    struct Leave<'a, 'b>(&'a CoroutineCx<'b>);
    impl Drop for Leave<'_, '_> {
        fn drop(&mut self) {
            replace_frame(self.0.outer.get());
            #[cfg(feature = "tracing")]
            self.0.spans.leave();
        }
    }
    let _leave = Leave(&cx);
    /// Drops the coroutine-local values when the body returns or unwinds,
    /// still in the coroutine (their destructors may wait); before `Leave`,
    /// which restores the frame even if one of them panics.
    struct DropLocals<'a>(&'a Locals);
    impl Drop for DropLocals<'_> {
        fn drop(&mut self) {
            self.0.destroy();
        }
    }
    let _locals = DropLocals(&cx.locals);
    body()
}

impl<'a> CoroutineCx<'a> {
    /// The coroutine's record in its worker's list.
    pub(crate) fn node(&self) -> &'a Node {
        self.node
    }

    /// Suspends the coroutine until its task is polled again.
    #[inline(always)]
    pub(crate) fn suspend(&self) {
        let _back = self.away(false);
        self.suspender.suspend();
    }

    /// Yields to the other tasks of the worker.
    #[inline(always)]
    pub(crate) fn yield_now(&self) {
        let _back = self.away(true);
        self.suspender.yield_now();
    }

    /// Hands the thread's frame back to the resumer while the coroutine is
    /// suspended (`ready`: to let others run, not to wait), and marks its
    /// record; the returned guard takes it back on resumption — or
    /// during a forced unwind. (A guard rather than a closure around the
    /// switch: a closure the compiler does not inline puts a call frame
    /// around the switch, which costs return mispredictions on every
    /// suspension.)
    #[inline(always)]
    fn away(&self, ready: bool) -> Reenter<'_, 'a> {
        self.node.suspending(ready);
        #[cfg(feature = "tracing")]
        self.spans.suspend();
        Reenter(self, replace_frame(self.outer.get()))
    }

    /// Polls `future` with the context of the poll that runs the coroutine,
    /// as code inside a poll (so that waiting in it is refused).
    #[inline(always)]
    pub(crate) fn poll<F: Future + ?Sized>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        let _polling = Polling::enter();
        self.suspender.poll(future)
    }

    /// Runs `future` to completion like [`wait`](Self::wait), for a caller
    /// that must not be unwound (a hook's `extern "C"` frame, called by
    /// code that cannot unwind): a cancellation of the coroutine meanwhile
    /// ends the wait with `None` instead of unwinding it. From then on
    /// every such wait of the coroutine returns `None` at once, so that
    /// code told of the cancellation by an error, and retrying, still ends.
    /// (Waits during an unwind already under way, in destructors, complete
    /// as with `wait`.)
    #[cfg(feature = "hook")]
    pub(crate) fn wait_or_cancelled<F: IntoFuture>(&self, future: F) -> Option<F::Output> {
        if self.cancelled_by_error.get() {
            return None;
        }
        let waited =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.wait(future))).ok();
        self.cancelled_by_error.set(waited.is_none());
        waited
    }

    /// Runs `future` to completion, suspending while it is pending.
    #[inline]
    pub(crate) fn wait<F: IntoFuture>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future.into_future());
        loop {
            if let Poll::Ready(output) = self.poll(future.as_mut()) {
                return output;
            }
            self.suspend();
        }
    }
}

/// Gives a coroutine its frame back when dropped (see [`CoroutineCx::away`]).
pub(crate) struct Reenter<'a, 'b>(&'a CoroutineCx<'b>, Frame);

impl Drop for Reenter<'_, '_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.outer.set(replace_frame(self.1));
        #[cfg(feature = "tracing")]
        self.0.spans.resume();
    }
}

/// Marks the thread as polling a future while alive.
///
/// It keeps the address of the thread's counter: looking the thread-local
/// up again to leave is not always inlined (in the worker loop it was a
/// call, a sixth of the loop's own instructions per yield).
pub(crate) struct Polling(*const Cell<usize>);

impl Polling {
    /// Enters a poll.
    #[inline(always)]
    pub(crate) fn enter() -> Polling {
        Polling(POLLING.with(|p| {
            p.set(p.get() + 1);
            ptr::from_ref(p)
        }))
    }
}

impl Drop for Polling {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the counter is a thread-local without a destructor, alive
        // as long as its thread; the guard is not `Send` (a raw pointer),
        // so it is dropped on the thread that entered.
        let polling = unsafe { &*self.0 };
        polling.set(polling.get() - 1);
    }
}
