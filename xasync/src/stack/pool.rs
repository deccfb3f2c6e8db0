//! A per-thread cache of stacks, guarded or slab, by policy.

use super::guarded::{GuardedStack, live_guarded_stacks};
use super::slab::{Slab, Slot};
use crate::sys::memory::max_map_count;
use crate::sys::overflow::ensure_alternate_stack;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use xasync_core::stack::{OverflowCheck, Stack};

/// Default usable stack size: 64 KiB.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Default number of free stacks a pool keeps: 16,384, about as many
/// guarded stacks as the default `vm.max_map_count` allows
/// ([`GuardPolicy::default`]). Workloads whose live coroutine count swings
/// by thousands then reuse stacks instead of mapping and unmapping them.
pub const DEFAULT_STACK_CACHE: usize = 16 * 1024;

/// Whether stacks get a guard page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardPolicy {
    /// Every stack has a guard page; allocation fails at the kernel's
    /// mapping limit (about 32,000 stacks at the default `vm.max_map_count`).
    Always,
    /// No stack has one: slabs of canary-checked stacks, for the most
    /// coroutines per byte and per mapping.
    Never,
    /// Guard pages while fewer than this many guarded stacks are alive in the
    /// process, slab stacks beyond (or when a mapping fails).
    UpTo(usize),
}

impl Default for GuardPolicy {
    /// `UpTo(vm.max_map_count / 4)`: half of the mapping budget for guarded
    /// stacks (each costs two), the rest for everything else.
    fn default() -> Self {
        GuardPolicy::UpTo(max_map_count() / 4)
    }
}

/// How a [`StackPool`] makes stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// Usable bytes per stack (rounded up to whole pages).
    pub size: usize,
    /// Guard pages or slabs.
    pub guard: GuardPolicy,
    /// Free stacks kept for reuse; beyond this, freed memory is returned to
    /// the system. A cached stack keeps the pages its last coroutine
    /// touched (usually one); a stack made anew costs system calls (a
    /// guarded one `mmap`, `mprotect` and later `munmap`, each taking the
    /// process's memory-map lock that page faults on other workers wait
    /// for) and a page fault.
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
    guarded: RefCell<Guarded>,
    slabs: RefCell<Slabs>,
}

/// The guarded stacks a pool owns, in use or cached. Stacks stay in place
/// and are handed out by index, so taking and returning one moves 4 bytes.
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
}

#[derive(Default)]
struct Slabs {
    slabs: Vec<Option<Slab>>,
    /// Slabs that may have free slots, most recently refilled last; entries
    /// go stale when a slab fills up or is released and are skipped.
    partial: Vec<usize>,
    /// Positions in `slabs` left by released slabs.
    vacant: Vec<usize>,
    /// Free slots over all slabs.
    free: usize,
}

impl StackPool {
    /// Creates an empty pool.
    pub fn new(config: StackConfig) -> StackPool {
        ensure_alternate_stack();
        StackPool {
            inner: Rc::new(PoolInner {
                config,
                guarded: RefCell::new(Guarded::default()),
                slabs: RefCell::new(Slabs::default()),
            }),
        }
    }

    /// The calling thread's pool: the one [`install`](Self::install)ed on
    /// it (a runtime worker's), or else one with the default configuration.
    pub fn current() -> StackPool {
        CURRENT.with(|current| {
            current
                .get_or_init(|| StackPool::new(StackConfig::default()))
                .clone()
        })
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
    /// When the kernel refuses memory for a new stack.
    #[inline]
    pub fn get(&self) -> io::Result<PooledStack> {
        let config = &self.inner.config;
        let guarded = match config.guard {
            GuardPolicy::Always => true,
            GuardPolicy::Never => false,
            GuardPolicy::UpTo(max) => live_guarded_stacks() < max,
        };
        if guarded {
            match self.inner.guarded.borrow_mut().take(config.size) {
                Ok((index, stack)) => {
                    return Ok(PooledStack {
                        pool: self.inner.clone(),
                        top: stack.top(),
                        limit: stack.limit(),
                        check: OverflowCheck::GuardPage,
                        origin: Origin::Guarded(index),
                    });
                }
                Err(e) if config.guard == GuardPolicy::Always => return Err(e),
                Err(_) => {} // the mapping limit: fall back to a slab
            }
        }
        let (slab, index, slot) = self.inner.slabs.borrow_mut().take(config.size)?;
        Ok(PooledStack {
            pool: self.inner.clone(),
            top: slot.top,
            limit: slot.limit,
            check: OverflowCheck::Canary(slot.canary),
            origin: Origin::Slot(slab, index),
        })
    }

    /// Free stacks cached: (guarded, slab slots).
    pub fn cached(&self) -> (usize, usize) {
        (
            self.inner.guarded.borrow().free.len(),
            self.inner.slabs.borrow().free,
        )
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
            .field("cached", &self.cached())
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
        let mut slab = Slab::new(size)?;
        let (index, slot) = slab.take().expect("a new slab has free slots");
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
    top: NonNull<u8>,
    limit: NonNull<u8>,
    check: OverflowCheck,
    origin: Origin,
}

/// Where a pooled stack comes from.
#[derive(Clone, Copy, Debug)]
enum Origin {
    /// Index in the pool's guarded stacks.
    Guarded(u32),
    /// Slab and slot index.
    Slot(u32, u32),
}

impl PooledStack {
    /// A stack from the calling thread's default pool.
    ///
    /// # Panics
    ///
    /// When the system is out of memory for stacks.
    pub fn new() -> PooledStack {
        StackPool::current()
            .get()
            .expect("out of memory for coroutine stacks")
    }

    /// Whether the stack has a guard page (rather than a canary).
    pub fn is_guarded(&self) -> bool {
        matches!(self.origin, Origin::Guarded(_))
    }
}

impl Default for PooledStack {
    fn default() -> Self {
        PooledStack::new()
    }
}

// SAFETY: both kinds uphold the contract: a guarded stack by itself, a slot
// as laid out by `Slab` (owned until given back, 16-aligned top, the canary
// written by `Slab::take`).
unsafe impl Stack for PooledStack {
    #[inline]
    fn top(&self) -> NonNull<u8> {
        self.top
    }

    #[inline]
    fn limit(&self) -> NonNull<u8> {
        self.limit
    }

    #[inline]
    fn overflow_check(&self) -> OverflowCheck {
        self.check
    }
}

impl Drop for PooledStack {
    #[inline]
    fn drop(&mut self) {
        let pool = &self.pool;
        match self.origin {
            Origin::Guarded(index) => pool
                .guarded
                .borrow_mut()
                .give_back(index, pool.config.cache),
            Origin::Slot(slab, index) => {
                pool.slabs
                    .borrow_mut()
                    .give_back(slab, index, pool.config.cache)
            }
        }
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
