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

    /// Whether this thread is unwinding from a panic.
    pub(crate) fn panicking() -> bool {
        std::thread::panicking()
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
}

pub(crate) use imp::*;
