//! A hierarchical timing wheel over integer ticks.
//!
//! # Layout
//!
//! Read a tick as a number in base 64: digit `l` is bits `6l..6l + 6`. The
//! wheel has one **level** per digit, [`LEVELS`] in all, so that every `u64`
//! deadline has a place and nothing ever needs clamping. Level `l` has 64
//! **slots**, each `64^l` ticks wide; a slot of level `l` is named by
//! digit `l` of the ticks it covers. (The top level only uses 16 slots: a
//! `u64` has 4 bits left for its last digit.)
//!
//! Timers live in a slab, `entries`, reused through a free list; each slot is
//! a doubly linked list threaded through the slab by `u32` index. A bitmap
//! per level, `occupied`, has bit `s` set iff slot `s` is non-empty, so the
//! next non-empty slot is one `trailing_zeros` away instead of a walk over
//! ticks.
//!
//! # Invariants
//!
//! Between calls (`now` is [`TimerWheel::now`], `d` a pending deadline):
//!
//! 1. `d >= now`.
//! 2. A timer sits at the level `l` of the highest digit in which `d` and
//!    `now` differ (level 0 if `d == now`), in the slot named by digit `l`
//!    of `d`. So `d` agrees with `now` above digit `l` and is larger in
//!    digit `l` (or equal, at level 0): a level holds only slots after the
//!    one `now` is in, all of them inside the current slot of the level
//!    above, and every deadline at level `l` is smaller than every deadline
//!    at a level above `l`.
//! 3. `occupied[l]` bit `s` is set iff slot `s` of level `l` is non-empty.
//! 4. The list [`DUE`] is empty, unless a `fired` callback panicked during
//!    [`TimerWheel::advance`]: it then holds the rest of the slot being
//!    processed, which the next `advance` resumes.
//!
//! The start of the slot holding `d` is `d` with its digits below `l`
//! cleared, so it lies in `now..=d`. `advance` keeps invariant 2 by stopping
//! at the start of every non-empty slot on its way (lowest level first, which
//! by invariant 2 is the earliest) and **cascading** it: a timer whose
//! deadline is that tick fires, every other one is placed again relative to
//! the new `now`, which puts it at a strictly lower level. Between two such
//! stops no slot start is crossed, so no timer's level or slot changes
//! meaning. A timer fires only when `now` reaches its deadline exactly, never
//! early, and the stops come in increasing tick order, so timers fire in
//! deadline order. Each timer moves down at most [`LEVELS`]` - 1` times, and
//! an `advance` over empty time costs one bitmap test per level.

use alloc::vec::Vec;
use core::fmt;

/// Bits of a tick that one level resolves: 64 slots per level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels needed for one per base-64 digit of a `u64`: 11, for a horizon of
/// `u64::MAX` ticks (6 levels would give `2^36` ticks, 2.2 years at 1 ms and
/// barely a minute at 1 ns).
const LEVELS: usize = (u64::BITS).div_ceil(SLOT_BITS) as usize;
/// The list [`TimerWheel::advance`] fires and cascades from; it follows the
/// `LEVELS * SLOTS` slot lists in [`TimerWheel::heads`].
const DUE: usize = LEVELS * SLOTS;
/// "No entry" in a list link or list head.
const NIL: u32 = u32::MAX;

// `Entry::list` holds any list index.
const _: () = assert!(DUE <= u16::MAX as usize);

/// Timers ordered by deadline, in integer ticks: a hierarchical timing wheel.
///
/// [`insert`](Self::insert), [`remove`](Self::remove) and
/// [`reset`](Self::reset) take O(1) time (amortized for `insert`, which may
/// grow the slab; freed entries are reused, so a wheel in a steady state
/// does not allocate). [`advance`](Self::advance) costs a scan of 11
/// bitmaps, plus O(1) per timer it fires or moves down a level; a timer
/// moves down at most once per level in its life (at most 5 times for a
/// deadline less than `2^36` ticks away), however far `advance` jumps.
///
/// The wheel never reads a clock: its time is the tick it was last advanced
/// to ([`now`](Self::now)), and a host converts its [`Clock`](super::Clock)
/// into ticks.
///
/// # Example
///
/// ```
/// use xasync_core::time::TimerWheel;
///
/// let mut wheel = TimerWheel::new();
/// let tea = wheel.insert(180, "tea is ready");
/// let rice = wheel.insert(600, "rice is ready");
/// let egg = wheel.insert(420, "egg is ready");
///
/// // Nothing is due yet; a host would sleep until `next_deadline`.
/// assert!(wheel.next_deadline().unwrap() <= 180);
/// wheel.advance(179, |_, _| unreachable!());
///
/// // The egg is off the menu.
/// assert_eq!(wheel.remove(egg), Some("egg is ready"));
///
/// let mut fired = Vec::new();
/// wheel.advance(1_000, |key, msg| fired.push((key, msg)));
/// assert_eq!(fired, [(tea, "tea is ready"), (rice, "rice is ready")]);
/// assert_eq!(wheel.now(), 1_000);
/// assert!(wheel.is_empty());
///
/// // Keys of fired or removed timers are stale, forever.
/// assert_eq!(wheel.remove(tea), None);
/// ```
pub struct TimerWheel<T> {
    /// The tick the wheel has advanced to.
    now: u64,
    /// The slab. An entry is occupied iff its `value` is `Some`.
    entries: Vec<Entry<T>>,
    /// Head of the list of vacant entries, linked through `Entry::next`.
    free: u32,
    /// Number of occupied entries.
    len: usize,
    /// List heads: slot `s` of level `l` at `l * SLOTS + s`, then [`DUE`].
    heads: [u32; DUE + 1],
    /// Per level, bit `s` set iff slot `s` is non-empty (invariant 3).
    occupied: [u64; LEVELS],
}

/// A timer, or a vacant place for one, in the slab.
struct Entry<T> {
    /// The timer's value; `None` iff the entry is vacant.
    value: Option<T>,
    /// When the timer fires (`>= now` once placed, see invariant 1).
    deadline: u64,
    /// Bumped whenever the entry is vacated, so keys to earlier timers in it
    /// go stale. An entry whose generation reaches `u32::MAX` is never
    /// reused, so no `(index, generation)` pair is handed out twice.
    generation: u32,
    /// The list the timer is on (an index into `heads`).
    list: u16,
    /// Previous timer on the list, or [`NIL`].
    prev: u32,
    /// Next timer on the list, or [`NIL`]; for a vacant entry, the next
    /// vacant entry.
    next: u32,
}

/// Names a timer in one [`TimerWheel`]: a slab index plus a generation.
///
/// A key stays valid until its timer fires or is removed, and is then stale
/// forever: the generation makes sure it never names a later timer that
/// reuses the same entry. Using a key with a different wheel than the one
/// that returned it is memory-safe and never panics, but may name an
/// unrelated timer of that wheel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

impl<T> TimerWheel<T> {
    /// An empty wheel at tick 0. Does not allocate.
    pub const fn new() -> Self {
        TimerWheel {
            now: 0,
            entries: Vec::new(),
            free: NIL,
            len: 0,
            heads: [NIL; DUE + 1],
            occupied: [0; LEVELS],
        }
    }

    /// An empty wheel at tick 0 with room for `timers` timers before it
    /// allocates.
    pub fn with_capacity(timers: usize) -> Self {
        TimerWheel {
            entries: Vec::with_capacity(timers),
            ..Self::new()
        }
    }

    /// The tick the wheel has advanced to: the largest `now` ever passed to
    /// [`advance`](Self::advance), or 0.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer that fires `value` at tick `deadline`, and returns its
    /// key.
    ///
    /// A `deadline` at or before [`now`](Self::now) is stored as `now()`:
    /// the timer fires at the next [`advance`](Self::advance) (whose
    /// argument is at least `now()`), and [`deadline`](Self::deadline)
    /// reports `now()`.
    ///
    /// # Panics
    ///
    /// If the wheel already holds about `2^32` timers (its slab is indexed
    /// by `u32`).
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let index = if self.free == NIL {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("TimerWheel: too many timers");
            self.entries.push(Entry {
                value: None,
                deadline: 0,
                generation: 0,
                list: 0,
                prev: NIL,
                next: NIL,
            });
            index
        } else {
            let index = self.free;
            self.free = self.entries[index as usize].next;
            index
        };
        let entry = &mut self.entries[index as usize];
        entry.value = Some(value);
        let generation = entry.generation;
        self.len += 1;
        self.place(index, deadline);
        TimerKey { index, generation }
    }

    /// Removes a pending timer and returns its value, or `None` if `key` is
    /// stale (the timer fired or was removed) or was never issued.
    pub fn remove(&mut self, key: TimerKey) -> Option<T> {
        self.entry(key)?;
        self.unlink(key.index);
        Some(self.vacate(key.index))
    }

    /// The value of a pending timer, to change it in place (e.g. a new
    /// waker), or `None` if `key` is stale.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.entry(key)?;
        self.entries[key.index as usize].value.as_mut()
    }

    /// The deadline of a pending timer, or `None` if `key` is stale.
    ///
    /// This is the deadline the timer fires at: a deadline given in the past
    /// reads as the `now()` it was clamped to.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.entry(key).map(|entry| entry.deadline)
    }

    /// Moves a pending timer to a new `deadline` (earlier or later), keeping
    /// its key and its entry; returns `false`, changing nothing, if `key` is
    /// stale. A `deadline` at or before `now()` is clamped as in
    /// [`insert`](Self::insert).
    pub fn reset(&mut self, key: TimerKey, deadline: u64) -> bool {
        if self.entry(key).is_none() {
            return false;
        }
        self.unlink(key.index);
        self.place(key.index, deadline);
        true
    }

    /// A tick by which a host should call [`advance`](Self::advance) again:
    /// `None` if no timer is pending.
    ///
    /// Otherwise, with `e` the earliest pending deadline, it returns `d` with
    /// `now() <= d <= e`, so a host that sleeps until `d` is never late:
    ///
    /// * `d` is `e` with its base-64 digits below digit `k` cleared, where
    ///   `k` is the highest base-64 digit (6-bit group) in which `e` and
    ///   `now()` differ: the tick at which the wheel looks at `e`'s slot.
    /// * In particular `d == e` when `e / 64 == now() / 64`, i.e. `e` is at
    ///   the lowest level; e.g. `now() == 60` and `e == 62` give 62, but
    ///   `e == 70` gives 64.
    /// * After `advance(d)`, the next answer is strictly finer (a lower `k`),
    ///   so a host that wakes at every `d` wakes at most `k + 1` times up to
    ///   and including `e`: at most 4 times for a deadline less than
    ///   `64^3` ticks away (4.3 minutes at 1 ms per tick).
    ///
    /// The one exception: if a `fired` callback panicked out of `advance`,
    /// `d` is `now()` until the next `advance` finishes the interrupted work.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.heads[DUE] != NIL {
            return Some(self.now);
        }
        self.next_slot().map(|(_, start)| start)
    }

    /// Advances the wheel to tick `now`, handing every timer with a deadline
    /// `<= now` to `fired` (with its key, which is then stale) in
    /// non-decreasing deadline order; timers with equal deadlines come in
    /// unspecified order.
    ///
    /// Afterwards [`now`](Self::now) returns `now`, except that if `now` is
    /// smaller than `self.now()`, nothing fires and the wheel does not go
    /// back. The cost does not depend on how far `now` jumps (see the type's
    /// docs).
    ///
    /// If `fired` panics, the timers already handed over are gone and the
    /// others stay pending, with their keys valid: the wheel stays
    /// consistent, and the next call carries on.
    pub fn advance(&mut self, now: u64, mut fired: impl FnMut(TimerKey, T)) {
        if now < self.now {
            return;
        }
        loop {
            // Fire or cascade what was taken from the slot `self.now` reached.
            while self.heads[DUE] != NIL {
                let index = self.heads[DUE];
                self.unlink(index);
                let entry = &self.entries[index as usize];
                // `deadline >= self.now` by invariant 1.
                if entry.deadline == self.now {
                    let key = TimerKey {
                        index,
                        generation: entry.generation,
                    };
                    fired(key, self.vacate(index));
                } else {
                    self.place(index, entry.deadline);
                }
            }
            match self.next_slot() {
                Some((list, start)) if start <= now => {
                    self.now = start;
                    self.take_due(list);
                }
                _ => break,
            }
        }
        self.now = now;
    }

    /// The occupied entry `key` names, if any.
    fn entry(&self, key: TimerKey) -> Option<&Entry<T>> {
        self.entries
            .get(key.index as usize)
            .filter(|entry| entry.generation == key.generation && entry.value.is_some())
    }

    /// Puts an unlinked, occupied entry on the slot list for `deadline`
    /// (clamped to `now`) and records the deadline (invariants 1 and 2).
    fn place(&mut self, index: u32, deadline: u64) {
        let deadline = deadline.max(self.now);
        self.entries[index as usize].deadline = deadline;
        // The highest digit in which `deadline` and `now` differ; `| 1`
        // makes equal ticks land at level 0.
        let differing = (deadline ^ self.now) | 1;
        let level = ((u64::BITS - 1 - differing.leading_zeros()) / SLOT_BITS) as usize;
        let slot = digit(deadline, level);
        self.push(level * SLOTS + slot, index);
    }

    /// The first non-empty slot list (lowest level, lowest slot) and the tick
    /// at which it starts, or `None` if all slots are empty.
    fn next_slot(&self) -> Option<(usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        debug_assert!(
            slot > digit(self.now, level) || (level == 0 && slot == digit(self.now, 0)),
            "invariant 2: a slot at or before `now` is occupied"
        );
        // `now` with digits `0..=level` replaced by `slot, 0, .., 0`.
        let shift = level as u32 * SLOT_BITS;
        let width = shift + SLOT_BITS;
        let high = if width >= u64::BITS {
            0
        } else {
            self.now >> width << width
        };
        Some((level * SLOTS + slot, high | (slot as u64) << shift))
    }

    /// Moves every timer of slot list `list` to the empty [`DUE`] list.
    fn take_due(&mut self, list: usize) {
        debug_assert_eq!(self.heads[DUE], NIL);
        let head = core::mem::replace(&mut self.heads[list], NIL);
        self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        let mut index = head;
        while index != NIL {
            let entry = &mut self.entries[index as usize];
            entry.list = DUE as u16;
            index = entry.next;
        }
        self.heads[DUE] = head;
    }

    /// Pushes unlinked entry `index` on the front of list `list`.
    fn push(&mut self, list: usize, index: u32) {
        let head = self.heads[list];
        let entry = &mut self.entries[index as usize];
        entry.list = list as u16;
        entry.prev = NIL;
        entry.next = head;
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[list] = index;
        if list != DUE {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
    }

    /// Takes linked entry `index` off its list.
    fn unlink(&mut self, index: u32) {
        let Entry {
            list, prev, next, ..
        } = self.entries[index as usize];
        let list = list as usize;
        if prev == NIL {
            self.heads[list] = next;
            if next == NIL && list != DUE {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Vacates unlinked, occupied entry `index`, returning its value.
    fn vacate(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        let value = entry.value.take().expect("vacating a vacant entry");
        self.len -= 1;
        entry.generation += 1;
        // Retire the entry rather than let its generation wrap around.
        if entry.generation != u32::MAX {
            entry.next = self.free;
            self.free = index;
        }
        value
    }
}

/// Digit `level` (in base 64) of `tick`: its slot at that level.
fn digit(tick: u64, level: usize) -> usize {
    // `level < LEVELS`, so the shift is below 64.
    ((tick >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1)
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("now", &self.now)
            .field("len", &self.len)
            .field("timers", &Timers(&self.entries))
            .finish()
    }
}

/// Formats the occupied entries of a slab as a map from key to
/// `(deadline, value)`, in slab order.
struct Timers<'a, T>(&'a [Entry<T>]);

impl<T: fmt::Debug> fmt::Debug for Timers<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timers = self.0.iter().zip(0..).filter_map(|(entry, index)| {
            let key = TimerKey {
                index,
                generation: entry.generation,
            };
            Some((key, (entry.deadline, entry.value.as_ref()?)))
        });
        f.debug_map().entries(timers).finish()
    }
}

#[cfg(test)]
mod tests;
