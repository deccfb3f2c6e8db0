//! Stacks for coroutines: the [`Stack`] trait a host implements, and
//! [`HeapStack`], a portable stack carved from the global allocator, with
//! a canary instead of a guard page (so making one takes `unsafe`).
//!
//! The std crate adds mmap stacks with guards (for millions of coroutines,
//! in slabs) and a pool; a kernel supplies its own.

use alloc::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use core::fmt;
use core::marker::PhantomData;
use core::num::NonZeroUsize;
use core::ptr::NonNull;

/// The value an [`OverflowCheck::Canary`] word holds while the stack below it
/// has not overflowed ("XASYNC!!" in ASCII).
pub const STACK_CANARY: u64 = 0x2121_434e_5953_4158;

/// Smallest stack a coroutine accepts: room for its bookkeeping, its closure
/// and the first frames. Real code needs more; see each host's default.
pub const MIN_STACK_SIZE: usize = 4096;

/// How an overflow past a stack's [`limit`](Stack::limit) is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowCheck {
    /// A guard page below the limit makes any access past it fault; the host
    /// reports the fault (the std crate's signal handler does). Rust code
    /// probes every page of a frame larger than a page, so even such a frame
    /// faults in the guard rather than skipping past it.
    GuardPage,
    /// No hardware guard: the coroutine checks, on every suspension and on
    /// completion, that this word still holds [`STACK_CANARY`] and that its
    /// stack pointer is not between the word and the limit, and aborts with
    /// a report otherwise. The word lies below the limit, and the bytes from
    /// it up to the limit belong to the stack while outside its usable
    /// range: slack where an overflow lands in memory nobody else uses. The
    /// check comes after the overflowing writes: see [`HeapStack::new`].
    Canary(NonNull<u64>),
}

/// Memory a coroutine runs on.
///
/// # Safety
///
/// An implementor guarantees that, for as long as the value lives and is not
/// moved-from:
///
/// 1. the bytes in `limit()..top()` are readable, writable, not used by
///    anything else, and stay at the same address even if the value moves;
/// 2. `top()` is aligned to 16 bytes and `top() - limit()` is at least
///    [`MIN_STACK_SIZE`];
/// 3. the answer of `overflow_check()` is true: with `GuardPage`, an access
///    to the page below `limit()` faults; with `Canary(p)`, `p` lies below
///    `limit()`, the bytes from `p` up to `limit()` are readable, writable
///    and not used by anything else either (not even by another stack), and
///    `p` stays initialized to [`STACK_CANARY`] while the stack is unused;
/// 4. a `Canary` stack reaches safe code only through an `unsafe` step
///    whose caller vouches that the code run on it does not overflow it (as
///    [`HeapStack::new`] and [`HeapStackSize`] are): its check runs after
///    an overflow has written past the slack, while a guard page stops the
///    first access.
pub unsafe trait Stack {
    /// One past the highest usable byte (stacks grow down from here).
    fn top(&self) -> NonNull<u8>;

    /// The lowest usable byte.
    fn limit(&self) -> NonNull<u8>;

    /// How an overflow is detected.
    fn overflow_check(&self) -> OverflowCheck;

    /// Usable size in bytes.
    fn size(&self) -> usize {
        self.top().as_ptr() as usize - self.limit().as_ptr() as usize
    }
}

/// A stack made known to valgrind for as long as this value lives, when the
/// program runs under valgrind; dropping it forgets the stack.
///
/// Valgrind's memcheck follows every move of the stack pointer: a small
/// move down makes the bytes below addressable (a new frame), a small move
/// up makes them inaccessible (a frame popped), and only a move larger than
/// `--max-stackframe` (2 MB by default) is taken for a switch to another
/// stack, with a warning ("client switching stacks?"). Coroutine stacks can
/// lie much closer together than that: a switch between two of them would
/// be taken for a huge frame, and the memory in between, another stack's
/// live frames, marked inaccessible or uninitialised, so that memcheck
/// reports errors that are not there. A move from one registered stack to
/// another is a switch whatever its size.
///
/// Stack types register their memory when they make it (not when a
/// coroutine takes it, nor at each switch): [`HeapStack`] does, and so do
/// the std crate's mapped stacks. Natively registering costs a few no-op
/// instructions and gives `None`, and there is nothing to drop.
///
/// ```
/// use core::ptr::NonNull;
/// use xasync_core::stack::StackRegistration;
///
/// // A stack type's memory, registered for as long as it lives.
/// let mut memory = vec![0u8; 16 * 1024];
/// let range = memory.as_mut_ptr_range();
/// let registration =
///     StackRegistration::new(NonNull::new(range.start).unwrap(), NonNull::new(range.end).unwrap());
/// drop(registration);
/// ```
#[derive(Debug)]
pub struct StackRegistration {
    /// Valgrind's id for the stack: never 0, the id of the process's main
    /// stack, which valgrind registers itself before the program starts;
    /// 0 is also the answer natively.
    id: NonZeroUsize,
}

/// Valgrind's client request codes (`Vg_ClientRequest` in valgrind.h).
const VG_USERREQ_STACK_REGISTER: usize = 0x1501;
const VG_USERREQ_STACK_DEREGISTER: usize = 0x1502;

impl StackRegistration {
    /// Registers the memory from `start` up to `end` (exclusive) as a stack
    /// with valgrind. `None` when the program does not run under valgrind.
    pub fn new(start: NonNull<u8>, end: NonNull<u8>) -> Option<StackRegistration> {
        // Valgrind wants the highest byte of the stack, not one past it.
        let last = (end.as_ptr() as usize).wrapping_sub(1);
        let id = client_request(
            0,
            &[
                VG_USERREQ_STACK_REGISTER,
                start.as_ptr() as usize,
                last,
                0,
                0,
                0,
            ],
        );
        NonZeroUsize::new(id).map(|id| StackRegistration { id })
    }
}

impl Drop for StackRegistration {
    fn drop(&mut self) {
        client_request(0, &[VG_USERREQ_STACK_DEREGISTER, self.id.get(), 0, 0, 0, 0]);
    }
}

/// Whether the program runs under valgrind (valgrind.h's
/// `RUNNING_ON_VALGRIND`), for code that must work around what valgrind
/// does not model.
pub fn running_on_valgrind() -> bool {
    const VG_USERREQ_RUNNING_ON_VALGRIND: usize = 0x1001;
    client_request(0, &[VG_USERREQ_RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0
}

/// Makes a valgrind client request (see the arch modules); under Miri,
/// which cannot run inline assembly and is not valgrind, answers `default`.
#[inline(always)]
fn client_request(default: usize, args: &[usize; 6]) -> usize {
    if cfg!(miri) {
        default
    } else {
        crate::arch::client_request(default, args)
    }
}

/// A stack allocated from the global allocator, with a canary below it.
///
/// Portable (it serves kernels and tests) but without a guard page: an
/// overflow is detected at the next suspension instead of at the faulting
/// access, and one that reaches further than [`HEAP_STACK_SLACK`] bytes
/// below the limit first writes into memory the allocator gave to others.
/// So making one takes `unsafe` (see [`new`](Self::new)); on Linux the std
/// crate's pooled stacks all have guards.
///
/// ```
/// use xasync_core::stack::{HeapStack, Stack};
/// // SAFETY: nothing runs on it.
/// let stack = unsafe { HeapStack::new(16 * 1024) };
/// assert!(stack.size() >= 16 * 1024);
/// ```
#[derive(Debug)]
pub struct HeapStack {
    base: NonNull<u8>,
    layout: Layout,
    /// The whole allocation, slack included, registered with valgrind.
    registration: Option<StackRegistration>,
}

/// Bytes a [`HeapStack`] keeps below its limit, its canary at their
/// bottom: an overflow of up to that much lands in memory nobody else uses,
/// and is reported if the coroutine suspends there or goes further.
pub const HEAP_STACK_SLACK: usize = 4096;

impl HeapStack {
    /// Allocates a stack with at least `size` usable bytes (rounded up to 16
    /// and to at least [`MIN_STACK_SIZE`]).
    ///
    /// # Safety
    ///
    /// The code run on the stack must not overflow it. Nothing faults at
    /// the limit: the canary and stack-pointer check of
    /// [`OverflowCheck::Canary`] runs only when the coroutine suspends or
    /// finishes, so an overflow of more than [`HEAP_STACK_SLACK`] bytes (or
    /// a large frame that skips past the canary and returns before the next
    /// check) overwrites other allocations first, or goes unnoticed. The
    /// caller vouches for the depth of the code: bounded and known, as in
    /// tests or a kernel's own tasks.
    pub unsafe fn new(size: usize) -> Self {
        let size = size.max(MIN_STACK_SIZE).next_multiple_of(16);
        let layout =
            Layout::from_size_align(HEAP_STACK_SLACK + size, 16).expect("stack size overflows");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the canary opens the slack, at the allocation's start.
        unsafe { base.cast::<u64>().write(STACK_CANARY) };
        // SAFETY: one past the end of the allocation.
        let end = unsafe { base.add(layout.size()) };
        HeapStack {
            base,
            layout,
            registration: StackRegistration::new(base, end),
        }
    }
}

// SAFETY: the allocation is owned, 16-aligned, at least MIN_STACK_SIZE long
// above the slack, which starts with the canary written at construction.
unsafe impl Stack for HeapStack {
    fn top(&self) -> NonNull<u8> {
        // SAFETY: one past the end of the allocation.
        unsafe { self.base.add(self.layout.size()) }
    }

    fn limit(&self) -> NonNull<u8> {
        // SAFETY: inside the allocation.
        unsafe { self.base.add(HEAP_STACK_SLACK) }
    }

    fn overflow_check(&self) -> OverflowCheck {
        OverflowCheck::Canary(self.base.cast())
    }
}

impl Drop for HeapStack {
    fn drop(&mut self) {
        // Forget the stack before its memory can become something else.
        drop(self.registration.take());
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) }
    }
}

/// Vouches for the code a host runs on heap stacks, so that
/// [`DefaultHeapStack`]s of [`SIZE`](Self::SIZE) bytes can be made by
/// `Default`, as [`Stackful`](crate::task::stackful::Stackful) tasks and
/// [`Platform::Stack`](crate::executor::Platform::Stack) need.
///
/// ```
/// use xasync_core::stack::{DefaultHeapStack, HeapStackSize, Stack};
///
/// struct Small;
/// // SAFETY: the code run on these stacks is this example's, which
/// // uses a few hundred bytes of stack.
/// unsafe impl HeapStackSize for Small {
///     const SIZE: usize = 16 * 1024;
/// }
/// let stack = DefaultHeapStack::<Small>::default();
/// assert!(stack.size() >= 16 * 1024);
/// ```
///
/// # Safety
///
/// What [`HeapStack::new`] requires, for every stack a
/// `DefaultHeapStack<Self>` makes: the code run on it does not overflow
/// `SIZE` bytes.
pub unsafe trait HeapStackSize: 'static {
    /// Usable bytes of each stack.
    const SIZE: usize;
}

/// A [`HeapStack`] of `Z::SIZE` usable bytes made by `Default`: the stack
/// type of hosts without guard pages (kernels without an MMU) and of tests,
/// whose `unsafe impl` of [`HeapStackSize`] vouches for the code run on it.
pub struct DefaultHeapStack<Z: HeapStackSize> {
    stack: HeapStack,
    _size: PhantomData<fn() -> Z>,
}

impl<Z: HeapStackSize> Default for DefaultHeapStack<Z> {
    fn default() -> Self {
        DefaultHeapStack {
            // SAFETY: `Z`'s implementation vouches for the code run on it.
            stack: unsafe { HeapStack::new(Z::SIZE) },
            _size: PhantomData,
        }
    }
}

// SAFETY: forwarded to the HeapStack it owns.
unsafe impl<Z: HeapStackSize> Stack for DefaultHeapStack<Z> {
    fn top(&self) -> NonNull<u8> {
        self.stack.top()
    }

    fn limit(&self) -> NonNull<u8> {
        self.stack.limit()
    }

    fn overflow_check(&self) -> OverflowCheck {
        self.stack.overflow_check()
    }
}

impl<Z: HeapStackSize> fmt::Debug for DefaultHeapStack<Z> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DefaultHeapStack")
            .field(&self.stack)
            .finish()
    }
}

// SAFETY: HeapStack owns plain memory; nothing ties it to a thread.
unsafe impl Send for HeapStack {}

// SAFETY: a `Box<S>` owns `S`, whose memory does not move with the box.
unsafe impl<S: Stack + ?Sized> Stack for alloc::boxed::Box<S> {
    fn top(&self) -> NonNull<u8> {
        (**self).top()
    }
    fn limit(&self) -> NonNull<u8> {
        (**self).limit()
    }
    fn overflow_check(&self) -> OverflowCheck {
        (**self).overflow_check()
    }
}

pub use crate::context::report_overflow;

/// The name of the coroutine that runs on the stack whose top is `top`, as
/// recorded in the header the coroutine keeps there. For overflow handlers.
///
/// # Safety
///
/// `top` must be the [`Stack::top`] of a stack that a coroutine of this crate
/// runs on right now, and the name's string must not be freed meanwhile
/// (true while that coroutine runs).
pub unsafe fn running_coroutine_name<'a>(top: NonNull<u8>) -> Option<&'a str> {
    let header = crate::context::StackHeader::at(top);
    // SAFETY: the caller guarantees a live coroutine wrote the header, and
    // that its name outlives the returned borrow.
    unsafe { header.as_ref().name().map(|name| &*(name as *const str)) }
}
