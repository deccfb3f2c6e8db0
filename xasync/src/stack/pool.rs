//! A per-thread cache of stacks, guarded or slab, by policy.

use super::guarded::{GuardedStack, live_guarded_stacks};
use super::slab::{Slab, Slot};
use crate::sys::memory::{guard_regions, max_map_count};
use crate::sys::overflow::ensure_alternate_stack;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use xasync_core::stack::{OverflowCheck, Stack};

/// Default usable stack size: 64 KiB.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Most stacks a pool keeps in its ready list (see [`PoolInner::ready`]).
const READY: usize = 64;

/// Default number of free stacks a pool keeps: 16,384. Workloads whose live
/// coroutine count swings by thousands then reuse stacks instead of mapping
/// and unmapping them.
pub const DEFAULT_STACK_CACHE: usize = 16 * 1024;

/// Which stacks get a guard, and what a pool does when it cannot give one.
///
/// By default every stack has a guard below it, so an overflow faults at
/// once and is reported with the coroutine's name. Where the kernel makes
/// guard regions (Linux 6.13+, `MADV_GUARD_INSTALL`), stacks come in slabs
/// of hundreds per mapping, each with a guard region, with no limit but
/// memory. Elsewhere each stack needs mappings of its own (two, out of the
/// process's `vm.max_map_count`), so at most
/// [`max_mapped`](Self::guarded) of them may be alive in the process, and
/// a pool fails to give more, with an error naming the sysctl, unless the
/// program opted into unguarded stacks past that point
/// ([`unguarded_beyond`](Self::unguarded_beyond), `unsafe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Most stacks with mappings of their own alive in the process.
    max_mapped: usize,
    unguarded: Unguarded,
}

/// When a pool hands out stacks without a guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unguarded {
    /// Never: it fails instead.
    Never,
    /// When no guarded stack can be had.
    Beyond,
    /// Always.
    Always,
}

impl GuardPolicy {
    /// Every stack has a guard; without kernel guard regions at most
    /// `max_mapped` stacks (each in mappings of its own) may be alive in the
    /// process, and a pool fails past that.
    pub fn guarded(max_mapped: usize) -> Self {
        GuardPolicy {
            max_mapped,
            unguarded: Unguarded::Never,
        }
    }

    /// This policy, but where it would fail for want of a guarded stack
    /// (without kernel guard regions: past `max_mapped`, or when the
    /// kernel refuses a mapping), the pool hands out slab stacks checked by
    /// a canary instead: hundreds per mapping, for any number of
    /// coroutines at default kernel limits.
    ///
    /// # Safety
    ///
    /// The code run on the pool's stacks must not overflow them: an
    /// unguarded stack's canary is checked only when its coroutine suspends
    /// or finishes, after an overflow has written into the stack below it,
    /// another coroutine's (see [`HeapStack::new`](super::HeapStack::new)).
    pub unsafe fn unguarded_beyond(self) -> Self {
        GuardPolicy {
            unguarded: Unguarded::Beyond,
            ..self
        }
    }

    /// No stack has a guard: slabs of canary-checked stacks only.
    ///
    /// # Safety
    ///
    /// As for [`unguarded_beyond`](Self::unguarded_beyond).
    pub unsafe fn unguarded() -> Self {
        GuardPolicy {
            max_mapped: 0,
            unguarded: Unguarded::Always,
        }
    }
}

impl Default for GuardPolicy {
    /// Guarded, with at most `vm.max_map_count / 4` stacks in mappings of
    /// their own: half of the mapping budget (each costs two), the rest for
    /// everything else.
    fn default() -> Self {
        GuardPolicy::guarded(max_map_count() / 4)
    }
}

/// How a [`StackPool`] makes stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// Usable bytes per stack (rounded up to whole pages).
    pub size: usize,
    /// Guards, and what happens when none can be had.
    pub guard: GuardPolicy,
    /// Free stacks kept for reuse; beyond this, freed memory is returned to
    /// the system. A cached stack keeps the pages its last coroutine
    /// touched (usually one); a stack made anew costs system calls (for a
    /// slab of hundreds, `mmap` and the guards' `process_madvise`; for a
    /// stack in its own mapping `mmap`, `mprotect` and later `munmap`; each
    /// takes the process's memory-map lock that page faults on other
    /// workers wait for) and a page fault.
    pub cache: usize,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            size: DEFAULT_STACK_SIZE,
            guard: GuardPolicy::default(),
            cache: DEFAULT_STACK_CACHE,
        }
    }
}

/// Where a pool's stacks come from, decided when it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Slabs with a guard region per stack.
    GuardedSlabs,
    /// A mapping per stack, up to `max` alive in the process; then canary
    /// slabs if `beyond`, else an error.
    Mapped { max: usize, beyond: bool },
    /// Slabs with a canary per stack.
    CanarySlabs,
}

impl Source {
    fn of(policy: GuardPolicy) -> Source {
        match policy.unguarded {
            Unguarded::Always => Source::CanarySlabs,
            _ if guard_regions() => Source::GuardedSlabs,
            unguarded => Source::Mapped {
                max: policy.max_mapped,
                beyond: unguarded == Unguarded::Beyond,
            },
        }
    }
}

/// Stacks a pool has handed out, and keeps for reuse, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackCounts {
    /// Stacks in use that have a guard below them.
    pub guarded: usize,
    /// Stacks in use that only have a canary (see [`GuardPolicy`]).
    pub unguarded: usize,
    /// Of the guarded stacks in use, those in mappings of their own
    /// ([`GuardedStack`]s, on kernels without guard regions).
    pub mapped: usize,
    /// Free stacks kept for reuse.
    pub cached: usize,
}

/// The error of a pool that cannot give a guarded stack.
fn no_guarded_stack(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "no guarded coroutine stack: {why}. Without kernel guard regions \
             (MADV_GUARD_INSTALL, Linux 6.13+) each guarded stack takes two of \
             the process's memory mappings, which the sysctl `vm.max_map_count` \
             ({}) limits: raise it, or let stacks go unguarded past this point \
             (the unsafe `Builder::unguarded_stacks`, `GuardPolicy::unguarded_beyond`)",
            max_map_count()
        ),
    )
}

/// A cache of stacks for the coroutines of one thread.
///
/// Taking a stack from the pool is a vector pop; dropping a
/// [`PooledStack`] gives it back. Pools are `!Send`: each worker thread
/// owns one, so stacks never bounce between threads.
///
/// ```
/// use xasync::stack::{StackConfig, StackPool};
/// use xasync_core::stack::Stack;
/// let pool = StackPool::new(StackConfig { size: 32 * 1024, ..StackConfig::default() });
/// let stack = pool.get().unwrap();
/// assert!(stack.size() >= 32 * 1024);
/// ```
#[derive(Clone)]
pub struct StackPool {
    inner: Rc<PoolInner>,
}

struct PoolInner {
    config: StackConfig,
    source: Source,
    /// The stacks given back last (last on top, its pages warm), ready to
    /// be handed out again as they are: taking or returning one of them is
    /// a pop or a push, without the bookkeeping of where it came from. At
    /// most `ready_max`, and only stacks of the kind the pool prefers (not
    /// the canary slab stacks of a [`Source::Mapped`] pool, which must give
    /// way to guarded stacks while these can be had).
    ready: RefCell<Vec<Lease>>,
    ready_max: usize,
    guarded: RefCell<Guarded>,
    slabs: RefCell<Slabs>,
}

/// The stacks in mappings of their own that a pool owns, in use or cached.
/// Stacks stay in place and are handed out by index, so taking and
/// returning one moves 4 bytes.
#[derive(Default)]
struct Guarded {
    stacks: Vec<Option<GuardedStack>>,
    /// Cached (free) stacks, last-freed on top.
    free: Vec<u32>,
    /// Positions in `stacks` left by unmapped stacks.
    vacant: Vec<u32>,
}

impl Guarded {
    /// A cached stack, or a new one.
    #[inline]
    fn take(&mut self, size: usize) -> io::Result<(u32, &GuardedStack)> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let stack = Some(GuardedStack::new(size)?);
                match self.vacant.pop() {
                    Some(index) => {
                        self.stacks[index as usize] = stack;
                        index
                    }
                    None => {
                        self.stacks.push(stack);
                        (self.stacks.len() - 1) as u32
                    }
                }
            }
        };
        let stack = self.stacks[index as usize]
            .as_ref()
            .expect("a live guarded stack");
        Ok((index, stack))
    }

    /// Caches a stack, or unmaps it if `cache` stacks are cached already.
    #[inline]
    fn give_back(&mut self, index: u32, cache: usize) {
        if self.free.len() < cache {
            self.free.push(index);
        } else {
            self.stacks[index as usize] = None;
            self.vacant.push(index);
        }
    }

    /// Whether a stack is cached.
    fn has_free(&self) -> bool {
        !self.free.is_empty()
    }

    /// Stacks in use.
    fn in_use(&self) -> usize {
        self.stacks.len() - self.vacant.len() - self.free.len()
    }
}

/// The slabs a pool owns, all guarded or all unguarded.
struct Slabs {
    guarded: bool,
    slabs: Vec<Option<Slab>>,
    /// Slabs that may have free slots, most recently refilled last; entries
    /// go stale when a slab fills up or is released and are skipped.
    partial: Vec<usize>,
    /// Positions in `slabs` left by released slabs.
    vacant: Vec<usize>,
    /// Slots over all slabs.
    slots: usize,
    /// Free slots over all slabs.
    free: usize,
}

impl StackPool {
    /// Creates an empty pool.
    pub fn new(config: StackConfig) -> StackPool {
        ensure_alternate_stack();
        let source = Source::of(config.guard);
        let ready_max = READY.min(config.cache);
        StackPool {
            inner: Rc::new(PoolInner {
                config,
                source,
                ready: RefCell::new(Vec::with_capacity(ready_max)),
                ready_max,
                guarded: RefCell::new(Guarded::default()),
                slabs: RefCell::new(Slabs {
                    guarded: source == Source::GuardedSlabs,
                    slabs: Vec::new(),
                    partial: Vec::new(),
                    vacant: Vec::new(),
                    slots: 0,
                    free: 0,
                }),
            }),
        }
    }

    /// The calling thread's pool: the one [`install`](Self::install)ed on
    /// it (a runtime worker's), or else one with the default configuration.
    pub fn current() -> StackPool {
        StackPool::with_current(StackPool::clone)
    }

    /// Calls `f` with the calling thread's [`current`](Self::current) pool.
    fn with_current<R>(f: impl FnOnce(&StackPool) -> R) -> R {
        CURRENT.with(|current| f(current.get_or_init(|| StackPool::new(StackConfig::default()))))
    }

    /// Makes this pool the calling thread's [`current`](Self::current) one,
    /// unless the thread already has one. Returns whether it was installed.
    pub fn install(&self) -> bool {
        CURRENT.with(|current| current.set(self.clone()).is_ok())
    }

    /// The pool's configuration.
    pub fn config(&self) -> &StackConfig {
        &self.inner.config
    }

    /// Takes a stack from the cache, or makes one.
    ///
    /// # Errors
    ///
    /// When the kernel refuses memory for a new stack, or, on a kernel
    /// without guard regions, when the policy's budget of guarded stacks is
    /// spent and it does not allow unguarded ones (the error names
    /// `vm.max_map_count`).
    #[inline]
    pub fn get(&self) -> io::Result<PooledStack> {
        let ready = self.inner.ready.borrow_mut().pop();
        let lease = match ready {
            Some(lease) => lease,
            None => self.inner.lease()?,
        };
        Ok(PooledStack {
            pool: self.inner.clone(),
            lease,
        })
    }

    /// The stacks this pool has handed out and keeps cached.
    pub fn counts(&self) -> StackCounts {
        let ready = self.inner.ready.borrow();
        let guarded = self.inner.guarded.borrow();
        let slabs = self.inner.slabs.borrow();
        let ready_mapped = ready
            .iter()
            .filter(|lease| matches!(lease.origin, Origin::Mapped(_)))
            .count();
        let mapped = guarded.in_use() - ready_mapped;
        let slots = slabs.slots - slabs.free - (ready.len() - ready_mapped);
        let (guarded_slots, unguarded) = if slabs.guarded {
            (slots, 0)
        } else {
            (0, slots)
        };
        StackCounts {
            guarded: mapped + guarded_slots,
            unguarded,
            mapped,
            cached: guarded.free.len() + slabs.free + ready.len(),
        }
    }
}

impl PoolInner {
    /// A stack from the cache behind the ready list, or a new one, by the
    /// pool's policy.
    #[inline(never)]
    fn lease(&self) -> io::Result<Lease> {
        let config = &self.config;
        if let Source::Mapped { max, beyond } = self.source {
            let mut guarded = self.guarded.borrow_mut();
            // A cached stack is alive already: it adds nothing to the count.
            if guarded.has_free() || live_guarded_stacks() < max {
                match guarded.take(config.size) {
                    Ok((index, stack)) => {
                        return Ok(Lease {
                            top: stack.top(),
                            limit: stack.limit(),
                            check: OverflowCheck::GuardPage,
                            origin: Origin::Mapped(index),
                        });
                    }
                    Err(e) if !beyond => {
                        return Err(no_guarded_stack(&format!("mapping one failed ({e})")));
                    }
                    Err(_) => {} // unguarded stacks are allowed
                }
            } else if !beyond {
                return Err(no_guarded_stack(&format!(
                    "{max} stacks in mappings of their own are alive, the policy's most"
                )));
            }
        }
        let (slab, index, slot) = self.slabs.borrow_mut().take(config.size)?;
        Ok(Lease {
            top: slot.top,
            limit: slot.limit,
            check: slot.check,
            origin: Origin::Slot(slab, index),
        })
    }

    /// Takes back a stack: into the ready list if it has room and the stack
    /// belongs there, else to where it came from.
    #[inline]
    fn give_back(&self, lease: &Lease) {
        let mut ready = self.ready.borrow_mut();
        let fits = match lease.origin {
            Origin::Mapped(_) => true,
            Origin::Slot(..) => !matches!(self.source, Source::Mapped { .. }),
        };
        if fits && ready.len() < self.ready_max {
            ready.push(*lease);
        } else {
            drop(ready);
            self.give_back_behind(lease.origin);
        }
    }

    /// Returns a stack to where it came from, which keeps what the ready
    /// list leaves of the cache.
    #[inline(never)]
    fn give_back_behind(&self, origin: Origin) {
        let cache = self.config.cache - self.ready_max;
        match origin {
            Origin::Mapped(index) => self.guarded.borrow_mut().give_back(index, cache),
            Origin::Slot(slab, index) => self.slabs.borrow_mut().give_back(slab, index, cache),
        }
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // Slabs must have all their slots back before they are dropped.
        for lease in std::mem::take(self.ready.get_mut()) {
            self.give_back_behind(lease.origin);
        }
    }
}

thread_local! {
    /// The thread's pool, for stacks taken without naming a pool.
    static CURRENT: std::cell::OnceCell<StackPool> = const { std::cell::OnceCell::new() };
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("config", &self.inner.config)
            .field("counts", &self.counts())
            .finish()
    }
}

impl Slabs {
    /// Takes a free slot, mapping a new slab if none is left. O(1) amortized.
    fn take(&mut self, size: usize) -> io::Result<(u32, u32, Slot)> {
        while let Some(&i) = self.partial.last() {
            if let Some((index, slot)) = self.slabs[i].as_mut().and_then(Slab::take) {
                self.free -= 1;
                return Ok((i as u32, index, slot));
            }
            self.partial.pop();
        }
        let mut slab = Slab::new(size, self.guarded)?;
        let (index, slot) = slab.take().expect("a new slab has free slots");
        self.slots += slab.slots();
        self.free += slab.free_slots();
        let i = match self.vacant.pop() {
            Some(i) => {
                self.slabs[i] = Some(slab);
                i
            }
            None => {
                self.slabs.push(Some(slab));
                self.slabs.len() - 1
            }
        };
        self.partial.push(i);
        Ok((i as u32, index, slot))
    }

    /// Returns a slot; releases its slab if it is now unused and enough
    /// other free slots are cached.
    fn give_back(&mut self, i: u32, index: u32, cache: usize) {
        let i = i as usize;
        let slab = self.slabs[i].as_mut().expect("a slot's slab outlives it");
        let was_full = !slab.has_free();
        slab.give_back(index);
        self.free += 1;
        if slab.is_unused() && self.free - slab.free_slots() >= cache {
            self.slots -= slab.slots();
            self.free -= slab.free_slots();
            self.slabs[i] = None;
            self.vacant.push(i);
        } else if was_full {
            self.partial.push(i);
        }
    }
}

/// A stack from a [`StackPool`]; dropping it returns it to the pool.
pub struct PooledStack {
    pool: Rc<PoolInner>,
    lease: Lease,
}

/// Where a stack a pool hands out lies, and where it comes from.
#[derive(Clone, Copy)]
struct Lease {
    top: NonNull<u8>,
    limit: NonNull<u8>,
    check: OverflowCheck,
    origin: Origin,
}

/// Where a pooled stack comes from.
#[derive(Clone, Copy, Debug)]
enum Origin {
    /// Index in the pool's stacks in mappings of their own.
    Mapped(u32),
    /// Slab and slot index.
    Slot(u32, u32),
}

impl PooledStack {
    /// A stack from the calling thread's pool.
    ///
    /// # Panics
    ///
    /// When the pool cannot give one (see [`StackPool::get`]).
    pub fn new() -> PooledStack {
        StackPool::with_current(StackPool::get).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Whether the stack has a guard below it (rather than a canary).
    pub fn is_guarded(&self) -> bool {
        self.lease.check == OverflowCheck::GuardPage
    }
}

impl Default for PooledStack {
    fn default() -> Self {
        PooledStack::new()
    }
}

// SAFETY: both kinds uphold the contract: a guarded stack by itself, a slot
// as laid out by `Slab` (owned until given back, 16-aligned top, a guard
// region or the canary written by `Slab::take` in the page below).
unsafe impl Stack for PooledStack {
    #[inline]
    fn top(&self) -> NonNull<u8> {
        self.lease.top
    }

    #[inline]
    fn limit(&self) -> NonNull<u8> {
        self.lease.limit
    }

    #[inline]
    fn overflow_check(&self) -> OverflowCheck {
        self.lease.check
    }
}

impl Drop for PooledStack {
    #[inline]
    fn drop(&mut self) {
        self.pool.give_back(&self.lease);
    }
}

impl fmt::Debug for PooledStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStack")
            .field("guarded", &self.is_guarded())
            .field("size", &self.size())
            .finish()
    }
}
