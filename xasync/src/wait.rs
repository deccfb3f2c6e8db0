//! Waiting without colouring: `xawait` suspends a coroutine, blocks a
//! thread, and refuses (loudly) inside a `Future::poll`.

use crate::context::{self, Caller, Polling};
use crate::runtime::Handle;
use crate::task::JoinHandle;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Panics with the message for a waiting function called inside a poll.
#[track_caller]
pub(crate) fn refuse_in_poll() -> ! {
    panic!("{IN_POLL}")
}

const IN_POLL: &str = "xasync: a waiting function (xawait, sleep, recv, lock, ...) was called inside \
                       Future::poll, where it would block the executor; in async code use the `_async` \
                       variant with `.await` instead";

/// Waits for `future` — a [`JoinHandle`] (its task's value; a panic in the
/// task is re-raised here) or anything that is [`IntoFuture`] — and returns
/// its output.
///
/// In a coroutine this suspends the coroutine and the worker runs others;
/// on a plain thread it blocks the thread while the runtime makes progress.
///
/// ```
/// use xasync::{xasync, xawait};
/// let h = xasync(|| "from a coroutine");
/// assert_eq!(xawait(h), "from a coroutine");
/// assert_eq!(xawait(async { 5 }), 5);
/// ```
///
/// # Panics
///
/// When called inside `Future::poll` (an async task, or a future being
/// awaited): waiting there would deadlock the executor; use `.await`.
#[inline]
pub fn xawait<F: IntoFuture>(future: F) -> F::Output {
    match context::caller() {
        Caller::Coroutine(coroutine) => coroutine.wait(future),
        Caller::Polling => refuse_in_poll(),
        Caller::Thread => block_on_thread(future.into_future()),
    }
}

/// Runs `future` to completion on the calling thread (a coroutine
/// suspends instead) and returns its output: [`xawait`] for futures.
#[inline]
pub fn block_on<F: Future>(future: F) -> F::Output {
    xawait(future)
}

/// Wakes a thread blocked in `block_on_thread`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on_thread<F: Future>(future: F) -> F::Output {
    // Tokio futures polled here find the tokio driver. Held for the whole
    // wait: a context the future enters while polled is left before the
    // poll returns, so the guards nest.
    #[cfg(feature = "tokio")]
    let _tokio = crate::compat::tokio::enter();
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        let poll = {
            let _polling = Polling::enter();
            future.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(output) = poll {
            return output;
        }
        thread::park();
    }
}

/// Lets other coroutines and tasks run, then continues. On a plain thread
/// it yields the thread to the OS.
///
/// # Panics
///
/// Inside `Future::poll`; use [`yield_now_async`] there.
#[inline(always)]
pub fn yield_now() {
    match context::caller() {
        Caller::Coroutine(coroutine) => coroutine.yield_now(),
        Caller::Polling => refuse_in_poll(),
        Caller::Thread => thread::yield_now(),
    }
}

/// A future that is pending once (after asking to be polled again), so
/// that the other tasks run first.
pub fn yield_now_async() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if !xasync_core::task::raw::yield_hint(cx) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Runs a closure that blocks (file I/O, heavy computation, foreign calls)
/// without blocking the worker: in a coroutine, `f` runs on the runtime's
/// blocking pool while the coroutine is suspended; on a plain thread it
/// simply runs. Returns `f`'s value (its panic is re-raised).
///
/// # Panics
///
/// Inside `Future::poll`; use [`blocking_async`] there.
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match context::caller() {
        Caller::Coroutine(coroutine) => coroutine.wait(Handle::current().blocking(f)),
        Caller::Polling => refuse_in_poll(),
        Caller::Thread => f(),
    }
}

/// Runs `f` on the blocking pool of the current (or default) runtime; the
/// handle resolves to its value.
pub fn blocking_async<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current().blocking(f)
}
