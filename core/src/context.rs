//! What coroutines and fibers share: the header at the top of every stack,
//! placing a start record and an initial frame on a fresh stack, and the
//! software overflow check with its report.

use crate::arch::{self, EntryFn, STACK_ALIGNMENT};
use crate::stack::{MIN_STACK_SIZE, OverflowCheck, STACK_CANARY, Stack};
use core::cell::Cell;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

/// Bookkeeping kept at the very top of every coroutine stack, where the
/// host's stack-overflow handler can find it from the stack's top alone
/// (see [`crate::stack::running_coroutine_name`]).
#[repr(C, align(16))]
pub(crate) struct StackHeader {
    /// The running coroutine's name, for overflow reports.
    name: Cell<Option<NonNull<str>>>,
    /// Lowest usable address.
    pub(crate) limit: usize,
    /// The canary to check, for stacks without a guard page.
    canary: Option<NonNull<u64>>,
}

impl StackHeader {
    /// Where the header of the stack whose top is `top` lives.
    pub(crate) fn at(top: NonNull<u8>) -> NonNull<StackHeader> {
        // SAFETY: every stack is larger than the header (MIN_STACK_SIZE).
        unsafe { top.sub(size_of::<StackHeader>()).cast() }
    }

    /// The coroutine's name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        // SAFETY: `set_name` callers keep the string alive while it is set.
        self.name.get().map(|name| unsafe { name.as_ref() })
    }

    /// Sets the name reported on overflow.
    ///
    /// # Safety
    ///
    /// `name` must stay valid until it is replaced or the stack is released.
    pub(crate) unsafe fn set_name(&self, name: Option<&str>) {
        self.name.set(name.map(NonNull::from));
    }

    /// Aborts with a report if the stack has overflowed. Free for stacks
    /// with a guard page; a load and a few compares for canary stacks.
    ///
    /// `escape_sp` is the saved stack pointer of the context about to be
    /// switched to: the report runs below it, on a healthy stack, since this
    /// one may have no room left.
    ///
    /// # Safety
    ///
    /// Must be called on the stack this header belongs to, and `escape_sp`
    /// must be a suspended context's stack pointer with room below it.
    #[inline(always)]
    pub(crate) unsafe fn check(&self, escape_sp: *mut u8) {
        if let Some(canary) = self.canary {
            // The real stack pointer: the address of a local would be off by
            // up to a frame, and a large frame can straddle the limit.
            let sp = arch::stack_pointer();
            // SAFETY: the `Stack` contract keeps the canary readable.
            let intact = unsafe { canary.read_volatile() } == STACK_CANARY;
            // In the slack between the canary and the limit, which only this
            // stack owns, the stack pointer means an overflow. Anywhere else
            // below the limit it may be on another stack: that of a
            // coroutine this one resumed, which can suspend us from there (a
            // waiting function called on a nested coroutine suspends the
            // task around it).
            let in_slack = (canary.as_ptr() as usize..self.limit).contains(&sp);
            if !intact || in_slack {
                // SAFETY: forwarded from the caller.
                unsafe { self.overflowed(escape_sp) }
            }
        }
    }

    /// Reports the overflow from the stack below `escape_sp` and aborts.
    ///
    /// # Safety
    ///
    /// As for [`check`](Self::check).
    #[cold]
    #[inline(never)]
    unsafe fn overflowed(&self, escape_sp: *mut u8) -> ! {
        unsafe extern "C" fn report(_: usize, header: *mut u8) -> ! {
            // SAFETY: `header` is the overflowed stack's header, whose name
            // lives in its coroutine (never resumed again).
            overflow_abort(unsafe { (*header.cast::<StackHeader>()).name() })
        }
        // Skip the x86_64 red zone and some of the suspended frame's slack.
        let below = (escape_sp as usize - 512) & !(STACK_ALIGNMENT - 1);
        let mut dead = core::ptr::null_mut();
        // SAFETY: the area below a suspended context's stack pointer is
        // free; that context never resumes, since `report` aborts.
        unsafe {
            let sp = arch::init_stack(
                NonNull::new_unchecked(below as *mut u8),
                report,
                core::ptr::from_ref(self).cast_mut().cast(),
            );
            arch::switch(0, &mut dead, sp.as_ptr());
        }
        unreachable!("the overflow report returned")
    }
}

/// Writes the overflow report for the coroutine `name` through `out`, one
/// piece at a time and without allocating, so that a signal handler can use
/// it too.
pub fn report_overflow(name: Option<&str>, out: &mut dyn FnMut(&[u8])) {
    out(b"\ncoroutine '");
    out(name.unwrap_or("<unnamed>").as_bytes());
    out(b"' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n");
}

#[cfg(feature = "std")]
fn overflow_abort(name: Option<&str>) -> ! {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    report_overflow(name, &mut |bytes| {
        let _ = err.write_all(bytes);
    });
    std::process::abort()
}

#[cfg(not(feature = "std"))]
fn overflow_abort(name: Option<&str>) -> ! {
    panic!(
        "coroutine '{}' has overflowed its stack",
        name.unwrap_or("<unnamed>")
    )
}

/// Room a fresh stack must keep below its start record for the first frames.
const MIN_FRAME_ROOM: usize = 1024;

/// A start record placed on a fresh stack, and the stack pointer that enters it.
pub(crate) struct Prepared<T> {
    pub(crate) header: NonNull<StackHeader>,
    pub(crate) data: NonNull<T>,
    pub(crate) sp: NonNull<u8>,
}

/// Writes the header and `data` at the top of `stack` and an initial frame
/// below them (with `init`: the arch's `init_stack` for `switch`, or
/// `init_coroutine` for `resume`), so that entering the returned `sp` calls
/// `entry(arg, data_ptr)`.
///
/// # Panics
///
/// If `data` does not fit with room to spare (`data` is then dropped).
///
/// # Safety
///
/// `stack` must not be in use by another context, and `entry` must treat its
/// `data` argument as a `*mut T`.
#[inline]
pub(crate) unsafe fn prepare<T, S: Stack + ?Sized>(
    stack: &S,
    data: T,
    entry: EntryFn,
    init: unsafe fn(NonNull<u8>, EntryFn, *mut u8) -> NonNull<u8>,
) -> Prepared<T> {
    let top = stack.top();
    let limit = stack.limit().as_ptr() as usize;
    let header = StackHeader::at(top);
    let data_at =
        (header.as_ptr() as usize).saturating_sub(size_of::<T>()) & !(align_of::<T>() - 1);
    let frame_top = data_at & !(STACK_ALIGNMENT - 1);
    assert!(
        stack.size() >= MIN_STACK_SIZE && frame_top >= limit + MIN_FRAME_ROOM,
        "a coroutine's closure ({} bytes) does not fit its stack ({} bytes)",
        size_of::<T>(),
        stack.size()
    );
    let canary = match stack.overflow_check() {
        OverflowCheck::GuardPage => None,
        OverflowCheck::Canary(word) => Some(word),
    };
    // SAFETY: header, data and frame lie inside `limit..top` (checked above),
    // suitably aligned, and the stack is ours (caller contract).
    unsafe {
        header.write(StackHeader {
            name: Cell::new(None),
            limit,
            canary,
        });
        let data_ptr = NonNull::new_unchecked(data_at as *mut T);
        data_ptr.write(data);
        let frame_top = NonNull::new_unchecked(frame_top as *mut u8);
        let sp = init(frame_top, entry, data_ptr.as_ptr().cast());
        Prepared {
            header,
            data: data_ptr,
            sp,
        }
    }
}
