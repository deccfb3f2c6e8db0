//! The timing wheel at scale: a million pending timers (200,000 in debug
//! builds), advanced in small steps and in big jumps, every one firing once,
//! on time, in order, and none of the removed ones.

use xasync_core::time::TimerWheel;

/// A million in release builds; debug builds (and the cross-arch runs under
/// qemu-user) take a fifth to stay within a second or two.
const TIMERS: usize = if cfg!(debug_assertions) {
    200_000
} else {
    1_000_000
};

/// xorshift64: deterministic, and enough to scatter deadlines.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Inserts `TIMERS` timers with deadlines below `horizon`, removes every
/// tenth, then advances by random steps of at most `step` ticks until the
/// wheel is empty. The fired deadlines must be exactly the pending ones in
/// sorted order, each within the step that fired it.
fn run(seed: u64, horizon: u64, step: u64) {
    let mut rng = Rng(seed);
    let mut wheel = TimerWheel::with_capacity(TIMERS);
    let mut keys = Vec::with_capacity(TIMERS);
    for id in 0..TIMERS {
        let deadline = rng.below(horizon);
        keys.push((wheel.insert(deadline, (id, deadline)), deadline));
    }
    assert_eq!(wheel.len(), TIMERS);
    let mut pending = vec![true; TIMERS];
    for id in (0..TIMERS).step_by(10) {
        assert_eq!(wheel.remove(keys[id].0), Some((id, keys[id].1)));
        pending[id] = false;
    }
    assert_eq!(wheel.len(), TIMERS - TIMERS.div_ceil(10));
    let mut expected: Vec<u64> = (0..TIMERS)
        .filter(|&id| pending[id])
        .map(|id| keys[id].1)
        .collect();
    expected.sort_unstable();

    let mut fired = 0;
    let mut now = 0;
    while !wheel.is_empty() {
        assert!(wheel.next_deadline().unwrap() <= expected[fired], "late");
        let previous = now;
        now += 1 + rng.below(step);
        wheel.advance(now, |key, (id, deadline)| {
            assert!(pending[id], "timer {id} fired twice or after removal");
            pending[id] = false;
            assert_eq!(key, keys[id].0);
            assert_eq!(deadline, expected[fired], "out of order");
            assert!(deadline <= now && (previous < deadline || deadline == 0));
            fired += 1;
        });
        assert_eq!(wheel.len(), expected.len() - fired);
    }
    assert_eq!(fired, expected.len());
}

#[test]
fn a_million_timers_in_small_steps() {
    run(0x2545_f491_4f6c_dd1d, 100_001, 500);
}

#[test]
fn a_million_timers_in_big_jumps() {
    run(0x9e37_79b9_7f4a_7c15, 1 << 50, 1_000_000_000_000);
}
