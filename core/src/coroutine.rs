//! Asymmetric coroutines: [`Coroutine::resume`] runs a coroutine until it
//! suspends through its [`Yielder`] or returns.
//!
//! ```
//! use xasync_core::coroutine::{Coroutine, CoroutineResult};
//! use xasync_core::stack::HeapStack;
//!
//! // SAFETY: the coroutine uses a few hundred bytes of its 32 KiB.
//! let stack = unsafe { HeapStack::new(32 * 1024) };
//! // Input `i32`, yield `i32`, return `&str`.
//! let mut co = Coroutine::with_stack(stack, |yielder, first: i32| {
//!     let second = yielder.suspend(first * 10);
//!     let _ = yielder.suspend(second * 10);
//!     "done"
//! });
//! assert_eq!(co.resume(1), CoroutineResult::Yield(10));
//! assert_eq!(co.resume(2), CoroutineResult::Yield(20));
//! assert_eq!(co.resume(3), CoroutineResult::Return("done"));
//! ```
//!
//! # Soundness
//!
//! * A coroutine is `!Send`: nothing in the language can check what its
//!   suspended stack holds (an `Rc`, a `MutexGuard`, a thread-local address),
//!   so once it has run it stays on its thread. Runtimes move *unstarted*
//!   work between threads as a `Send` closure and create the coroutine where
//!   it first runs.
//! * A panic inside the coroutine is caught at its entry and re-raised by the
//!   `resume` that ran it; the coroutine is then finished.
//! * Dropping a suspended coroutine unwinds its stack, running the
//!   destructors there (with the `std` feature). Without unwinding (kernels
//!   with `panic = "abort"`), a coroutine suspended in
//!   [`Yielder::try_suspend`] is resumed with `Err(Cancelled)` and returns;
//!   one suspended in plain `suspend` keeps its stack forever (leaked, never
//!   reused, so nothing pinned on it dangles).

use crate::arch;
use crate::context::{Prepared, StackHeader, prepare};
use crate::stack::Stack;
use crate::unwind::{self, Payload};
use alloc::borrow::Cow;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

/// What a [`Coroutine::resume`] call ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoroutineResult<Y, R> {
    /// The coroutine suspended with this value; it can be resumed again.
    Yield(Y),
    /// The coroutine's function returned this value; it is finished.
    Return(R),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if the coroutine suspended.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The returned value, if the coroutine finished.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// A coroutine suspended in [`Yielder::try_suspend`] was cancelled (dropped
/// or cancelled by its owner): it should return promptly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the coroutine was cancelled")
    }
}

impl core::error::Error for Cancelled {}

/// Makes a type `!Send` and `!Sync`: what lives on a suspended stack is
/// tied to its thread.
type NotSend = *mut ();

/// Sent by the resumer into the coroutine.
enum Command<I> {
    Resume(I),
    Unwind,
}

/// How a coroutine's function ended, sent to its resumer by the last switch
/// (`arch::finish`). Suspensions send a bare `Y` instead.
enum Outcome<R> {
    Return(R),
    Panic(Payload),
    Unwound,
}

/// What the resumer receives.
enum Event<Y, R> {
    Yield(Y),
    Finish(Outcome<R>),
}

/// The coroutine's handle on itself, given to its function: suspends it.
///
/// It lives at the top of the coroutine's stack and is only ever borrowed
/// by the coroutine's own function, so it cannot outlive or leave it.
pub struct Yielder<I, Y> {
    /// Stack pointer of the context that resumed us, saved by `resume`.
    caller_sp: Cell<*mut u8>,
    pub(crate) header: NonNull<StackHeader>,
    /// Set when the resumer asked us to unwind.
    unwinding: Cell<bool>,
    /// Set while suspended in `try_suspend`, which answers a cancellation
    /// with `Err(Cancelled)` instead of unwinding.
    cancellable: Cell<bool>,
    _types: PhantomData<fn(Y) -> I>,
    _not_send: PhantomData<NotSend>,
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine, handing `value` to the `resume` call that ran
    /// it; returns the input of the next `resume`.
    #[inline(always)]
    pub fn suspend(&self, value: Y) -> I {
        let value = ManuallyDrop::new(value);
        // SAFETY: only the running coroutine can reach its Yielder (it is
        // borrowed by its function alone), so `caller_sp` is the live
        // resumer's stack pointer; the resumer reads a `Y`.
        match unsafe { self.switch_out(ptr::addr_of!(value) as usize) } {
            Command::Resume(input) => input,
            Command::Unwind => {
                self.unwinding.set(true);
                unwind::force()
            }
        }
    }

    /// Suspends like [`suspend`](Self::suspend), but a coroutine dropped
    /// (or cancelled) while suspended here gets `Err(Cancelled)` instead of
    /// being unwound, and must then return promptly.
    ///
    /// This is the cancellation path that works without unwinding (kernels
    /// built with `panic = "abort"`): a coroutine that waits only through
    /// `try_suspend` and returns on `Err` is always cleaned up, destructors
    /// included, by ordinary returns.
    ///
    /// ```
    /// use xasync_core::coroutine::{Cancelled, Coroutine, Yielder};
    /// use xasync_core::stack::HeapStack;
    ///
    /// // SAFETY: the coroutine uses a few hundred bytes of its 32 KiB.
    /// let stack = unsafe { HeapStack::new(32 * 1024) };
    /// let mut co = Coroutine::with_stack(stack, |y: &Yielder<(), ()>, ()| {
    ///     loop {
    ///         if let Err(Cancelled) = y.try_suspend(()) {
    ///             return "cleaned up";
    ///         }
    ///     }
    /// });
    /// co.resume(());
    /// drop(co); // resumes it with Err(Cancelled); it returns
    /// ```
    #[inline]
    pub fn try_suspend(&self, value: Y) -> Result<I, Cancelled> {
        let value = ManuallyDrop::new(value);
        self.cancellable.set(true);
        // SAFETY: as in `suspend`.
        let command = unsafe { self.switch_out(ptr::addr_of!(value) as usize) };
        self.cancellable.set(false);
        match command {
            Command::Resume(input) => Ok(input),
            Command::Unwind => Err(Cancelled),
        }
    }

    /// Starts unwinding the coroutine's stack from here, as dropping it
    /// would: the destructors on the stack run as ordinary coroutine code
    /// (they may suspend), and the coroutine ends as unwound. How a task
    /// delivers a cancellation at the suspension point it resumes.
    pub(crate) fn force_unwind(&self) -> ! {
        self.unwinding.set(true);
        unwind::force()
    }

    /// Switches back to the resumer, handing it the `Y` at `message` to move
    /// out.
    ///
    /// # Safety
    ///
    /// Must run on this coroutine's stack while it is running; the value at
    /// `message` must not be used or dropped afterwards.
    #[inline(always)]
    unsafe fn switch_out(&self, message: usize) -> Command<I> {
        // SAFETY: the header lives at the top of our own stack, and the
        // resumer is suspended at `caller_sp`.
        unsafe { self.header.as_ref().check(self.caller_sp.get()) };
        // SAFETY: the resumer is suspended in `switch_in` at `caller_sp`; it
        // reads the message once, before anything else runs on our stack,
        // and hands us a `Command` the same way.
        unsafe {
            let command = arch::suspend(message, self.caller_sp.as_ptr());
            ptr::read(command as *const Command<I>)
        }
    }

    /// Switches back to the resumer for the last time, handing it the
    /// `Outcome` at `message`.
    ///
    /// # Safety
    ///
    /// As for [`switch_out`](Self::switch_out); nothing on our stack may be
    /// used afterwards.
    unsafe fn finish(&self, message: usize) -> ! {
        // SAFETY: as for `switch_out`.
        unsafe {
            self.header.as_ref().check(self.caller_sp.get());
            arch::finish(message, self.caller_sp.as_ptr())
        }
    }
}

impl<I, Y> fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}

/// What `prepare` places at the top of a fresh stack.
struct Start<I, Y, F> {
    yielder: Yielder<I, Y>,
    function: ManuallyDrop<F>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Created,
    Suspended,
    Finished,
}

/// A stackful coroutine taking `I` on each resume, yielding `Y` and
/// returning `R`, running on a stack of type `S`.
///
/// See the [module documentation](self) for an example and the soundness
/// rules.
pub struct Coroutine<I, Y, R, S: Stack> {
    yielder: NonNull<Yielder<I, Y>>,
    /// Saved stack pointer while suspended (or the initial frame).
    sp: NonNull<u8>,
    state: State,
    name: Option<Cow<'static, str>>,
    stack: ManuallyDrop<S>,
    _types: PhantomData<fn(I) -> (Y, R)>,
    _not_send: PhantomData<NotSend>,
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// Creates a coroutine that will run `f` on `stack`. Nothing runs until
    /// the first [`resume`](Self::resume), whose input becomes `f`'s second
    /// argument.
    ///
    /// # Panics
    ///
    /// If `f` is too large to be stored on `stack`.
    #[inline]
    pub fn with_stack<F>(stack: S, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let start = Start {
            yielder: Yielder {
                caller_sp: Cell::new(ptr::null_mut()),
                header: NonNull::dangling(),
                unwinding: Cell::new(false),
                cancellable: Cell::new(false),
                _types: PhantomData,
                _not_send: PhantomData,
            },
            function: ManuallyDrop::new(f),
        };
        // SAFETY: the stack is ours, and `entry::<I, Y, R, F>` reads its data
        // as a `Start<I, Y, F>`.
        let Prepared { header, data, sp } =
            unsafe { prepare(&stack, start, entry::<I, Y, R, F>, arch::init_coroutine) };
        // SAFETY: `prepare` just initialized the start record.
        let yielder = unsafe {
            let yielder = &raw mut (*data.as_ptr()).yielder;
            (*yielder).header = header;
            NonNull::new_unchecked(yielder)
        };
        Coroutine {
            yielder,
            sp,
            state: State::Created,
            name: None,
            stack: ManuallyDrop::new(stack),
            _types: PhantomData,
            _not_send: PhantomData,
        }
    }

    /// Creates a coroutine on a default-constructed stack (for the std
    /// crate's pooled stacks: one taken from the thread's pool).
    pub fn new<F>(f: F) -> Self
    where
        S: Default,
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Self::with_stack(S::default(), f)
    }

    /// Names the coroutine; the name appears in stack-overflow reports.
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name: *const str = &**self.name.insert(name.into());
        // SAFETY: the string's bytes do not move when `self` does, and are
        // owned by `self` for as long as the header points at them.
        unsafe { self.header().set_name(Some(&*name)) };
        self
    }

    /// The coroutine's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the coroutine has been resumed at least once.
    pub fn started(&self) -> bool {
        self.state != State::Created
    }

    /// Whether the coroutine has finished (returned, panicked or unwound).
    pub fn done(&self) -> bool {
        self.state == State::Finished
    }

    /// The stack the coroutine runs on.
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// Finishes the coroutine as dropping it would (unwinding it if it is
    /// suspended) and returns its stack for reuse.
    ///
    /// # Panics
    ///
    /// As dropping does, if the coroutine cannot be unwound (it suspends
    /// again, or the crate is built without `std`): its stack is then leaked.
    #[inline]
    pub fn into_stack(mut self) -> S {
        if let Some(payload) = self.cancel() {
            drop(self);
            unwind::resume(payload);
        }
        assert!(
            self.done(),
            "a coroutine that cannot be unwound keeps its stack"
        );
        let mut this = ManuallyDrop::new(self);
        // SAFETY: finished, so nothing lives on the stack; `this` is never
        // dropped, so the stack is moved out exactly once.
        unsafe {
            ptr::drop_in_place(&mut this.name);
            ManuallyDrop::take(&mut this.stack)
        }
    }

    /// Runs the coroutine until it suspends or returns. `input` is the
    /// function's second argument on the first call and the value returned
    /// by [`Yielder::suspend`] afterwards.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of the coroutine (which is then finished), and
    /// panics if the coroutine has already finished.
    #[inline]
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        self.resume_or_unwound(input)
            .expect("a coroutine unwound without being asked to")
    }

    /// Resumes like [`resume`](Self::resume); `None` when the coroutine
    /// ended by unwinding (through [`Yielder::force_unwind`]).
    #[inline]
    pub(crate) fn resume_or_unwound(&mut self, input: I) -> Option<CoroutineResult<Y, R>> {
        assert!(
            !self.done(),
            "resumed a coroutine that has already finished"
        );
        // SAFETY: not finished, and `&mut self` rules out re-entrance.
        match unsafe { self.switch_in(Command::Resume(input)) } {
            Event::Yield(value) => {
                self.state = State::Suspended;
                Some(CoroutineResult::Yield(value))
            }
            Event::Finish(outcome) => {
                self.state = State::Finished;
                match outcome {
                    Outcome::Return(value) => Some(CoroutineResult::Return(value)),
                    Outcome::Panic(payload) => unwind::resume(payload),
                    Outcome::Unwound => None,
                }
            }
        }
    }

    /// Whether the coroutine is suspended in [`Yielder::try_suspend`].
    pub(crate) fn in_try_suspend(&self) -> bool {
        // SAFETY: the Yielder lives on our stack, which we own.
        self.state == State::Suspended && unsafe { self.yielder.as_ref() }.cancellable.get()
    }

    fn header(&self) -> &StackHeader {
        // SAFETY: the header lives at the top of our stack, which we own.
        unsafe { self.yielder.as_ref().header.as_ref() }
    }

    /// Runs the coroutine with `command` until it switches back.
    ///
    /// # Safety
    ///
    /// The coroutine must not be finished, nor running.
    #[inline]
    unsafe fn switch_in(&mut self, command: Command<I>) -> Event<Y, R> {
        // SAFETY: the Yielder lives on our stack; the coroutine is suspended
        // (or fresh) at `sp` and reads `command` once before switching back,
        // handing us a `Y` — or, when it finished (null stack pointer), an
        // `Outcome` — the same way.
        unsafe {
            let yielder = self.yielder.as_ref();
            let command = ManuallyDrop::new(command);
            let (message, sp) = arch::resume(
                ptr::addr_of!(command) as usize,
                yielder.caller_sp.as_ptr(),
                self.sp,
            );
            match NonNull::new(sp) {
                Some(sp) => {
                    self.sp = sp;
                    Event::Yield(ptr::read(message as *const Y))
                }
                None => Event::Finish(ptr::read(message as *const Outcome<R>)),
            }
        }
    }
}

impl<I, Y, R, S: Stack> Coroutine<I, Y, R, S> {
    /// Brings the coroutine to an end without resuming its function: drops
    /// an unstarted closure, unwinds a suspended stack (or, when it waits in
    /// `try_suspend`, hands it `Err(Cancelled)` to return on). Returns a
    /// panic raised meanwhile. Leaves the coroutine suspended when it cannot
    /// be unwound (no `std`, plain `suspend`) or suspends again instead of
    /// ending.
    #[inline]
    fn cancel(&mut self) -> Option<Payload> {
        // SAFETY: the Yielder lives on our stack.
        let cancellable = unsafe { self.yielder.as_ref() }.cancellable.get();
        let event = match self.state {
            State::Finished => return None,
            State::Suspended if !unwind::CAN_UNWIND && !cancellable => return None,
            // SAFETY: fresh or suspended, not running. A fresh coroutine's
            // entry just drops the closure.
            State::Created | State::Suspended => unsafe { self.switch_in(Command::Unwind) },
        };
        match event {
            Event::Finish(outcome) => {
                self.state = State::Finished;
                match outcome {
                    Outcome::Panic(payload) => Some(payload),
                    Outcome::Return(_) | Outcome::Unwound => None,
                }
            }
            // It caught its forced unwind and suspended again: still alive.
            Event::Yield(_) => {
                self.state = State::Suspended;
                None
            }
        }
    }
}

impl<I, Y, R, S: Stack> Drop for Coroutine<I, Y, R, S> {
    /// Finishes the coroutine: an unstarted one's closure is dropped, a
    /// suspended one is unwound so the destructors on its stack run. A
    /// coroutine that cannot be unwound keeps its stack forever (leaked,
    /// never reused, so nothing pinned on it dangles).
    #[inline]
    fn drop(&mut self) {
        let panic = self.cancel();
        if self.done() {
            // SAFETY: finished: nothing lives on the stack anymore.
            unsafe { ManuallyDrop::drop(&mut self.stack) };
        } else if unwind::CAN_UNWIND && !unwind::panicking() {
            panic!("a dropped coroutine suspended instead of unwinding; its stack is leaked");
        }
        if let Some(payload) = panic.filter(|_| !unwind::panicking()) {
            unwind::resume(payload);
        }
    }
}

impl<I, Y, R, S: Stack> fmt::Debug for Coroutine<I, Y, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("name", &self.name)
            .field("started", &self.started())
            .field("done", &self.done())
            .finish_non_exhaustive()
    }
}

/// First function on a coroutine's stack: runs the closure, then switches
/// back for the last time with its result.
///
/// # Safety
///
/// `arg` points to a `Command<I>` and `data` to the `Start<I, Y, F>` written
/// by [`Coroutine::with_stack`].
unsafe extern "C" fn entry<I, Y, R, F>(arg: usize, data: *mut u8) -> !
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    // SAFETY: see the function's contract; the function and the first
    // command are each moved out exactly once.
    let (yielder, function, command) = unsafe {
        let start = data.cast::<Start<I, Y, F>>();
        let yielder = &*ptr::addr_of!((*start).yielder);
        let function = ManuallyDrop::take(&mut (*start).function);
        (yielder, function, ptr::read(arg as *const Command<I>))
    };
    let outcome = match command {
        Command::Resume(input) => match unwind::catch(|| function(yielder, input)) {
            Ok(value) => Outcome::Return(value),
            Err(payload) if yielder.unwinding.get() && unwind::is_forced(&payload) => {
                Outcome::Unwound
            }
            Err(payload) => Outcome::Panic(payload),
        },
        Command::Unwind => match unwind::catch(move || drop(function)) {
            Ok(()) => Outcome::Unwound,
            Err(payload) => Outcome::Panic(payload),
        },
    };
    let outcome = ManuallyDrop::new(outcome);
    // SAFETY: we run on our own stack; the resumer moves the outcome out and
    // never switches back.
    unsafe { yielder.finish(ptr::addr_of!(outcome) as usize) }
}
