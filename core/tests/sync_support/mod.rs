//! Helpers shared by the `sync_*` tests: a waker that counts its wakes and
//! single polls, so tests can drive futures step by step (and drop them
//! while pending).
#![allow(dead_code)] // each test crate uses a different subset

/// `n`, or a small fraction of it under Miri (which runs each step some
/// thousand times slower): loop counts of the stress-like tests.
pub fn scaled(n: usize) -> usize {
    if cfg!(miri) { (n / 200).max(4) } else { n }
}

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts how often it was woken.
#[derive(Clone)]
pub struct Counter {
    wakes: Arc<Wakes>,
    waker: Waker,
}

struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counter {
    pub fn new() -> Self {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        Counter { wakes, waker }
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Wakes so far.
    pub fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }

    /// Polls `fut` once with this waker.
    pub fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(&self.waker))
    }
}

/// Asserts that one poll leaves `fut` pending.
#[track_caller]
pub fn pending<F: Future + Unpin>(counter: &Counter, fut: &mut F) {
    assert!(counter.poll(fut).is_pending(), "expected Pending");
}

/// Asserts that one poll finishes `fut`, returning its output.
#[track_caller]
pub fn ready<F: Future + Unpin>(counter: &Counter, fut: &mut F) -> F::Output {
    match counter.poll(fut) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("expected Ready"),
    }
}
