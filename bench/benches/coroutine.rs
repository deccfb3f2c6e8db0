//! Coroutine switch and lifecycle costs: xasync vs corosensei and generator.
//!
//! `cargo bench -p xasync-bench --bench coroutine`

use std::hint::black_box;
use xasync::coroutine::{CoroutineOn, Yielder};
use xasync::stack::{StackConfig, StackPool};
use xasync_bench::{Contender, compare};

const SAMPLES: usize = 21;

fn main() {
    switch_round_trip();
    create_run_drop();
}

/// One resume plus one suspend.
fn switch_round_trip() {
    let pool = StackPool::new(StackConfig::default());
    let mut ours = CoroutineOn::with_stack(pool.get().unwrap(), |y: &Yielder<u64, u64>, mut x| {
        loop {
            x = y.suspend(x + 1);
        }
    });
    let mut coro = corosensei::Coroutine::new(|y: &corosensei::Yielder<u64, u64>, mut x| {
        loop {
            x = y.suspend(x + 1);
        }
    });
    let mut gn = generator::Gn::<u64>::new_scoped(|mut s| {
        let mut x = 0;
        loop {
            x = s.yield_(x + 1).unwrap_or(0);
        }
    });
    gn.send(0);
    compare(
        "resume + suspend round trip",
        vec![
            Contender::new("xasync", |n| {
                for i in 0..n {
                    black_box(ours.resume(black_box(i)));
                }
            }),
            Contender::new("corosensei", |n| {
                for i in 0..n {
                    black_box(coro.resume(black_box(i)));
                }
            }),
            Contender::new("generator", |n| {
                for i in 0..n {
                    black_box(gn.send(black_box(i)));
                }
            }),
        ],
        2_000_000,
        SAMPLES,
    );
}

/// `n` times: a coroutine on a stack from `pool`, run to completion, dropped.
fn pooled(pool: &StackPool, n: u64) {
    for i in 0..n {
        let mut co =
            CoroutineOn::with_stack(pool.get().unwrap(), move |_: &Yielder<(), ()>, ()| {
                black_box(i)
            });
        black_box(co.resume(()));
    }
}

/// Create a coroutine, run it to completion, drop it.
fn create_run_drop() {
    let pool = StackPool::new(StackConfig::default());
    let mut own = Some(pool.get().unwrap());
    let mut reused = Some(corosensei::stack::DefaultStack::new(64 * 1024).unwrap());
    compare(
        "create + run to completion + drop",
        vec![
            Contender::new("xasync (pooled stack)", |n| pooled(&pool, n)),
            Contender::new("xasync (reused stack)", |n| {
                for i in 0..n {
                    let stack = own.take().unwrap();
                    let mut co =
                        CoroutineOn::with_stack(stack, move |_: &Yielder<(), ()>, ()| black_box(i));
                    black_box(co.resume(()));
                    own = Some(co.into_stack());
                }
            }),
            Contender::new("corosensei (reused stack)", |n| {
                for i in 0..n {
                    let stack = reused.take().unwrap();
                    let mut co = corosensei::Coroutine::with_stack(
                        stack,
                        move |_: &corosensei::Yielder<(), ()>, ()| black_box(i),
                    );
                    black_box(co.resume(()));
                    reused = Some(co.into_stack());
                }
            }),
        ],
        1_000_000,
        SAMPLES,
    );
    compare(
        "create + run to completion + drop, fresh stacks",
        vec![
            Contender::new("xasync (pooled stack)", |n| pooled(&pool, n)),
            Contender::new("corosensei (fresh stack)", |n| {
                for i in 0..n {
                    let mut co =
                        corosensei::Coroutine::new(move |_: &corosensei::Yielder<(), ()>, ()| {
                            black_box(i)
                        });
                    black_box(co.resume(()));
                }
            }),
        ],
        2_000,
        SAMPLES,
    );
}
