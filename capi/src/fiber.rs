//! Fibers from C: symmetric coroutines that switch directly to one another,
//! the seed's `count_coro.resumeFrom(&base_coro)`, on the core's
//! [`xasync::coroutine::Group`].
//!
//! A group belongs to the thread (or coroutine, which stays on its
//! worker's thread) that created it, so its handles are checked against
//! that thread: fibers share `Rc`s and switch stacks, and must never be
//! touched from another thread. The library also tracks each group's
//! running member, so that every misuse the core would panic on (switching
//! from a member that is not running, across groups, to a finished fiber)
//! is an error instead.
//!
//! A fiber cannot wait: the waiting functions fail there with
//! `XASYNC_ERR_BUSY`, as a coroutine (or thread) may only be suspended on
//! its own stack. The group's base can.
//!
//! A fiber suspended in the middle of its C function cannot be destroyed:
//! destroying it would unwind its stack, through C frames. Resume it until
//! its function returns first.

use crate::error::{Error, Result, clear_out, non_null, status};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::cell::Cell;
use std::ffi::c_void;
use std::rc::Rc;
use std::thread::{self, ThreadId};
use xasync::coroutine::{Fiber, Group};
use xasync::stack::GuardedStack;

/// A member of a fiber group: its base (the context that created it) or a
/// fiber. Release it exactly once with `xasync_fiber_destroy`.
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_fiber {
    /// The handle's id (see the crate documentation); 0 is never issued.
    pub id: u64,
}

/// The function a fiber runs: it receives its own handle (to pass as
/// `from` when it switches away) and the `arg` given to
/// `xasync_fiber_spawn`. When it returns, control goes to the member that
/// last switched to the fiber (or to the base, if that one is gone). It
/// must not unwind or `longjmp` out.
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
pub type xasync_fiber_fn = Option<unsafe extern "C" fn(me: xasync_fiber, arg: *mut c_void)>;

/// What the members of one group share.
struct Shared {
    group: Group,
    /// The id of the running member (0 until the base's id is known).
    running: Cell<u64>,
}

/// A member in the table.
struct Member {
    /// The thread of the group: the only one that may use it.
    thread: ThreadId,
    shared: Rc<Shared>,
    fiber: Fiber,
    /// Set by a fiber when its function starts (always set for a base).
    started: Rc<Cell<bool>>,
}

// SAFETY: a `Member` holds `Rc`s and a `!Send` fiber, but it only moves into
// the (global) table and back out: every access goes through `owned`, which
// first checks that the caller is the member's own thread, and a member is
// only removed (and dropped) by that thread. Other threads never touch its
// contents; a member whose thread has exited stays in the table for good.
unsafe impl Send for Member {}

thread_local! {
    /// Whether a fiber (not a group's base) runs on this thread.
    static IN_FIBER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the caller is a fiber, which must not wait.
pub(crate) fn in_fiber() -> bool {
    IN_FIBER.with(Cell::get)
}

/// Usable bytes of a fiber's stack when `xasync_fiber_spawn` is given 0,
/// as for a coroutine.
const DEFAULT_STACK: usize = 64 * 1024;

/// The fibers' handle table.
pub(crate) const FIBER: Kind = Kind::new(0x46, "fiber", "destroyed");
static FIBERS: Table<Member> = Table::new(FIBER);

/// Fails unless the calling thread is `member`'s.
fn check_thread(member: &Member) -> Result<()> {
    if member.thread != thread::current().id() {
        return Err(Error::new(
            XASYNC_ERR_INVALID_ARGUMENT,
            "a fiber belongs to the thread (or coroutine) that created its group",
        ));
    }
    Ok(())
}

/// The group and the fiber of the member `id`, checked for this thread.
fn owned(id: u64) -> Result<(Rc<Shared>, Fiber)> {
    FIBERS.with(id, |member| {
        check_thread(member)?;
        Ok((member.shared.clone(), member.fiber.clone()))
    })?
}

/// Starts a fiber group whose base is the calling context (a thread or a
/// coroutine) and stores the base's handle in `*base` (zero on failure).
/// Fibers spawned into
/// the group switch to and from it. Only that thread (or coroutine) may use
/// the group's handles; release them before it ends, or what they hold
/// stays allocated.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`base`), `XASYNC_ERR_TOO_MANY`.
///
/// # Safety
///
/// `base` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_fiber_group_create(base: *mut xasync_fiber) -> xasync_status {
    status("xasync_fiber_group_create", || {
        // SAFETY: NULL or writable by the caller's contract.
        unsafe { clear_out(base, "base", xasync_fiber { id: 0 }) }?;
        let group = Group::new();
        let fiber = group.base().clone();
        let shared = Rc::new(Shared {
            group,
            running: Cell::new(0),
        });
        let id = FIBERS.insert(Member {
            thread: thread::current().id(),
            shared: shared.clone(),
            fiber,
            started: Rc::new(Cell::new(true)),
        })?;
        shared.running.set(id);
        // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
        unsafe { base.write(xasync_fiber { id }) };
        Ok(())
    })
}

/// Adds a fiber to the group of `member` (any member of it) that will run
/// `f(fiber, arg)` on a stack of its own, of `stack_size` usable bytes
/// (0: 64 KiB; it overflows into a guard page), when first resumed; stores
/// its handle in `*out` (zero on failure).
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`f`, `out`), handle errors,
/// `XASYNC_ERR_INVALID_ARGUMENT` (another thread's group, stack size over
/// 1 GiB), `XASYNC_ERR_SYSTEM` (the stack could not be mapped).
///
/// # Safety
///
/// `f` is NULL or follows the rules of `xasync_fiber_fn`; `out` is NULL or
/// writable. The library never touches `arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_fiber_spawn(
    member: xasync_fiber,
    f: xasync_fiber_fn,
    arg: *mut c_void,
    stack_size: usize,
    out: *mut xasync_fiber,
) -> xasync_status {
    status("xasync_fiber_spawn", || {
        // SAFETY: NULL or writable by the caller's contract.
        unsafe { clear_out(out, "out", xasync_fiber { id: 0 }) }?;
        let f = f.ok_or_else(|| Error::null("f"))?;
        if stack_size > crate::runtime::MAX_STACK {
            return Err(Error::new(
                XASYNC_ERR_INVALID_ARGUMENT,
                "stack_size is over 1 GiB",
            ));
        }
        let (shared, _) = owned(member.id)?;
        let stack = GuardedStack::new(if stack_size == 0 {
            DEFAULT_STACK
        } else {
            stack_size
        })
        .map_err(|e| Error::new(XASYNC_ERR_SYSTEM, format!("no stack for the fiber: {e}")))?;
        // The fiber's own id, known once it is in the table (before it can
        // first run).
        let me = Rc::new(Cell::new(0));
        let started = Rc::new(Cell::new(false));
        let (start_shared, start_me, start_started) = (shared.clone(), me.clone(), started.clone());
        let fiber = shared.group.spawn(stack, move |_| {
            let me = start_me.get();
            start_started.set(true);
            start_shared.running.set(me);
            IN_FIBER.with(|f| f.set(true));
            drop((start_shared, start_started));
            // SAFETY: `f` is a C fiber function, as the caller promised, and
            // it does not unwind.
            unsafe { f(xasync_fiber { id: me }, arg) };
        });
        let id = FIBERS.insert(Member {
            thread: thread::current().id(),
            shared,
            fiber,
            started,
        })?;
        me.set(id);
        // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
        unsafe { out.write(xasync_fiber { id }) };
        Ok(())
    })
}

/// Suspends `from`, the running member of its group (the caller), and runs
/// `to` — from its start, or where it last switched away — until something
/// switches back to `from` (or a fiber that `from` resumed returns).
///
/// Errors: handle errors; `XASYNC_ERR_INVALID_ARGUMENT`: `from` is not the
/// running member, the two are of different groups (or of another
/// thread's), `to` is `from`, or `to` has finished.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_fiber_resume_from(to: xasync_fiber, from: xasync_fiber) -> xasync_status {
    status("xasync_fiber_resume_from", || {
        let (shared, to_fiber) = owned(to.id)?;
        let (from_shared, from_fiber) = owned(from.id)?;
        let invalid = |message| Err(Error::new(XASYNC_ERR_INVALID_ARGUMENT, message));
        if !Rc::ptr_eq(&shared, &from_shared) {
            return invalid("`to` and `from` belong to different fiber groups");
        }
        if shared.running.get() != from.id {
            return invalid("`from` is not the running member of its group (the caller)");
        }
        if to.id == from.id {
            return invalid("a fiber cannot resume itself");
        }
        if to_fiber.is_finished() {
            return invalid("`to` has finished: its function returned");
        }
        let was_in_fiber = in_fiber();
        to_fiber.resume_from(&from_fiber);
        // Back on `from`: whoever switched here left it running.
        shared.running.set(from.id);
        IN_FIBER.with(|f| f.set(was_in_fiber));
        Ok(())
    })
}

/// Stores in `*out` whether the fiber's function has returned (always
/// false for a group's base).
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_fiber_is_finished(
    fiber: xasync_fiber,
    out: *mut bool,
) -> xasync_status {
    status("xasync_fiber_is_finished", || {
        non_null(out, "out")?;
        let (_, fiber) = owned(fiber.id)?;
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(fiber.is_finished()) };
        Ok(())
    })
}

/// Releases a member's handle. A fiber that has finished, or never ran,
/// is freed with its stack; a group's base handle may go at any time (the
/// group lives on while its fibers do).
///
/// Errors: handle errors; `XASYNC_ERR_BUSY`: the fiber is running or
/// suspended in the middle of its function (its stack holds C frames,
/// which cannot be unwound: resume it until its function returns).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_fiber_destroy(fiber: xasync_fiber) -> xasync_status {
    status("xasync_fiber_destroy", || {
        let member = FIBERS.remove_if(fiber.id, |member| {
            check_thread(member)?;
            let is_base = member.fiber.ptr_eq(member.shared.group.base());
            if !is_base && member.started.get() && !member.fiber.is_finished() {
                return Err(Error::new(
                    XASYNC_ERR_BUSY,
                    "the fiber is in the middle of its function: resume it until it returns",
                ));
            }
            Ok(())
        })?;
        drop(member);
        Ok(())
    })
}
