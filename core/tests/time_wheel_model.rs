//! The timing wheel against a model: a `BTreeMap` ordered by deadline,
//! under random sequences of insert, remove, reset and advance (small steps,
//! big jumps, steps back, and a host that sleeps until `next_deadline`).

use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};
use xasync_core::time::{TimerKey, TimerWheel};

/// A deadline relative to the wheel's current tick, or absolute.
#[derive(Clone, Debug)]
enum Deadline {
    After(u64),
    Before(u64),
    At(u64),
    BeforeMax(u64),
}

impl Deadline {
    fn resolve(&self, now: u64) -> u64 {
        match *self {
            Deadline::After(d) => now.saturating_add(d),
            Deadline::Before(d) => now.saturating_sub(d),
            Deadline::At(tick) => tick,
            Deadline::BeforeMax(d) => u64::MAX - d,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Deadline),
    /// Removes the timer of the `n % issued`-th key ever issued (maybe stale).
    Remove(usize),
    Reset(usize, Deadline),
    Advance(Deadline),
    /// What a host does: advance to `next_deadline()`.
    AdvanceToNextDeadline,
}

fn deadline() -> impl Strategy<Value = Deadline> {
    prop_oneof![
        8 => (0..200u64).prop_map(Deadline::After),
        4 => (0..1u64 << 20).prop_map(Deadline::After),
        2 => (0..1u64 << 44).prop_map(Deadline::After),
        1 => any::<u64>().prop_map(|d| Deadline::After(d >> (d % 64))),
        2 => (0..300u64).prop_map(Deadline::Before),
        1 => any::<u64>().prop_map(Deadline::At),
        1 => (0..300u64).prop_map(Deadline::BeforeMax),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => deadline().prop_map(Op::Insert),
        3 => any::<usize>().prop_map(Op::Remove),
        3 => (any::<usize>(), deadline()).prop_map(|(i, d)| Op::Reset(i, d)),
        4 => deadline().prop_map(Op::Advance),
        3 => Just(Op::AdvanceToNextDeadline),
    ]
}

/// The reference: pending timers ordered by `(deadline, id)`, and each
/// pending id's deadline.
#[derive(Default)]
struct Model {
    now: u64,
    by_deadline: BTreeMap<(u64, u64), TimerKey>,
    deadline_of: BTreeMap<u64, u64>,
}

impl Model {
    fn insert(&mut self, id: u64, key: TimerKey, deadline: u64) {
        let deadline = deadline.max(self.now);
        self.by_deadline.insert((deadline, id), key);
        self.deadline_of.insert(id, deadline);
    }

    /// Removes a pending timer; returns its key.
    fn remove(&mut self, id: u64) -> Option<TimerKey> {
        let deadline = self.deadline_of.remove(&id)?;
        self.by_deadline.remove(&(deadline, id))
    }

    /// Advances; returns the timers that fire as `(deadline, id, key)`, in
    /// deadline order.
    fn advance(&mut self, now: u64) -> Vec<(u64, u64, TimerKey)> {
        if now < self.now {
            return Vec::new();
        }
        self.now = now;
        let due: Vec<_> = self
            .by_deadline
            .range(..=(now, u64::MAX))
            .map(|(&(deadline, id), &key)| (deadline, id, key))
            .collect();
        for &(deadline, id, _) in &due {
            self.by_deadline.remove(&(deadline, id));
            self.deadline_of.remove(&id);
        }
        due
    }
}

/// `e` with its base-64 digits below the highest one in which it differs
/// from `now` cleared: what `next_deadline` documents for earliest deadline
/// `e`.
fn documented_next_deadline(now: u64, e: u64) -> u64 {
    let differing = (now ^ e) | 1;
    let digit = (63 - differing.leading_zeros()) / 6;
    e & !((1u64 << (digit * 6)) - 1)
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut wheel = TimerWheel::new();
    let mut model = Model::default();
    // Every key ever issued; a timer's value is its index here.
    let mut issued: Vec<TimerKey> = Vec::new();
    let mut removed = HashSet::new();
    for op in ops {
        match op {
            Op::Insert(deadline) => {
                let id = issued.len() as u64;
                let deadline = deadline.resolve(wheel.now());
                let key = wheel.insert(deadline, id);
                prop_assert!(!issued.contains(&key), "key {:?} issued twice", key);
                issued.push(key);
                model.insert(id, key, deadline);
            }
            Op::Remove(n) if !issued.is_empty() => {
                let id = (n % issued.len()) as u64;
                let expected = model.remove(id).map(|_| id);
                prop_assert_eq!(wheel.remove(issued[id as usize]), expected);
                removed.insert(id);
            }
            Op::Reset(n, deadline) if !issued.is_empty() => {
                let id = (n % issued.len()) as u64;
                let key = issued[id as usize];
                let deadline = deadline.resolve(wheel.now());
                let pending = model.remove(id).is_some();
                if pending {
                    model.insert(id, key, deadline);
                }
                prop_assert_eq!(wheel.reset(key, deadline), pending);
            }
            Op::Remove(_) | Op::Reset(..) => {}
            Op::Advance(_) | Op::AdvanceToNextDeadline => {
                let now = match op {
                    Op::Advance(deadline) => deadline.resolve(wheel.now()),
                    _ => wheel.next_deadline().unwrap_or(wheel.now()),
                };
                let deadline_of = model.deadline_of.clone();
                let mut fired = Vec::new();
                wheel.advance(now, |key, id| fired.push((deadline_of[&id], id, key)));
                let mut expected = model.advance(now);
                prop_assert_eq!(wheel.now(), model.now);
                for &(_, id, _) in &fired {
                    prop_assert!(!removed.contains(&id), "removed timer {} fired", id);
                }
                prop_assert!(
                    fired.is_sorted_by_key(|&(deadline, _, _)| deadline),
                    "out of order: {:?}",
                    fired
                );
                // The same timers, with their keys (ties may come in any order).
                fired.sort_unstable_by_key(|&(deadline, id, _)| (deadline, id));
                expected.sort_unstable_by_key(|&(deadline, id, _)| (deadline, id));
                prop_assert_eq!(fired, expected);
            }
        }

        prop_assert_eq!(wheel.len(), model.deadline_of.len());
        prop_assert_eq!(wheel.is_empty(), model.deadline_of.is_empty());
        let earliest = model
            .by_deadline
            .keys()
            .next()
            .map(|&(deadline, _)| deadline);
        match (wheel.next_deadline(), earliest) {
            (None, None) => {}
            (Some(d), Some(e)) => {
                prop_assert!(model.now <= d && d <= e, "{} <= {} <= {}", model.now, d, e);
                if e / 64 == model.now / 64 {
                    prop_assert_eq!(d, e);
                }
                prop_assert_eq!(d, documented_next_deadline(model.now, e));
            }
            (d, e) => prop_assert!(false, "next_deadline {:?}, earliest {:?}", d, e),
        }
        for (&id, &deadline) in &model.deadline_of {
            prop_assert_eq!(wheel.deadline(issued[id as usize]), Some(deadline));
        }
    }
    // Whatever is left fires at the end of time, in order.
    let mut fired = Vec::new();
    wheel.advance(u64::MAX, |_, id| fired.push((model.deadline_of[&id], id)));
    let expected: Vec<_> = model.by_deadline.keys().copied().collect();
    prop_assert!(fired.is_sorted_by_key(|&(deadline, _)| deadline));
    fired.sort_unstable();
    prop_assert_eq!(fired, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 512 }))]

    #[test]
    fn the_wheel_behaves_like_an_ordered_map(ops in prop::collection::vec(op(), 0..300)) {
        run(ops)?;
    }
}
