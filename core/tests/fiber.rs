//! Symmetric fibers: the seed's count/base test, direct switching between
//! fibers, completion, panics, destructors and misuse.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use xasync_core::fiber::{Fiber, Group};
use xasync_core::stack::HeapStack;

fn stack() -> HeapStack {
    // SAFETY: the fibers of these tests use a few KiB of stack at most.
    unsafe { HeapStack::new(64 * 1024) }
}

/// The seed's "simple counter suspend and resume coroutine".
#[test]
fn simple_counter_suspend_and_resume_coroutine() {
    let count = Rc::new(Cell::new(1));
    let group = Group::new();
    let base_coro = group.base().clone();
    let c = count.clone();
    let count_coro = group.spawn(stack(), move |me: &Fiber| {
        c.set(c.get() + 1);
        base_coro.resume_from(me);
        c.set(c.get() + 1);
        base_coro.resume_from(me);
        c.set(c.get() + 1);
        base_coro.resume_from(me);
    });
    assert_eq!(count.get(), 1);
    count_coro.resume_from(group.base());
    assert_eq!(count.get(), 2);
    count_coro.resume_from(group.base());
    assert_eq!(count.get(), 3);
    count_coro.resume_from(group.base());
    assert_eq!(count.get(), 4);
    assert!(!count_coro.is_finished());
}

/// Fibers hand control around a ring without going back to the base.
#[test]
fn fibers_switch_directly_to_each_other() {
    const N: usize = 5;
    const ROUNDS: usize = 3;
    let group = Group::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let ring: Rc<RefCell<Vec<Fiber>>> = Rc::new(RefCell::new(Vec::new()));
    for i in 0..N {
        let (log, ring2, base) = (log.clone(), ring.clone(), group.base().clone());
        let fiber = group.spawn(stack(), move |me: &Fiber| {
            for round in 0..ROUNDS {
                log.borrow_mut().push((round, i));
                let next = if i + 1 == N {
                    if round + 1 == ROUNDS {
                        base.clone()
                    } else {
                        ring2.borrow()[0].clone()
                    }
                } else {
                    ring2.borrow()[i + 1].clone()
                };
                next.resume_from(me);
            }
        });
        ring.borrow_mut().push(fiber);
    }
    let first = ring.borrow()[0].clone();
    first.resume_from(group.base());
    let expected: Vec<_> = (0..ROUNDS)
        .flat_map(|r| (0..N).map(move |i| (r, i)))
        .collect();
    assert_eq!(*log.borrow(), expected);
    ring.borrow_mut().clear();
}

#[test]
fn a_finished_fiber_returns_to_whoever_resumed_it_last() {
    let group = Group::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    let short = group.spawn(stack(), move |_| o.borrow_mut().push("short ran"));
    let (o, short2) = (order.clone(), short.clone());
    let long = group.spawn(stack(), move |me| {
        short2.resume_from(me);
        o.borrow_mut().push("long continues after short finished");
    });
    long.resume_from(group.base());
    assert!(short.is_finished() && long.is_finished());
    assert_eq!(
        *order.borrow(),
        ["short ran", "long continues after short finished"]
    );
}

#[test]
fn a_fiber_whose_resumer_finished_returns_to_the_base() {
    let group = Group::new();
    let slot: Rc<RefCell<Option<Fiber>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let b = group.spawn(stack(), move |me| {
        // `a` resumed us and has finished by the time we are resumed again.
        let a = s.borrow_mut().take().unwrap();
        a.resume_from(me);
    });
    let b2 = b.clone();
    let a = group.spawn(stack(), move |me| {
        b2.resume_from(me);
    });
    *slot.borrow_mut() = Some(a.clone());
    a.resume_from(group.base());
    // a -> b -> a (finishes, returns to b) -> b finishes: b's resumer `a`
    // is finished, so b returns to the base.
    assert!(a.is_finished() && b.is_finished());
}

#[test]
fn a_panic_reaches_the_resumer() {
    let group = Group::new();
    let f = group.spawn(stack(), |_| panic!("fiber boom"));
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.resume_from(group.base())))
            .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"fiber boom"));
    assert!(f.is_finished());
}

struct DropCounter(Rc<Cell<u32>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_the_last_handle_of_a_suspended_fiber_unwinds_it() {
    let drops = Rc::new(Cell::new(0));
    let group = Group::new();
    let (base, d) = (group.base().clone(), drops.clone());
    let f = group.spawn(stack(), move |me| {
        let _guard = DropCounter(d);
        loop {
            base.resume_from(me);
        }
    });
    f.resume_from(group.base());
    let f2 = f.clone();
    drop(f);
    assert_eq!(drops.get(), 0, "another handle is alive");
    drop(f2);
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_an_unstarted_fiber_drops_its_closure() {
    let drops = Rc::new(Cell::new(0));
    let group = Group::new();
    let guard = DropCounter(drops.clone());
    let f = group.spawn(stack(), move |_| drop(guard));
    drop(f);
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_the_group_first_still_unwinds_fibers_later() {
    let drops = Rc::new(Cell::new(0));
    let group = Group::new();
    let (base, d) = (group.base().clone(), drops.clone());
    let f = group.spawn(stack(), move |me| {
        let _guard = DropCounter(d);
        base.resume_from(me);
    });
    let g = DropCounter(drops.clone());
    let unstarted = group.spawn(stack(), move |_| drop(g));
    f.resume_from(group.base());
    drop(group);
    drop(unstarted);
    drop(f);
    assert_eq!(drops.get(), 2);
}

#[test]
#[should_panic(expected = "not the running member")]
fn from_must_be_the_running_member() {
    let group = Group::new();
    let a = group.spawn(stack(), |_| {});
    let b = group.spawn(stack(), |_| {});
    a.resume_from(&b);
}

#[test]
#[should_panic(expected = "cannot resume itself")]
fn a_fiber_cannot_resume_itself() {
    let group = Group::new();
    let base = group.base().clone();
    base.resume_from(group.base());
}

#[test]
#[should_panic(expected = "has finished")]
fn a_finished_fiber_cannot_be_resumed() {
    let group = Group::new();
    let f = group.spawn(stack(), |_| {});
    f.resume_from(group.base());
    f.resume_from(group.base());
}

#[test]
#[should_panic(expected = "different groups")]
fn groups_do_not_mix() {
    let (g1, g2) = (Group::new(), Group::new());
    let f = g2.spawn(stack(), |_| {});
    f.resume_from(g1.base());
}

/// Floating-point values live in callee-saved registers across symmetric
/// switches must survive on both sides.
#[test]
fn floating_point_state_survives_fiber_switches() {
    #[inline(never)]
    fn spin(me: &Fiber, base: &Fiber, out: &Cell<f64>) {
        let (mut a, mut b, mut c) = (1.25f64, 2.5f64, 3.75f64);
        for i in 0..50 {
            base.resume_from(me);
            a = a * 1.001 + i as f64;
            b -= a * 0.5;
            c *= 0.999;
        }
        out.set(a + b + c);
    }
    let group = Group::new();
    let out = Rc::new(Cell::new(0.0));
    let (base, o) = (group.base().clone(), out.clone());
    let f = group.spawn(stack(), move |me| spin(me, &base, &o));
    let (mut x, mut y) = (0.5f64, 0.75f64);
    while !f.is_finished() {
        f.resume_from(group.base());
        x = x * 1.01 + 0.25;
        y = y * 0.99 - x;
    }
    let (mut a, mut b, mut c) = (1.25f64, 2.5f64, 3.75f64);
    for i in 0..50 {
        a = a * 1.001 + i as f64;
        b -= a * 0.5;
        c *= 0.999;
    }
    assert_eq!(out.get(), a + b + c);
    let (mut ex, mut ey) = (0.5f64, 0.75f64);
    for _ in 0..51 {
        ex = ex * 1.01 + 0.25;
        ey = ey * 0.99 - ex;
    }
    assert_eq!((x, y), (ex, ey));
}
