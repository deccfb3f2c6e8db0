//! Stack-overflow reporting for guarded stacks.
//!
//! Every mapping of guarded stacks (a slab of them, or a single stack) is
//! recorded in a registry that a `SIGSEGV`/`SIGBUS` handler can search
//! without locks or allocation: one entry per mapping, from which the
//! handler computes the faulting slot. A fault inside a guard prints the
//! overflowing coroutine's name and aborts; any other fault goes to the
//! handler that was installed before ours (normally Rust's own, which
//! reports thread stack overflows and otherwise re-raises the fault).

use super::signals;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Registry entries per chunk.
const CHUNK: usize = 1024;

/// One mapping of equal slots, each a guard of `guard` bytes at its bottom
/// and a stack above it up to the slot's end: `lo == 0` marks a free entry.
#[derive(Debug)]
struct Entry {
    lo: AtomicUsize,
    hi: AtomicUsize,
    stride: AtomicUsize,
    guard: AtomicUsize,
}

struct Chunk {
    entries: [Entry; CHUNK],
    next: AtomicPtr<Chunk>,
}

/// Head of the chunk list. Chunks are only ever added, never freed, so the
/// signal handler can walk them at any time.
static CHUNKS: AtomicPtr<Chunk> = AtomicPtr::new(ptr::null_mut());

/// Free entries (and the right to add chunks), for writers only.
static FREE: Mutex<Vec<&'static Entry>> = Mutex::new(Vec::new());

/// A registered mapping of guarded stacks; unregisters on drop.
#[derive(Debug)]
pub(crate) struct GuardRegistration(&'static Entry);

/// Records that the `len` bytes at `base` hold slots of `stride` bytes, each
/// with a guard of `guard` bytes at its bottom and the stack of a coroutine
/// above it, and makes sure the fault handler is installed.
pub(crate) fn register(
    base: NonNull<u8>,
    len: usize,
    stride: usize,
    guard: usize,
) -> GuardRegistration {
    debug_assert!(len.is_multiple_of(stride) && guard < stride);
    install_handler();
    let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
    if free.is_empty() {
        // Zeroed in place on the heap: built on the stack first, the 32 KiB
        // chunk would overflow a coroutine's (mapping a guarded stack from
        // a coroutine, in a debug build).
        let layout = std::alloc::Layout::new::<Chunk>();
        // SAFETY: `Chunk` is not zero-sized.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Chunk>();
        if raw.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: all zeros is a valid `Chunk` (free entries, `lo == 0`, and
        // a null `next`); leaked, like every chunk.
        let chunk: &'static Chunk = unsafe { &*raw };
        chunk
            .next
            .store(CHUNKS.load(Ordering::Acquire), Ordering::Relaxed);
        CHUNKS.store(ptr::from_ref(chunk).cast_mut(), Ordering::Release);
        free.extend(chunk.entries.iter().rev());
    }
    let entry = free.pop().expect("a fresh chunk has free entries");
    let lo = base.as_ptr() as usize;
    entry.hi.store(lo + len, Ordering::Relaxed);
    entry.stride.store(stride, Ordering::Relaxed);
    entry.guard.store(guard, Ordering::Relaxed);
    entry.lo.store(lo, Ordering::Release);
    GuardRegistration(entry)
}

impl Drop for GuardRegistration {
    fn drop(&mut self) {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        self.0.lo.store(0, Ordering::Release);
        free.push(self.0);
    }
}

/// The top of the stack whose guard contains `addr`, if any. Lock-free: one
/// look per registered mapping, then a division.
fn find(addr: usize) -> Option<usize> {
    let mut chunk = CHUNKS.load(Ordering::Acquire);
    // SAFETY: chunks are leaked, never freed.
    while let Some(c) = unsafe { chunk.as_ref() } {
        for entry in &c.entries {
            let lo = entry.lo.load(Ordering::Acquire);
            if lo != 0 && lo <= addr && addr < entry.hi.load(Ordering::Relaxed) {
                let stride = entry.stride.load(Ordering::Relaxed);
                let slot = lo + (addr - lo) / stride * stride;
                let in_guard = addr - slot < entry.guard.load(Ordering::Relaxed);
                return in_guard.then_some(slot + stride);
            }
        }
        chunk = c.next.load(Ordering::Acquire);
    }
    None
}

/// The handlers that were installed before ours, for `SIGSEGV` and `SIGBUS`.
static PREVIOUS: [AtomicPtr<libc::sigaction>; 2] = [
    AtomicPtr::new(ptr::null_mut()),
    AtomicPtr::new(ptr::null_mut()),
];

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (slot, &signal) in PREVIOUS.iter().zip(&SIGNALS) {
            // SAFETY: `handler` is async-signal-safe and takes three
            // arguments.
            unsafe {
                signals::install(
                    signal,
                    handler as *const () as usize,
                    libc::SA_SIGINFO | libc::SA_ONSTACK,
                    Some(slot),
                );
            }
        }
    });
    ensure_alternate_stack();
}

/// Size of the alternate signal stack we give threads that have none.
const ALT_STACK_SIZE: usize = 64 * 1024;

thread_local! {
    /// The alternate signal stack this thread got from us, freed at exit.
    static ALT_STACK: AltStack = const { AltStack(Cell::new(None)) };
}

struct AltStack(Cell<Option<NonNull<u8>>>);

impl Drop for AltStack {
    fn drop(&mut self) {
        if let Some(stack) = self.0.take() {
            // SAFETY: disable the alternate stack before freeing it.
            unsafe {
                let disable = libc::stack_t {
                    ss_sp: ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: ALT_STACK_SIZE,
                };
                libc::sigaltstack(&disable, ptr::null_mut());
                super::memory::unmap(stack, ALT_STACK_SIZE);
            }
        }
    }
}

/// Makes sure the calling thread has an alternate signal stack, so that the
/// handler can run when the fault is an exhausted stack. Rust gives one to
/// the threads it creates; threads made elsewhere get ours.
pub(crate) fn ensure_alternate_stack() {
    let _ = ALT_STACK.try_with(|mine| {
        if mine.0.get().is_some() {
            return;
        }
        // SAFETY: querying the current alternate stack.
        let mut current: libc::stack_t = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: as above.
        if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0 {
            return;
        }
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let Ok(stack) = super::memory::map(ALT_STACK_SIZE) else {
            return;
        };
        let new = libc::stack_t {
            ss_sp: stack.as_ptr().cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `stack` is a fresh mapping we keep until thread exit.
        if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } == 0 {
            mine.0.set(Some(stack));
        } else {
            // SAFETY: not installed, so unused.
            unsafe { super::memory::unmap(stack, ALT_STACK_SIZE) };
        }
    });
}

/// Writes to standard error without locks or allocation.
fn write_stderr(bytes: &[u8]) {
    // SAFETY: write(2) on fd 2 with a valid buffer.
    let _ = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(top) = find(addr) {
        // SAFETY: the faulting thread was running a coroutine on the stack
        // above this guard; its header (and name) are intact, since the
        // overflow hit the guard below.
        let name = unsafe {
            xasync_core::stack::running_coroutine_name(NonNull::new_unchecked(top as *mut u8))
        };
        xasync_core::stack::report_overflow(name, &mut write_stderr);
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    chain(signal, info, context);
}

/// Passes a fault that is not ours to the previously installed handler.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = SIGNALS.iter().position(|&s| s == signal).unwrap_or(0);
    // SAFETY: called from our handler of that signal, with its arguments.
    if !unsafe { signals::forward(&PREVIOUS[index], signal, info, context) } {
        // Restore the default action and return: the faulting instruction
        // runs again and the fault now terminates the process as usual.
        // SAFETY: installing SIG_DFL is always valid.
        unsafe { signals::install(signal, libc::SIG_DFL, 0, None) };
    }
}
