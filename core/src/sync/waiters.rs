//! The waiter queue every primitive of [`sync`](super) is built on.
//!
//! A [`Waiters`] is a FIFO line of parked futures, each with its waker and a
//! small piece of per-primitive data `D` (a handed-over value, a permit
//! count, a "notified by `notify_one`" flag). It is a plain data structure:
//! each primitive keeps it inside its own [`SpinLock`] next to the state the
//! waiters wait for, so that "check the state, else join the line" and
//! "change the state, then notify" are each one critical section and no
//! wakeup can be lost between them.
//!
//! # Layout
//!
//! Slots live in a `Vec` (a slab) and are chained into doubly linked lists by
//! index, so joining and leaving are O(1) and, once the slab has grown to the
//! largest number of simultaneous waiters, allocation-free. Free slots form a
//! singly linked free list. A waiter is named by its [`Key`], the index of its
//! slot, which never moves.
//!
//! There are two lists: the *line* (waiters waiting to be notified, oldest
//! first) and the *waking list* (waiters that a [`notify_all`] moved out of
//! the line, whose wakers are still to be taken and woken in batches by
//! [`wake_all`]). Each list has a virtual sentinel node, named by a reserved
//! index ([`LINE`], [`WAKING`]), whose `next` is the list's first node and
//! whose `prev` is its last: a node can be unlinked without knowing which
//! list it is on, and moving the whole line to the waking list touches only
//! its two end nodes.
//!
//! # Ownership rules
//!
//! * Only the holder of a [`Key`] (the waiting future) frees its slot, with
//!   [`remove`](Waiters::remove); notifiers only unlink slots and mark them
//!   *notified*. So a key stays valid until its owner gives it back, and
//!   `Key` is deliberately neither `Copy` nor `Clone`.
//! * A slot is *notified* exactly when a notifier has unlinked it and taken
//!   its waker. A slot on the waking list still reads as not notified; the
//!   primitive's own state (a generation, a closed flag) tells its future
//!   that it may finish, and the waker follows shortly.
//! * Wakers are cloned, woken and dropped only with the lock released:
//!   [`poll_wait`] clones outside the lock (except a task's waker, whose
//!   clone runs no executor code), and every waker leaving the queue is
//!   handed back to the caller.
//!
//! Every waiting future polls through [`poll_wait`]: look at the state,
//! finish or stay in line.
//!
//! [`notify_all`]: Waiters::notify_all

use crate::spin::SpinLock;
use alloc::vec::Vec;
use core::mem::{self, MaybeUninit};
use core::task::{Poll, Waker};

/// Sentinel index of the line.
const LINE: usize = usize::MAX;
/// Sentinel index of the waking list.
const WAKING: usize = usize::MAX - 1;
/// End of the free list.
const NO_SLOT: usize = usize::MAX;

/// How many wakers a [`WakeList`] holds; batches of [`wake_all`] are this big.
const BATCH: usize = 16;

/// The place of one waiter in a [`Waiters`] queue; owned by the waiting
/// future, which must give it back with [`Waiters::remove`].
#[derive(Debug)]
pub(crate) struct Key(usize);

/// Where a slot is.
#[derive(Debug)]
enum Link {
    /// Unused; `next` continues the free list.
    Free { next: usize },
    /// On the line or on the waking list, between `prev` and `next`.
    Linked { prev: usize, next: usize },
    /// Unlinked by a notifier, which took its waker.
    Notified,
}

#[derive(Debug)]
struct Slot<D> {
    link: Link,
    waker: Option<Waker>,
    data: D,
}

/// What [`Waiters::remove`] gives back: everything that must be dropped or
/// acted upon once the lock is released.
#[derive(Debug)]
pub(crate) struct Removed<D> {
    /// The waiter's last waker, to drop after unlocking.
    pub(crate) waker: Option<Waker>,
    /// The waiter's data.
    pub(crate) data: D,
    /// Whether a notifier had unlinked the waiter.
    pub(crate) notified: bool,
}

/// A FIFO queue of waiting futures; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Waiters<D> {
    slots: Vec<Slot<D>>,
    free: usize,
    /// First and last node of the line (`LINE` when empty).
    line: (usize, usize),
    /// First and last node of the waking list (`WAKING` when empty).
    waking: (usize, usize),
}

impl<D: Default> Waiters<D> {
    /// An empty queue; allocates nothing.
    pub(crate) const fn new() -> Self {
        Waiters {
            slots: Vec::new(),
            free: NO_SLOT,
            line: (LINE, LINE),
            waking: (WAKING, WAKING),
        }
    }

    /// Whether nobody is waiting in line (the waking list does not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.line.0 == LINE
    }

    /// Joins the end of the line with `waker` (which may be absent for a
    /// waiter that registers before it is first polled) and `data`.
    pub(crate) fn push(&mut self, waker: Option<Waker>, data: D) -> Key {
        let last = self.line.1;
        let link = Link::Linked {
            prev: last,
            next: LINE,
        };
        let index = match self.free {
            NO_SLOT => {
                self.slots.push(Slot { link, waker, data });
                self.slots.len() - 1
            }
            index => {
                let slot = &mut self.slots[index];
                let Link::Free { next } = slot.link else {
                    unreachable!("free list points at a used slot")
                };
                self.free = next;
                *slot = Slot { link, waker, data };
                index
            }
        };
        assert!(index < WAKING, "too many waiters");
        self.set_next(last, index);
        self.line.1 = index;
        Key(index)
    }

    /// Whether the waiter `key` already holds a waker that wakes the same
    /// task as `waker`.
    fn wakes(&self, key: &Key, waker: &Waker) -> bool {
        self.slots[key.0]
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
    }

    /// Gives the waiter `key` a new waker; returns the old one, to drop
    /// after unlocking.
    fn replace_waker(&mut self, key: &Key, waker: Waker) -> Option<Waker> {
        self.slots[key.0].waker.replace(waker)
    }

    /// Leaves the queue: unlinks the waiter if it is still linked and frees
    /// its slot.
    pub(crate) fn remove(&mut self, key: Key) -> Removed<D> {
        let notified = matches!(self.slots[key.0].link, Link::Notified);
        if !notified {
            self.unlink(key.0);
        }
        let slot = &mut self.slots[key.0];
        let removed = Removed {
            waker: slot.waker.take(),
            data: mem::take(&mut slot.data),
            notified,
        };
        slot.link = Link::Free { next: self.free };
        self.free = key.0;
        removed
    }

    /// Whether a notifier has unlinked the waiter `key`.
    pub(crate) fn is_notified(&self, key: &Key) -> bool {
        matches!(self.slots[key.0].link, Link::Notified)
    }

    /// The data of the first waiter in line, if any.
    pub(crate) fn first_mut(&mut self) -> Option<&mut D> {
        match self.line.0 {
            LINE => None,
            first => Some(&mut self.slots[first].data),
        }
    }

    /// Notifies the first waiter in line: unlinks it and returns its waker,
    /// to wake after unlocking. Returns `None` if the line is empty or the
    /// waiter has no waker yet.
    pub(crate) fn notify_first(&mut self) -> Option<Waker> {
        let first = self.line.0;
        if first == LINE {
            return None;
        }
        self.unlink(first);
        let slot = &mut self.slots[first];
        slot.link = Link::Notified;
        slot.waker.take()
    }

    /// Moves the whole line to the waking list, in O(1). The caller must then
    /// call [`wake_all`] after unlocking.
    pub(crate) fn notify_all(&mut self) {
        let (first, last) = self.line;
        if first == LINE {
            return;
        }
        let tail = self.waking.1;
        self.set_next(tail, first);
        self.set_prev(first, tail);
        self.set_next(last, WAKING);
        self.waking.1 = last;
        self.line = (LINE, LINE);
    }

    /// Notifies waiters from the waking list until it is empty or `wakers`
    /// is full; returns whether some are left.
    fn take_waking(&mut self, wakers: &mut WakeList) -> bool {
        while !wakers.is_full() {
            let first = self.waking.0;
            if first == WAKING {
                return false;
            }
            self.unlink(first);
            let slot = &mut self.slots[first];
            slot.link = Link::Notified;
            wakers.push(slot.waker.take());
        }
        self.waking.0 != WAKING
    }

    fn unlink(&mut self, index: usize) {
        let Link::Linked { prev, next } = self.slots[index].link else {
            unreachable!("unlinking a slot that is not linked")
        };
        self.set_next(prev, next);
        self.set_prev(next, prev);
    }

    /// Sets the `next` of node `at` (a slot or a sentinel).
    fn set_next(&mut self, at: usize, to: usize) {
        match at {
            LINE => self.line.0 = to,
            WAKING => self.waking.0 = to,
            slot => match &mut self.slots[slot].link {
                Link::Linked { next, .. } => *next = to,
                _ => unreachable!("linking through an unlinked slot"),
            },
        }
    }

    /// Sets the `prev` of node `at` (a slot or a sentinel).
    fn set_prev(&mut self, at: usize, to: usize) {
        match at {
            LINE => self.line.1 = to,
            WAKING => self.waking.1 = to,
            slot => match &mut self.slots[slot].link {
                Link::Linked { prev, .. } => *prev = to,
                _ => unreachable!("linking through an unlinked slot"),
            },
        }
    }
}

/// One poll of a waiting future: the protocol every primitive shares.
///
/// With `lock` held, `look` decides from the state (and from the future's
/// `key`, taking it back when the future leaves the line) whether the
/// future finishes now: `Some(output)`. If not, the future must be in the
/// line of `waiters` with a waker for this task: joining computes the
/// waiter's data with `join` (which may update the state, e.g. take what
/// is available), and a waker that would wake another task is replaced.
/// Both need a clone of the waker, which must be made with the lock
/// released (cloning runs executor code): the poll then unlocks, clones,
/// and looks again, as the state may have changed meanwhile — unless it is
/// a waker of a [`task`](crate::task), whose clone is one atomic increment
/// and is made under the lock.
///
/// `ctx` is the part of the future that both `look` and `join` need. The
/// output is returned after unlocking, so it may carry what has to be
/// dropped without the lock (a removed waiter's waker).
///
/// Always inlined: each caller is its own instance anyway, and a call here
/// cost a channel round trip ~120 instructions (callgrind).
#[inline(always)]
pub(crate) fn poll_wait<S, D: Default, C, T>(
    lock: &SpinLock<S>,
    waiters: impl Fn(&mut S) -> &mut Waiters<D>,
    key: &mut Option<Key>,
    ctx: &mut C,
    waker: &Waker,
    mut look: impl FnMut(&mut S, &mut Option<Key>, &mut C) -> Option<T>,
    join: impl FnOnce(&mut S, &mut C) -> D,
) -> Poll<T> {
    let mut spare: Option<Waker> = None;
    loop {
        let mut state = lock.lock();
        if let Some(output) = look(&mut state, key, ctx) {
            drop(state);
            return Poll::Ready(output);
        }
        if let Some(k) = &*key
            && waiters(&mut state).wakes(k, waker)
        {
            drop(state);
            return Poll::Pending;
        }
        let new = match spare.take() {
            Some(new) => new,
            // A task's waker clones with one atomic increment: no need to
            // unlock and look again for it.
            None if crate::task::is_task_waker(waker) => waker.clone(),
            None => {
                drop(state);
                spare = Some(waker.clone());
                continue;
            }
        };
        let replaced = match &*key {
            Some(k) => waiters(&mut state).replace_waker(k, new),
            None => {
                let data = join(&mut state, ctx);
                *key = Some(waiters(&mut state).push(Some(new), data));
                None
            }
        };
        drop(state);
        drop(replaced);
        return Poll::Pending;
    }
}

/// Wakes everything that [`Waiters::notify_all`] moved to the waking list,
/// a batch at a time: each batch is taken with `lock` held and woken after
/// releasing it. Call without holding `lock`.
pub(crate) fn wake_all<S, D: Default>(
    lock: &SpinLock<S>,
    waiters: impl Fn(&mut S) -> &mut Waiters<D>,
) {
    let mut wakers = WakeList::new();
    loop {
        let mut state = lock.lock();
        let more = waiters(&mut state).take_waking(&mut wakers);
        drop(state);
        wakers.wake_all();
        if !more {
            return;
        }
    }
}

/// Wakers collected under a lock, to wake once it is released. Holds up to
/// a small fixed number, without allocating; wakes what is left when
/// dropped, so declare it *before* taking the lock (locals drop in reverse
/// order).
pub(crate) struct WakeList {
    /// `wakers[..len]` are initialized (no per-use initialization or
    /// drop of the whole array: a list is made for every operation).
    wakers: [MaybeUninit<Waker>; BATCH],
    len: usize,
}

impl WakeList {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        WakeList {
            wakers: [const { MaybeUninit::uninit() }; BATCH],
            len: 0,
        }
    }

    /// Whether another waker may not be pushed.
    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Adds a waker (ignoring `None`); the list must not be full.
    #[inline]
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            assert!(!self.is_full(), "WakeList overflow");
            self.wakers[self.len].write(waker);
            self.len += 1;
        }
    }

    /// Wakes and empties the list. Call with no lock held.
    #[inline]
    pub(crate) fn wake_all(&mut self) {
        let len = mem::take(&mut self.len);
        for slot in &self.wakers[..len] {
            // SAFETY: the first `len` slots were initialized by `push`;
            // `len` is already reset, so each is read exactly once.
            unsafe { slot.assume_init_read() }.wake();
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        self.wake_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use proptest::prelude::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn fifo_order_and_o1_removal_from_the_middle() {
        let mut w = Waiters::<u32>::new();
        let keys: Vec<Key> = (0..5).map(|i| w.push(None, i)).collect();
        assert_eq!(list(&w, LINE), [0, 1, 2, 3, 4]);
        let mut keys = keys.into_iter();
        let k0 = keys.next().unwrap();
        let k1 = keys.next().unwrap();
        let k2 = keys.next().unwrap();
        assert!(!w.remove(k2).notified);
        assert_eq!(list(&w, LINE), [0, 1, 3, 4]);
        assert!(w.notify_first().is_none());
        assert!(w.is_notified(&k0));
        assert!(!w.is_notified(&k1));
        assert_eq!(list(&w, LINE), [1, 3, 4]);
        let removed = w.remove(k0);
        assert!(removed.notified);
        assert_eq!(removed.data, 0);
        // Freed slots are reused: no growth in steady state.
        let before = w.slots.len();
        let k5 = w.push(None, 5);
        let k6 = w.push(None, 6);
        assert_eq!(w.slots.len(), before);
        assert_eq!(list(&w, LINE), [1, 3, 4, 5, 6]);
        for k in [k1, k5, k6].into_iter().chain(keys) {
            w.remove(k);
        }
        assert!(w.is_empty());
        assert_eq!(list(&w, LINE), []);
    }

    #[test]
    fn notify_all_moves_the_line_and_wakes_in_batches() {
        let (count, waker) = counter();
        let lock = SpinLock::new(Waiters::<u32>::new());
        let keys: Vec<Key> = {
            let mut w = lock.lock();
            (0..(BATCH as u32 * 2 + 3))
                .map(|i| w.push(Some(waker.clone()), i))
                .collect()
        };
        let mut w = lock.lock();
        w.notify_all();
        assert!(w.is_empty());
        // Joining after notify_all: not part of the broadcast.
        let late = w.push(Some(waker.clone()), 99);
        // Leaving the waking list before the broadcast reaches it.
        let mut keys = keys.into_iter();
        let gone = keys.next().unwrap();
        assert!(!w.remove(gone).notified);
        drop(w);
        wake_all(&lock, |w| w);
        assert_eq!(count.0.load(Ordering::SeqCst), BATCH * 2 + 2);
        let mut w = lock.lock();
        assert!(keys.all(|k| w.remove(k).notified));
        assert!(!w.is_notified(&late));
        assert_eq!(list(&w, LINE), [99]);
    }

    #[test]
    // Miri gives each use of a vtable its own address, so `will_wake` does
    // not recognize a clone there.
    #[cfg_attr(miri, ignore = "will_wake does not recognize clones under Miri")]
    fn poll_wait_joins_once_and_keeps_the_latest_waker() {
        let (_, a) = counter();
        let (_, b) = counter();
        let lock = SpinLock::new(Waiters::<u32>::new());
        let mut key = None;
        let mut joins = 0;
        let mut poll = |key: &mut Option<Key>, waker: &Waker, ready: bool| {
            poll_wait(
                &lock,
                |w| w,
                key,
                &mut joins,
                waker,
                |_, _, _| ready.then_some("done"),
                |_, joins| {
                    *joins += 1;
                    7
                },
            )
        };
        assert!(poll(&mut key, &a, false).is_pending());
        assert!(poll(&mut key, &a, false).is_pending());
        // Another task polls: its waker replaces the first.
        assert!(poll(&mut key, &b, false).is_pending());
        assert_eq!(poll(&mut key, &b, true), Poll::Ready("done"));
        assert_eq!(joins, 1, "joined the line once");
        let mut w = lock.lock();
        assert_eq!(w.first_mut(), Some(&mut 7));
        assert!(w.remove(key.unwrap()).waker.unwrap().will_wake(&b));
    }

    /// A list's data in order, from its sentinel, checking the back links.
    fn list(w: &Waiters<u32>, sentinel: usize) -> Vec<u32> {
        let ends = if sentinel == LINE { w.line } else { w.waking };
        let mut out = Vec::new();
        let (mut at, mut prev) = (ends.0, sentinel);
        while at != sentinel {
            let Link::Linked { prev: p, next } = w.slots[at].link else {
                panic!("unlinked slot on a list")
            };
            assert_eq!(p, prev);
            out.push(w.slots[at].data);
            (prev, at) = (at, next);
        }
        assert_eq!(ends.1, prev);
        out
    }

    /// Records which waiter each wake was for.
    struct Logged(u32, Arc<SpinLock<Vec<u32>>>);

    impl Wake for Logged {
        fn wake(self: Arc<Self>) {
            self.1.lock().push(self.0);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Remove(usize),
        NotifyFirst,
        NotifyAll,
        TakeWaking,
    }

    proptest! {
        // Miri runs each case some thousand times slower.
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

        /// The queue against a model of two ordered lists and a notified set.
        #[test]
        fn matches_a_model_of_two_lists(ops in prop::collection::vec(
            prop_oneof![
                4 => Just(Op::Push),
                2 => (0usize..64).prop_map(Op::Remove),
                2 => Just(Op::NotifyFirst),
                1 => Just(Op::NotifyAll),
                1 => Just(Op::TakeWaking),
            ],
            1..200,
        )) {
            let log = Arc::new(SpinLock::new(Vec::new()));
            let mut w = Waiters::<u32>::new();
            let mut keys: Vec<(u32, Key)> = Vec::new();
            let (mut line, mut waking) = (Vec::new(), Vec::new());
            let mut notified = alloc::collections::BTreeSet::new();
            let mut next = 0;
            let mut peak = 0;
            for op in ops {
                match op {
                    Op::Push => {
                        next += 1;
                        let waker = Waker::from(Arc::new(Logged(next, log.clone())));
                        keys.push((next, w.push(Some(waker), next)));
                        line.push(next);
                    }
                    Op::Remove(i) if !keys.is_empty() => {
                        let (id, key) = keys.swap_remove(i % keys.len());
                        let removed = w.remove(key);
                        assert_eq!(removed.data, id);
                        assert_eq!(removed.notified, notified.remove(&id));
                        line.retain(|&x| x != id);
                        waking.retain(|&x| x != id);
                    }
                    Op::NotifyFirst => {
                        let waker = w.notify_first();
                        assert_eq!(waker.is_some(), !line.is_empty());
                        if let Some(waker) = waker {
                            let id = line.remove(0);
                            notified.insert(id);
                            waker.wake();
                            assert_eq!(log.lock().pop(), Some(id));
                        }
                    }
                    Op::NotifyAll => {
                        w.notify_all();
                        waking.append(&mut line);
                    }
                    Op::TakeWaking => {
                        let mut wakers = WakeList::new();
                        let more = w.take_waking(&mut wakers);
                        let taken: Vec<u32> = waking.drain(..waking.len().min(BATCH)).collect();
                        assert_eq!(more, !waking.is_empty());
                        notified.extend(&taken);
                        wakers.wake_all();
                        assert_eq!(core::mem::take(&mut *log.lock()), taken);
                    }
                    Op::Remove(_) => {}
                }
                assert_eq!(list(&w, LINE), line);
                assert_eq!(list(&w, WAKING), waking);
                assert_eq!(w.is_empty(), line.is_empty());
                for (id, key) in &keys {
                    assert_eq!(w.is_notified(key), notified.contains(id));
                }
                peak = peak.max(keys.len());
                // Slots are reused: the slab never outgrows the peak.
                assert!(w.slots.len() <= peak);
            }
        }
    }
}
