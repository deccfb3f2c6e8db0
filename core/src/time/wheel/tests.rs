//! Edge cases of the timing wheel, with its invariants checked after each
//! step. The randomized model test is `core/tests/time_wheel_model.rs`.

extern crate std;

use super::*;
use alloc::format;
use alloc::vec;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The digit in which `deadline` and `now` first differ from the top, or 0:
/// where invariant 2 wants the timer, computed independently of `place`.
fn expected_level(now: u64, deadline: u64) -> usize {
    (0..LEVELS)
        .rev()
        .find(|&level| digit(now, level) != digit(deadline, level))
        .unwrap_or(0)
}

/// Asserts the module's invariants 1 to 4 (with [`DUE`] empty) and the
/// slab's bookkeeping.
fn check<T>(wheel: &TimerWheel<T>) {
    let mut linked = 0;
    for list in 0..DUE {
        let (level, slot) = (list / SLOTS, list % SLOTS);
        let mut prev = NIL;
        let mut index = wheel.heads[list];
        assert_eq!(
            index != NIL,
            wheel.occupied[level] & (1 << slot) != 0,
            "bitmap of level {level} slot {slot}"
        );
        while index != NIL {
            let entry = &wheel.entries[index as usize];
            assert!(entry.value.is_some(), "a vacant entry on a slot list");
            assert_eq!(entry.list as usize, list);
            assert_eq!(entry.prev, prev);
            assert!(entry.deadline >= wheel.now, "invariant 1");
            assert_eq!(level, expected_level(wheel.now, entry.deadline));
            assert_eq!(slot, digit(entry.deadline, level));
            linked += 1;
            prev = index;
            index = entry.next;
        }
    }
    assert_eq!(wheel.heads[DUE], NIL);
    assert_eq!(linked, wheel.len);
    let occupied = wheel.entries.iter().filter(|e| e.value.is_some()).count();
    assert_eq!(occupied, wheel.len);
    let mut free = 0;
    let mut index = wheel.free;
    while index != NIL {
        let entry = &wheel.entries[index as usize];
        assert!(entry.value.is_none() && entry.generation != u32::MAX);
        free += 1;
        index = entry.next;
    }
    let reusable = wheel
        .entries
        .iter()
        .filter(|e| e.value.is_none() && e.generation != u32::MAX);
    assert_eq!(free, reusable.count());
}

/// Advances to `now`, checking that what fires is due and in deadline
/// order; returns `(key, deadline, value)` per fired timer.
fn advance<T>(wheel: &mut TimerWheel<T>, now: u64) -> Vec<(TimerKey, u64, T)> {
    let deadlines: Vec<_> = wheel
        .entries
        .iter()
        .zip(0..)
        .filter(|(entry, _)| entry.value.is_some())
        .map(|(entry, index)| {
            let key = TimerKey {
                index,
                generation: entry.generation,
            };
            (key, entry.deadline)
        })
        .collect();
    let before = wheel.now;
    let mut fired = Vec::new();
    wheel.advance(now, |key, value| {
        let deadline = deadlines.iter().find(|(k, _)| *k == key).unwrap().1;
        fired.push((key, deadline, value));
    });
    assert_eq!(wheel.now, before.max(now));
    assert!(fired.is_sorted_by_key(|&(_, deadline, _)| deadline));
    for &(_, deadline, _) in &fired {
        assert!(before <= deadline && deadline <= now);
    }
    let due = deadlines.iter().filter(|(_, d)| *d <= now && now >= before);
    assert_eq!(fired.len(), due.count(), "everything due fired");
    check(wheel);
    fired
}

/// The values of fired timers.
fn values<T>(fired: Vec<(TimerKey, u64, T)>) -> Vec<T> {
    fired.into_iter().map(|(_, _, value)| value).collect()
}

#[test]
fn an_empty_wheel_jumps_anywhere() {
    let mut wheel = TimerWheel::<()>::new();
    assert_eq!((wheel.now(), wheel.len(), wheel.is_empty()), (0, 0, true));
    assert_eq!(wheel.next_deadline(), None);
    assert!(advance(&mut wheel, 1_000_000_000).is_empty());
    assert!(advance(&mut wheel, u64::MAX).is_empty());
    assert_eq!(wheel.now(), u64::MAX);
}

#[test]
fn a_deadline_in_the_past_is_due_at_the_next_advance() {
    let mut wheel = TimerWheel::new();
    advance(&mut wheel, 100);
    let key = wheel.insert(5, 'a');
    check(&wheel);
    assert_eq!(wheel.deadline(key), Some(100), "clamped to now");
    assert_eq!(wheel.next_deadline(), Some(100));
    assert!(
        advance(&mut wheel, 99).is_empty(),
        "going back fires nothing"
    );
    assert_eq!(values(advance(&mut wheel, 100)), ['a']);
    assert_eq!(wheel.deadline(key), None);
}

#[test]
fn a_deadline_equal_to_now_fires_at_the_next_advance() {
    let mut wheel = TimerWheel::new();
    advance(&mut wheel, 4096);
    wheel.insert(4096, 'a');
    wheel.insert(0, 'b');
    assert_eq!(wheel.next_deadline(), Some(4096));
    let mut fired = values(advance(&mut wheel, 5000));
    fired.sort();
    assert_eq!(fired, ['a', 'b']);
}

#[test]
fn advancing_backwards_changes_nothing() {
    let mut wheel = TimerWheel::new();
    wheel.insert(50, ());
    advance(&mut wheel, 40);
    assert!(advance(&mut wheel, 10).is_empty());
    assert_eq!(wheel.now(), 40);
    assert_eq!(wheel.next_deadline(), Some(50));
    assert!(advance(&mut wheel, 49).is_empty());
    assert_eq!(advance(&mut wheel, 50).len(), 1);
}

#[test]
fn remove_returns_the_value_once_and_the_timer_never_fires() {
    let mut wheel = TimerWheel::new();
    let a = wheel.insert(10, 'a');
    let b = wheel.insert(10, 'b');
    assert_eq!(wheel.remove(a), Some('a'));
    check(&wheel);
    assert_eq!(wheel.remove(a), None);
    assert_eq!(wheel.len(), 1);
    assert_eq!(values(advance(&mut wheel, 10)), ['b']);
    assert_eq!(wheel.remove(b), None, "a fired key is stale");
    assert!(!wheel.reset(b, 20));
    assert_eq!(wheel.deadline(b), None);
}

#[test]
fn a_stale_key_never_touches_a_newer_timer_in_its_entry() {
    let mut wheel = TimerWheel::new();
    let old = wheel.insert(10, "old");
    assert_eq!(wheel.remove(old), Some("old"));
    let new = wheel.insert(20, "new");
    assert_eq!(new.index, old.index, "the entry is reused");
    assert_ne!(new, old);
    assert_eq!(wheel.remove(old), None);
    assert!(!wheel.reset(old, 1));
    assert_eq!(wheel.deadline(old), None);
    assert_eq!(wheel.deadline(new), Some(20));
    check(&wheel);
    assert_eq!(values(advance(&mut wheel, 20)), ["new"]);
}

#[test]
fn keys_never_issued_are_rejected() {
    let mut wheel = TimerWheel::new();
    wheel.insert(10, ());
    for key in [
        TimerKey {
            index: 1,
            generation: 0,
        },
        TimerKey {
            index: NIL,
            generation: 0,
        },
        TimerKey {
            index: 0,
            generation: 7,
        },
    ] {
        assert_eq!(wheel.remove(key), None);
        assert_eq!(wheel.deadline(key), None);
        assert!(!wheel.reset(key, 3));
    }
    check(&wheel);
    assert_eq!(wheel.len(), 1);
}

#[test]
fn an_entry_is_retired_before_its_generation_wraps() {
    let mut wheel = TimerWheel::new();
    let key = wheel.insert(10, ());
    wheel.entries[0].generation = u32::MAX - 1;
    let last = TimerKey {
        index: 0,
        generation: u32::MAX - 1,
    };
    assert_eq!(wheel.remove(last), Some(()));
    check(&wheel);
    let next = wheel.insert(10, ());
    assert_eq!(next.index, 1, "the worn-out entry is not reused");
    for stale in [key, last] {
        assert_eq!(wheel.remove(stale), None);
    }
    check(&wheel);
}

#[test]
fn reset_moves_a_timer_later_and_earlier_in_place() {
    let mut wheel = TimerWheel::new();
    let key = wheel.insert(100, 'a');
    let other = wheel.insert(100, 'b');
    let capacity = wheel.entries.capacity();

    assert!(wheel.reset(key, 5000));
    check(&wheel);
    assert_eq!(wheel.deadline(key), Some(5000));
    assert_eq!(values(advance(&mut wheel, 4999)), ['b']);

    assert!(wheel.reset(key, 4999 + 64 * 64 + 1));
    assert!(wheel.reset(key, 5001), "earlier again");
    check(&wheel);
    assert!(advance(&mut wheel, 5000).is_empty());
    assert_eq!(values(advance(&mut wheel, 5001)), ['a']);
    assert_eq!(wheel.entries.len(), 2);
    assert_eq!(wheel.entries.capacity(), capacity);
    assert!(!wheel.reset(other, 1), "fired");
}

#[test]
fn reset_into_the_past_clamps_to_now() {
    let mut wheel = TimerWheel::new();
    advance(&mut wheel, 1000);
    let key = wheel.insert(1 << 40, ());
    assert!(wheel.reset(key, 3));
    assert_eq!(wheel.deadline(key), Some(1000));
    check(&wheel);
    assert_eq!(advance(&mut wheel, 1000).len(), 1);
}

#[test]
fn many_timers_in_one_slot_fire_together_and_in_order() {
    let mut wheel = TimerWheel::new();
    let base = 5 * 4096;
    // Fewer under Miri, which runs each step some thousand times slower.
    let n = if cfg!(miri) { 30 } else { 3000 };
    for i in 0..n {
        // Three deadlines, all in one level-2 slot, interleaved.
        wheel.insert(base + 7 + (i % 3) * 64, i);
    }
    check(&wheel);
    assert_eq!(wheel.next_deadline(), Some(base));
    assert!(advance(&mut wheel, base + 6).is_empty());
    assert_eq!(wheel.next_deadline(), Some(base + 7));
    let fired = advance(&mut wheel, base + 7 + 64);
    assert_eq!(fired.len(), 2 * n as usize / 3);
    assert_eq!(wheel.len(), n as usize / 3);
    assert_eq!(advance(&mut wheel, u64::MAX).len(), n as usize / 3);
}

/// Ticks just around every level boundary, and the far end of `u64`.
fn boundary_deltas() -> Vec<u64> {
    let mut deltas = vec![0, 1, 2, 62, 63, 64, 65, 4095, 4096, 4097, u64::MAX];
    for k in 1..LEVELS as u32 {
        let width = 1u64 << (k * SLOT_BITS);
        deltas.extend([width - 1, width, width + 1, 3 * width - 1, 3 * width + 1]);
    }
    deltas.extend([u64::MAX - 1, (1 << 36) + 5, 1 << 63]);
    deltas
}

/// Where a wheel may stand: level boundaries, and the far end of `u64`.
fn boundary_origins() -> Vec<u64> {
    vec![
        0,
        1,
        63,
        64,
        4095,
        12_345_678,
        (1 << 36) - 1,
        1 << 36,
        u64::MAX - (1 << 40),
        u64::MAX - 64,
        u64::MAX,
    ]
}

/// The boundary origins; every third under Miri, which runs the tests over
/// all of them some thousand times slower.
fn origins_to_try() -> impl Iterator<Item = u64> {
    let step = if cfg!(miri) { 3 } else { 1 };
    boundary_origins().into_iter().step_by(step)
}

#[test]
fn timers_across_level_boundaries_fire_exactly_at_their_deadline() {
    for origin in origins_to_try() {
        for delta in boundary_deltas() {
            let deadline = origin.saturating_add(delta);
            let mut wheel = TimerWheel::new();
            advance(&mut wheel, origin);
            let key = wheel.insert(deadline, ());
            check(&wheel);
            let next = wheel.next_deadline().unwrap();
            assert!(origin <= next && next <= deadline, "{origin} + {delta}");
            if deadline > origin {
                assert!(advance(&mut wheel, deadline - 1).is_empty(), "early");
            }
            let fired = advance(&mut wheel, deadline);
            assert_eq!(fired.len(), 1, "{origin} + {delta}");
            assert_eq!(fired[0].0, key);
        }
    }
}

/// A host that sleeps until each `next_deadline` wakes a few times and is
/// never late.
#[test]
fn next_deadline_leads_a_host_to_each_deadline() {
    for origin in origins_to_try() {
        for delta in boundary_deltas() {
            let deadline = origin.saturating_add(delta);
            let mut wheel = TimerWheel::new();
            advance(&mut wheel, origin);
            wheel.insert(deadline, ());
            let mut wakeups = 0;
            while let Some(next) = wheel.next_deadline() {
                assert!(next <= deadline, "late: {next} > {origin} + {delta}");
                let fired = advance(&mut wheel, next);
                wakeups += 1;
                assert_eq!(fired.len(), usize::from(next == deadline));
            }
            assert_eq!(wheel.now(), deadline);
            let level = expected_level(origin, deadline);
            assert!(wakeups <= level + 1, "{wakeups} wakeups for level {level}");
        }
    }
}

#[test]
fn next_deadline_is_exact_within_the_current_64_tick_block() {
    let mut wheel = TimerWheel::new();
    assert_eq!(wheel.next_deadline(), None);
    advance(&mut wheel, 60);
    let near = wheel.insert(62, ());
    wheel.insert(63, ());
    assert_eq!(wheel.next_deadline(), Some(62));
    wheel.remove(near);
    assert_eq!(wheel.next_deadline(), Some(63));
    let mut wheel = TimerWheel::new();
    advance(&mut wheel, 60);
    wheel.insert(70, ());
    assert_eq!(wheel.next_deadline(), Some(64), "the start of 70's slot");
    advance(&mut wheel, 64);
    assert_eq!(wheel.next_deadline(), Some(70));
}

#[test]
fn timers_on_many_levels_fire_in_deadline_order() {
    let mut wheel = TimerWheel::new();
    let mut deadlines = vec![];
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    // Fewer under Miri, which runs each step some thousand times slower.
    for i in 0..if cfg!(miri) { 100 } else { 2000 } {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Spread over all levels: a random number of random low bits.
        let deadline = x >> (x % 64);
        deadlines.push(deadline);
        wheel.insert(deadline, i);
    }
    check(&wheel);
    let mut now = 0;
    let mut fired = vec![];
    for _ in 0..64 {
        now = now / 2 + u64::MAX / 2;
        fired.extend(advance(&mut wheel, now).into_iter().map(|(_, d, _)| d));
    }
    fired.extend(advance(&mut wheel, u64::MAX).into_iter().map(|(_, d, _)| d));
    deadlines.sort_unstable();
    assert_eq!(fired, deadlines);
}

#[test]
fn a_panicking_callback_leaves_the_rest_pending() {
    let mut wheel = TimerWheel::new();
    let keys: Vec<_> = (0..10).map(|i| wheel.insert(100 + i / 2, i)).collect();
    let mut fired = vec![];
    let result = catch_unwind(AssertUnwindSafe(|| {
        wheel.advance(200, |_, i| {
            fired.push(i);
            // The first of the two timers at 101.
            assert_ne!(fired.len(), 3, "boom");
        })
    }));
    assert!(result.is_err());
    assert_eq!(fired.len(), 3);
    assert_eq!(wheel.len(), 7);
    assert_eq!(wheel.now(), 101);
    assert_eq!(wheel.next_deadline(), Some(101), "interrupted work is due");
    let pending = keys.iter().filter(|&&k| wheel.deadline(k).is_some());
    assert_eq!(pending.count(), 7);

    wheel.advance(200, |_, i| fired.push(i));
    check(&wheel);
    assert_eq!(wheel.now(), 200);
    assert!(fired.iter().map(|i| 100 + i / 2).is_sorted(), "{fired:?}");
    fired.sort();
    assert_eq!(fired, (0..10).collect::<Vec<_>>());
}

#[test]
fn the_wheel_is_send_and_debug() {
    fn send<T: Send>(_: &T) {}
    let mut wheel = TimerWheel::with_capacity(4);
    let key = wheel.insert(9, "tea");
    send(&wheel);
    let debug = format!("{wheel:?}");
    assert_eq!(
        debug,
        format!("TimerWheel {{ now: 0, len: 1, timers: {{{key:?}: (9, \"tea\")}} }}")
    );
}
