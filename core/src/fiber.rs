//! Symmetric coroutines: any fiber of a [`Group`] switches directly to any
//! other, as in the seed's `count_coro.resumeFrom(&base_coro)`.
//!
//! A group starts with one member, its *base*: the context that created it
//! (a thread, or a coroutine). [`Group::spawn`] adds fibers, each with its
//! own stack. `to.resume_from(&from)` suspends `from` — which must be the
//! group's running member — and continues `to` where it last suspended.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use xasync_core::fiber::Group;
//! use xasync_core::stack::HeapStack;
//!
//! let group = Group::new();
//! let count = Rc::new(Cell::new(1));
//! let (base, c) = (group.base().clone(), count.clone());
//! // SAFETY: the fiber uses a few hundred bytes of its 32 KiB.
//! let stack = unsafe { HeapStack::new(32 * 1024) };
//! let counter = group.spawn(stack, move |me| {
//!     c.set(c.get() + 1);
//!     base.resume_from(me);
//!     c.set(c.get() + 1);
//!     base.resume_from(me);
//! });
//! counter.resume_from(group.base());
//! assert_eq!(count.get(), 2);
//! counter.resume_from(group.base());
//! assert_eq!(count.get(), 3);
//! ```
//!
//! # Rules
//!
//! * When a fiber's function returns, control goes to the member that last
//!   switched to it — or to the base, if that member has finished since. A
//!   panic is caught there and re-raised by that member's `resume_from`.
//! * When the last handle ([`Fiber`] clones; the `&Fiber` a fiber receives
//!   does not count) of a suspended fiber is dropped, the fiber is unwound
//!   on the spot, running the destructors on its stack (with the `std`
//!   feature; without it the stack is leaked).
//! * Switching while a fiber is being unwound, switching across groups, and
//!   resuming a running or finished fiber panic.
//! * Fibers are `!Send`: a group lives on one thread.

use crate::arch;
use crate::context::{Prepared, StackHeader, prepare};
use crate::stack::Stack;
use crate::unwind::{self, Payload};
use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::Cell;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Spawned, never run.
    Created,
    /// Switched away from; holds a saved stack pointer.
    Suspended,
    /// The group's running member.
    Running,
    /// Its function returned, panicked or was unwound.
    Finished,
}

/// What a switch hands to the member it switches to.
enum Signal {
    /// Continue.
    Resume,
    /// Unwind your stack: your last handle was dropped.
    Unwind,
    /// The fiber that ran until now finished; `fiber` is its own reference,
    /// released by the receiver once off that fiber's stack.
    Finished {
        fiber: Rc<Member>,
        panic: Option<Payload>,
    },
}

/// State shared by a group's members.
struct Shared {
    /// The running member: the base (kept alive by `base`) or a running
    /// fiber (kept alive by its own frame).
    current: Cell<*const Member>,
    /// The base, where a fiber finishes into when its resumer is gone. Held
    /// until no fiber and no base handle is left (see `dissolve_if_unused`).
    base: Cell<Option<Rc<Member>>>,
    /// Fibers whose `Member` is alive.
    fibers: Cell<usize>,
    /// How many forced unwinds are in progress.
    unwinding: Cell<usize>,
}

impl Shared {
    /// Breaks the `base` ↔ `Shared` reference cycle once nothing can use
    /// the group anymore.
    fn dissolve_if_unused(&self) {
        let base = self.base.take();
        let unused = self.fibers.get() == 0 && base.as_ref().is_some_and(|b| b.handles.get() == 0);
        if !unused {
            self.base.set(base);
        }
    }

    /// The base, if it is suspended.
    fn suspended_base(&self) -> Option<Rc<Member>> {
        let base = self.base.take();
        let suspended = base.clone().filter(|b| b.status.get() == Status::Suspended);
        self.base.set(base);
        suspended
    }

    /// A strong reference to the running member.
    fn current(&self) -> Rc<Member> {
        let current = self.current.get();
        // SAFETY: `current` always comes from `Rc::as_ptr` of a member that
        // is alive while it runs; we add the reference we hand out.
        unsafe {
            Rc::increment_strong_count(current);
            Rc::from_raw(current)
        }
    }
}

/// One member of a group: the base or a fiber.
struct Member {
    shared: Rc<Shared>,
    /// Saved stack pointer while suspended (or the initial frame).
    sp: Cell<*mut u8>,
    status: Cell<Status>,
    /// The member that last switched to this one: where it returns to.
    last_from: Cell<Option<Rc<Member>>>,
    /// Counted handles alive; at zero a suspended fiber is unwound.
    handles: Cell<usize>,
    /// Set when asked to unwind.
    unwinding: Cell<bool>,
    /// The fiber's stack; `None` for the base and once released.
    stack: Cell<Option<Box<dyn Stack>>>,
    header: Option<NonNull<StackHeader>>,
}

impl Member {
    /// Handles what a switch back to this member brought.
    fn woken(&self, signal: Signal) {
        match signal {
            Signal::Resume => {}
            Signal::Unwind => {
                self.unwinding.set(true);
                unwind::force()
            }
            Signal::Finished { fiber, panic } => {
                fiber.release_if_unowned();
                drop(fiber);
                if let Some(payload) = panic {
                    unwind::resume(payload)
                }
            }
        }
    }

    /// Frees the stack of a finished fiber nobody holds a handle to.
    fn release_if_unowned(&self) {
        if self.handles.get() == 0 && self.status.get() == Status::Finished {
            drop(self.stack.take());
        }
    }
}

/// Switches from the running member `from` to the suspended `to`, handing
/// it `signal`; returns what the next switch back to `from` hands over.
///
/// # Safety
///
/// `from` must be the group's current member and run on the current stack;
/// `to` must be suspended or created, in the same group.
unsafe fn transfer(from: &Member, to: &Member, signal: Signal) -> Signal {
    // Only a fiber ever returns to its resumer (the base never finishes);
    // recording it for the base would also tie the base to the fiber in a
    // reference cycle that nothing breaks.
    if to.header.is_some() {
        to.last_from.set(Some(from.shared.current()));
    }
    from.status.set(Status::Suspended);
    to.status.set(Status::Running);
    from.shared.current.set(to);
    if let Some(header) = from.header {
        // SAFETY: `from` runs on its own stack, whose header this is; `to`
        // is suspended at its saved stack pointer.
        unsafe { header.as_ref().check(to.sp.get()) };
    }
    let signal = ManuallyDrop::new(signal);
    // SAFETY: `to` holds a saved (or initial) stack pointer that nothing else
    // will resume; it reads `signal` once and answers the same way.
    unsafe {
        let reply = arch::switch(
            ptr::addr_of!(signal) as usize,
            from.sp.as_ptr(),
            to.sp.get(),
        );
        ptr::read(reply as *const Signal)
    }
}

/// A set of fibers that switch among themselves.
///
/// See the [module documentation](self).
pub struct Group {
    base: Fiber,
}

impl Group {
    /// Creates a group whose base is the calling context.
    pub fn new() -> Self {
        let shared = Rc::new(Shared {
            current: Cell::new(ptr::null()),
            base: Cell::new(None),
            fibers: Cell::new(0),
            unwinding: Cell::new(0),
        });
        let base = Rc::new(Member {
            shared: shared.clone(),
            sp: Cell::new(ptr::null_mut()),
            status: Cell::new(Status::Running),
            last_from: Cell::new(None),
            handles: Cell::new(1),
            unwinding: Cell::new(false),
            stack: Cell::new(None),
            header: None,
        });
        shared.current.set(Rc::as_ptr(&base));
        shared.base.set(Some(base.clone()));
        Group {
            base: Fiber {
                member: base,
                counted: true,
            },
        }
    }

    /// The member that created the group.
    pub fn base(&self) -> &Fiber {
        &self.base
    }

    /// Adds a fiber that will run `f` on `stack` when first resumed. `f`
    /// receives the fiber's own handle, to pass as `from` when it switches.
    ///
    /// # Panics
    ///
    /// If `f` does not fit on `stack`.
    pub fn spawn<S, F>(&self, stack: S, f: F) -> Fiber
    where
        S: Stack + 'static,
        F: FnOnce(&Fiber) + 'static,
    {
        let stack: Box<dyn Stack> = Box::new(stack);
        let shared = &self.base.member.shared;
        shared.fibers.set(shared.fibers.get() + 1);
        let member = Rc::new(Member {
            shared: shared.clone(),
            sp: Cell::new(ptr::null_mut()),
            status: Cell::new(Status::Created),
            last_from: Cell::new(None),
            handles: Cell::new(1),
            unwinding: Cell::new(false),
            stack: Cell::new(None),
            header: None,
        });
        let start = FiberStart {
            me: member.clone(),
            function: ManuallyDrop::new(f),
        };
        // SAFETY: the stack is fresh; `fiber_entry::<F>` reads a FiberStart<F>.
        let Prepared { header, sp, .. } =
            unsafe { prepare(&*stack, start, fiber_entry::<F>, arch::init_stack) };
        member.sp.set(sp.as_ptr());
        // SAFETY: nobody else has seen `member` yet; the header pointer is
        // written once, before any switch reads it.
        unsafe {
            let raw = Rc::as_ptr(&member).cast_mut();
            (*raw).header = Some(header);
        }
        member.stack.set(Some(stack));
        Fiber {
            member,
            counted: true,
        }
    }
}

impl Default for Group {
    fn default() -> Self {
        Group::new()
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

/// A handle to a member of a [`Group`]. Clones count as owners; see the
/// [module documentation](self) for what dropping the last one does.
pub struct Fiber {
    member: Rc<Member>,
    /// False for the `&Fiber` a fiber's own function receives.
    counted: bool,
}

impl Fiber {
    /// Suspends `from`, the group's running member, and runs `self` until
    /// something switches back to `from`.
    ///
    /// # Panics
    ///
    /// If `from` is not the running member of `self`'s group, if `self` is
    /// running or finished, during a forced unwind, or to re-raise the panic
    /// of a fiber that finished by panicking right after `from` resumed it.
    pub fn resume_from(&self, from: &Fiber) {
        let (to, from) = (&*self.member, &*from.member);
        let shared = &*to.shared;
        assert!(
            Rc::ptr_eq(&to.shared, &from.shared),
            "resume_from: the fibers belong to different groups"
        );
        assert!(
            ptr::eq(shared.current.get(), from),
            "resume_from: `from` is not the running member of its group"
        );
        assert_eq!(
            shared.unwinding.get(),
            0,
            "resume_from: cannot switch while a fiber is being unwound"
        );
        match to.status.get() {
            Status::Created | Status::Suspended => {}
            Status::Running => panic!("resume_from: a fiber cannot resume itself"),
            Status::Finished => panic!("resume_from: the fiber has finished"),
        }
        // SAFETY: checked above: `from` runs, `to` is suspended, same group.
        let signal = unsafe { transfer(from, to, Signal::Resume) };
        from.woken(signal);
    }

    /// Whether the fiber's function has returned, panicked or been unwound.
    pub fn is_finished(&self) -> bool {
        self.member.status.get() == Status::Finished
    }

    /// Whether two handles refer to the same member.
    pub fn ptr_eq(&self, other: &Fiber) -> bool {
        Rc::ptr_eq(&self.member, &other.member)
    }
}

impl Clone for Fiber {
    fn clone(&self) -> Self {
        let handles = &self.member.handles;
        handles.set(handles.get() + 1);
        Fiber {
            member: self.member.clone(),
            counted: true,
        }
    }
}

impl Drop for Fiber {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let member = &*self.member;
        member.handles.set(member.handles.get() - 1);
        if member.handles.get() > 0 {
            return;
        }
        if member.header.is_none() {
            // The base: it only needs unwinding if it is suspended, and it
            // cannot be (a suspended base is borrowed by its `resume_from`).
            member.shared.dissolve_if_unused();
            return;
        }
        match member.status.get() {
            Status::Finished => member.release_if_unowned(),
            // A running fiber is released by whoever it finishes into.
            Status::Running => {}
            Status::Suspended if !unwind::CAN_UNWIND => {
                // Leak: the destructors on its stack cannot run.
                core::mem::forget(member.stack.take());
            }
            Status::Created | Status::Suspended => {
                let shared = &*member.shared;
                shared.unwinding.set(shared.unwinding.get() + 1);
                // SAFETY: the dropping code runs as the group's current
                // member (only it runs); `member` is suspended or fresh.
                let signal = unsafe {
                    let current = &*shared.current.get();
                    transfer(current, member, Signal::Unwind)
                };
                shared.unwinding.set(shared.unwinding.get() - 1);
                // SAFETY: as above, the current member is the one running.
                unsafe { &*shared.current.get() }.woken(signal);
            }
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.header.is_some() {
            let shared = &*self.shared;
            shared.fibers.set(shared.fibers.get() - 1);
            shared.dissolve_if_unused();
        }
    }
}

impl fmt::Debug for Fiber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fiber")
            .field("status", &self.member.status.get())
            .finish_non_exhaustive()
    }
}

/// What `prepare` places at the top of a fiber's stack.
struct FiberStart<F> {
    me: Rc<Member>,
    function: ManuallyDrop<F>,
}

/// First function on a fiber's stack.
///
/// # Safety
///
/// `arg` points to a `Signal` and `data` to the `FiberStart<F>` written by
/// [`Group::spawn`].
unsafe extern "C" fn fiber_entry<F: FnOnce(&Fiber)>(arg: usize, data: *mut u8) -> ! {
    // SAFETY: see the contract; each is moved out exactly once.
    let (me, function, signal) = unsafe {
        let start = data.cast::<FiberStart<F>>();
        let me = ptr::read(ptr::addr_of!((*start).me));
        let function = ManuallyDrop::take(&mut (*start).function);
        (me, function, ptr::read(arg as *const Signal))
    };
    let handle = ManuallyDrop::new(Fiber {
        member: me,
        counted: false,
    });
    let panic = match signal {
        Signal::Resume => match unwind::catch(|| function(&handle)) {
            Ok(()) => None,
            Err(payload) if handle.member.unwinding.get() && unwind::is_forced(&payload) => None,
            Err(payload) => Some(payload),
        },
        Signal::Unwind => unwind::catch(move || drop(function)).err(),
        Signal::Finished { .. } => unreachable!("a fresh fiber received a finish signal"),
    };
    // SAFETY: moved out once; `handle` is never used again.
    let me = unsafe { ptr::read(&handle.member) };
    me.status.set(Status::Finished);
    let to = me
        .last_from
        .take()
        .filter(|member| member.status.get() == Status::Suspended)
        .or_else(|| me.shared.suspended_base())
        .expect("a finished fiber has no suspended member to return to");
    // A suspended member is kept alive by its own suspended frame (a fiber)
    // or by `Shared::base`, so the pointer stays valid without our reference,
    // which would leak if it stayed on this stack.
    let to_ptr = Rc::as_ptr(&to);
    drop(to);
    // SAFETY: see above.
    let to = unsafe { &*to_ptr };
    to.status.set(Status::Running);
    me.shared.current.set(to);
    if let Some(header) = me.header {
        // SAFETY: our own stack's header; `to` is suspended.
        unsafe { header.as_ref().check(to.sp.get()) };
    }
    let sp = me.sp.as_ptr();
    let signal = ManuallyDrop::new(Signal::Finished { fiber: me, panic });
    // SAFETY: `to` is suspended at its saved stack pointer; it takes the
    // signal (and with it our last reference) and never switches back.
    unsafe { arch::switch(ptr::addr_of!(signal) as usize, sp, to.sp.get()) };
    unreachable!("a finished fiber was resumed")
}
