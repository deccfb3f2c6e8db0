//! Panic propagation across context switches.
//!
//! Unwinding never crosses a switch (docs/DESIGN.md §2.2): a panic is caught at the
//! coroutine's entry, carried to whoever resumed it as a [`Payload`] and
//! re-raised there. A suspended coroutine that is dropped is unwound with a
//! private [`ForcedUnwind`] payload so that the destructors on its stack run.
//!
//! Without the `std` feature there is no `catch_unwind`: a panic inside a
//! coroutine reaches the `extern "C"` entry and aborts (kernels build with
//! `panic = "abort"` anyway), and no forced unwind is ever requested.

#[cfg(feature = "std")]
mod imp {
    use std::any::Any;
    use std::boxed::Box;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

    /// A caught panic.
    pub(crate) type Payload = Box<dyn Any + Send + 'static>;

    /// Whether suspended coroutines can be unwound when dropped.
    pub(crate) const CAN_UNWIND: bool = true;

    /// The payload that unwinds a coroutine being dropped. Private, so user
    /// code can catch it but never forge it.
    struct ForcedUnwind;

    /// Runs `f`, catching a panic.
    pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
        catch_unwind(AssertUnwindSafe(f))
    }

    /// Re-raises a caught panic.
    pub(crate) fn resume(payload: Payload) -> ! {
        resume_unwind(payload)
    }

    /// Starts unwinding the current coroutine's stack.
    pub(crate) fn force() -> ! {
        resume_unwind(Box::new(ForcedUnwind))
    }

    /// Whether `payload` comes from [`force`].
    pub(crate) fn is_forced(payload: &Payload) -> bool {
        payload.is::<ForcedUnwind>()
    }

    /// Whether this thread is unwinding from a panic (a relaxed load of
    /// std's global panic count when nothing panics).
    #[inline(always)]
    pub(crate) fn panicking() -> bool {
        std::thread::panicking()
    }

    std::thread_local! {
        /// Coroutines of this thread suspended while it counted as
        /// panicking (see [`Suspension`]).
        static SUSPENDED_PANICKING: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    /// What a suspending coroutine can know about being inside an unwind.
    ///
    /// The standard library counts panics per thread, and a coroutine
    /// suspended inside a destructor during an unwind keeps its share of
    /// the count while others run there. So `panicking()` at a suspension
    /// tells whether *this* coroutine unwinds only when no other suspended
    /// coroutine of the thread might: the thread-local count of those keeps
    /// track.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Unwinding {
        /// The coroutine is not unwinding.
        No,
        /// The coroutine is unwinding (a destructor run by its unwind waits).
        Yes,
        /// Another suspended coroutine may account for the panic count.
        Unknown,
    }

    /// The record of a suspension: what was known about the coroutine being
    /// inside an unwind when it suspended. Begun just before the switch,
    /// ended after it (on the same thread: a suspended coroutine never
    /// changes thread). No destructor: a guard would give every suspension
    /// a landing pad, which cost ~10 ns on the hot path. A suspension that
    /// is never ended (the coroutine is unwound from a raw `Coroutine`'s
    /// drop, which a stackful task never does with `std`) leaves the count
    /// one too high, which only makes later answers `Unknown`.
    pub(crate) struct Suspension(Unwinding);

    impl Suspension {
        /// Begins the record: a relaxed load of the global panic count
        /// when nothing panics.
        #[inline(always)]
        pub(crate) fn begin() -> Suspension {
            if panicking() {
                Suspension::begin_panicking()
            } else {
                Suspension(Unwinding::No)
            }
        }

        #[cold]
        #[inline(never)]
        fn begin_panicking() -> Suspension {
            let others = SUSPENDED_PANICKING.with(|n| n.replace(n.get() + 1));
            Suspension(if others == 0 {
                Unwinding::Yes
            } else {
                Unwinding::Unknown
            })
        }

        /// Ends the record, once the coroutine runs again: what was known
        /// at the suspension.
        #[inline(always)]
        pub(crate) fn end(self) -> Unwinding {
            if self.0 != Unwinding::No {
                Suspension::end_panicking();
            }
            self.0
        }

        #[cold]
        #[inline(never)]
        fn end_panicking() {
            SUSPENDED_PANICKING.with(|n| n.set(n.get() - 1));
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    /// No panic is ever caught without `std`.
    pub(crate) type Payload = core::convert::Infallible;

    /// Whether suspended coroutines can be unwound when dropped.
    pub(crate) const CAN_UNWIND: bool = false;

    /// Runs `f`; a panic aborts at the enclosing `extern "C"` entry.
    pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
        Ok(f())
    }

    /// Unreachable: there are no payloads.
    pub(crate) fn resume(payload: Payload) -> ! {
        match payload {}
    }

    /// Never called when `CAN_UNWIND` is false.
    pub(crate) fn force() -> ! {
        unreachable!("forced unwinding needs the `std` feature")
    }

    /// Unreachable: there are no payloads.
    pub(crate) fn is_forced(payload: &Payload) -> bool {
        match *payload {}
    }

    /// A panic never unwinds without `std`.
    pub(crate) fn panicking() -> bool {
        false
    }

    /// Without `std` nothing unwinds.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Unwinding {
        /// The only case.
        No,
        /// Never.
        #[allow(dead_code)]
        Yes,
        /// Never.
        #[allow(dead_code)]
        Unknown,
    }

    /// The record of a suspension (see the `std` version).
    pub(crate) struct Suspension;

    impl Suspension {
        /// Begins the record.
        #[inline(always)]
        pub(crate) fn begin() -> Suspension {
            Suspension
        }

        /// Ends the record: nothing unwinds.
        #[inline(always)]
        pub(crate) fn end(self) -> Unwinding {
            Unwinding::No
        }
    }
}

pub(crate) use imp::*;
