//! The `tracing` spans a coroutine has entered, kept its own across
//! suspensions (feature `tracing`).
//!
//! A subscriber tracks the entered spans per thread, and a worker thread
//! runs many coroutines in turn: a span a coroutine entered and held across
//! a wait would otherwise stay entered on the thread, so the next coroutine
//! resumed there would log under it and make it the parent of its own
//! spans. So a coroutine exits, when it suspends, the spans it entered
//! above the thread's current span at its resumption, and enters them again
//! when it is resumed, through the dispatcher's `exit`/`enter` — the calls
//! `Span::enter` and its guard make.
//!
//! The spans are found through `Dispatch::current_span`, which
//! `tracing-subscriber`'s `Registry` (so every `fmt` or layered subscriber)
//! answers from its per-thread stack; a subscriber that does not track the
//! current span makes this a no-op, and so does the absence of any.

use std::cell::{Cell, RefCell};
use tracing::dispatcher::{self, Dispatch};
use tracing::level_filters::LevelFilter;
use tracing::span::Id;

/// More spans than any coroutine enters: the bound on one suspension's
/// exits, in case a subscriber's current span does not follow its exits.
const MAX_ENTERED: usize = 4096;

/// Whether spans may be entered at all: no subscriber (or one that enables
/// nothing) sets the global level hint to `OFF`, and then suspending and
/// resuming cost one load each.
#[inline(always)]
fn in_use() -> bool {
    LevelFilter::current() != LevelFilter::OFF
}

/// A coroutine's spans (in its [`CoroutineCx`](crate::context)).
#[derive(Default)]
pub(crate) struct Spans {
    /// The thread's current span when the coroutine was last resumed: the
    /// ones entered above it are the coroutine's.
    base: Cell<Option<Id>>,
    /// While suspended with spans exited: the dispatcher they were exited
    /// on.
    dispatch: Cell<Option<Dispatch>>,
    /// Those spans, innermost first (the vector is kept between
    /// suspensions, so that a suspension does not allocate).
    exited: RefCell<Vec<Id>>,
}

impl Spans {
    /// On resumption (or the first run): notes the thread's current span,
    /// then enters the coroutine's spans again, outermost first.
    #[inline(always)]
    pub(crate) fn resume(&self) {
        let dispatch = self.dispatch.take();
        if dispatch.is_some() || in_use() {
            self.enter_again(dispatch);
        }
    }

    #[inline(never)]
    fn enter_again(&self, dispatch: Option<Dispatch>) {
        self.base.set(dispatcher::get_default(|dispatch| {
            dispatch.current_span().id().cloned()
        }));
        if let Some(dispatch) = dispatch {
            for id in self.exited.borrow_mut().drain(..).rev() {
                dispatch.enter(&id);
                // The entry holds the span now (a subscriber keeps what is
                // entered open): release the hold taken in `exit_entered`.
                dispatch.try_close(id);
            }
        }
    }

    /// On suspension: exits the spans the coroutine entered, innermost
    /// first, and keeps them for [`resume`](Self::resume).
    #[inline(always)]
    pub(crate) fn suspend(&self) {
        if in_use() {
            self.exit_entered();
        }
    }

    #[inline(never)]
    fn exit_entered(&self) {
        let base = self.base.take();
        dispatcher::get_default(|dispatch| {
            let mut exited = self.exited.borrow_mut();
            while exited.len() < MAX_ENTERED {
                let current = dispatch.current_span();
                let Some(id) = current.id().filter(|&id| Some(id) != base.as_ref()) else {
                    break;
                };
                // Hold the span open while it is not entered: exiting it
                // drops the subscriber's reference from the entry, and its
                // last handle may be gone (a guard leaked with
                // `mem::forget`), which would close it and free its id.
                let id = dispatch.clone_span(id);
                dispatch.exit(&id);
                exited.push(id);
            }
            if !exited.is_empty() {
                self.dispatch.set(Some(dispatch.clone()));
            }
        });
    }

    /// When the coroutine ends: exits the spans it left entered (guards it
    /// leaked), which would otherwise stay entered on the worker thread.
    pub(crate) fn leave(&self) {
        self.suspend();
        if let Some(dispatch) = self.dispatch.take() {
            for id in self.exited.borrow_mut().drain(..) {
                dispatch.try_close(id);
            }
        }
    }
}
