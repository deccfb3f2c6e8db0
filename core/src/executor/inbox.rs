//! The executor's inbox: an intrusive lock-free stack that any thread, CPU
//! or interrupt handler pushes nodes onto, and that the executor empties in
//! one swap.
//!
//! This is the whole wake path's shared structure, so it is kept minimal:
//!
//! * [`push`](Inbox::push) is a compare-and-swap loop on `head` (a Treiber
//!   stack push). It takes no lock, allocates nothing (the node lives in the
//!   task), and an interrupt handler that pushes in the middle of another
//!   push on the same CPU only makes that push's CAS retry.
//! * [`take_all`](Inbox::take_all) swaps `head` for empty and reverses the
//!   list, oldest first. There is no single-node pop, so no ABA problem: a
//!   node whose address reappears at `head` is simply the current head.
//! * [`close`](Inbox::close) turns an *empty* inbox into a closed one that
//!   refuses pushes, so an executor that shuts down can be sure nothing
//!   arrives afterwards.
//!
//! `head` holds the address of the newest [`Link`], 0 for empty or 1 for
//! closed (never an address: links are word-aligned). Each link holds the
//! address of the next older one. Addresses are stored as integers through
//! the crate's loom shim, with exposed provenance.
//!
//! Memory ordering: a pusher writes its node (payload, then `next`) and
//! publishes it with a `Release` CAS; the consumer's `Acquire` swap
//! synchronizes with every push in the list, since the later pushes are
//! read-modify-writes continuing the release sequence of the earlier ones.

use crate::loom::{AtomicUsize, Ordering};
use core::ptr::NonNull;

/// `head` of an empty inbox.
const EMPTY: usize = 0;
/// `head` of a closed inbox.
const CLOSED: usize = 1;

/// The link a node of an inbox starts with (the node is `#[repr(C)]` with
/// the link as its first field, so a link's address is its node's).
#[derive(Debug)]
pub(crate) struct Link {
    /// The address of the next older link, or 0.
    next: AtomicUsize,
}

impl Link {
    /// An unlinked link.
    pub(crate) fn new() -> Self {
        Link {
            next: AtomicUsize::new(EMPTY),
        }
    }
}

/// The inbox was closed: the push did not happen.
#[derive(Debug)]
pub(crate) struct Closed;

/// An intrusive multi-producer, single-consumer stack of [`Link`]s.
#[derive(Debug)]
pub(crate) struct Inbox {
    head: AtomicUsize,
}

impl Inbox {
    /// An empty, open inbox.
    pub(crate) fn new() -> Self {
        Inbox {
            head: AtomicUsize::new(EMPTY),
        }
    }

    /// Pushes `link`; returns whether the inbox was empty before (the
    /// consumer may need a kick), or `Closed` without pushing.
    ///
    /// # Safety
    ///
    /// `link` must stay valid and untouched by anyone but this inbox until
    /// the consumer receives it from [`take_all`](Self::take_all) (or, if
    /// the push fails, until this call returns); it must not be in any
    /// inbox already.
    pub(crate) unsafe fn push(&self, link: NonNull<Link>) -> Result<bool, Closed> {
        let address = link.as_ptr().expose_provenance();
        debug_assert!(address > CLOSED);
        // SAFETY: the caller keeps the link valid and ours until published.
        let next = unsafe { &link.as_ref().next };
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            if head == CLOSED {
                return Err(Closed);
            }
            next.store(head, Ordering::Relaxed);
            match self.head.compare_exchange_weak(
                head,
                address,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(head == EMPTY),
                Err(actual) => head = actual,
            }
        }
    }

    /// Takes every link pushed so far, oldest first. Empty if closed.
    pub(crate) fn take_all(&self) -> Batch {
        let mut head = self.head.load(Ordering::Relaxed);
        let newest = loop {
            if head == EMPTY || head == CLOSED {
                return Batch { next: EMPTY };
            }
            match self
                .head
                .compare_exchange_weak(head, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break head,
                Err(actual) => head = actual,
            }
        };
        // Reverse the list in place: the links are ours now.
        let mut reversed = EMPTY;
        let mut at = newest;
        while at != EMPTY {
            // SAFETY: every address in the list is a pushed link, kept
            // valid by its pusher until we hand it on (push's contract);
            // the Acquire above made its `next` visible.
            let link = unsafe { &*core::ptr::with_exposed_provenance::<Link>(at) };
            let older = link.next.load(Ordering::Relaxed);
            link.next.store(reversed, Ordering::Relaxed);
            reversed = at;
            at = older;
        }
        Batch { next: reversed }
    }

    /// Closes the inbox if it is empty; returns whether it is closed now.
    pub(crate) fn close(&self) -> bool {
        match self
            .head
            .compare_exchange(EMPTY, CLOSED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(actual) => actual == CLOSED,
        }
    }

    /// Whether nothing is waiting in the inbox (or it is closed), at some
    /// instant during the call.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self.head.load(Ordering::Acquire), EMPTY | CLOSED)
    }
}

/// The links [`Inbox::take_all`] took, oldest first. Each one is the
/// consumer's to use until it hands it back to its owner.
#[derive(Debug)]
pub(crate) struct Batch {
    next: usize,
}

impl Iterator for Batch {
    type Item = NonNull<Link>;

    fn next(&mut self) -> Option<NonNull<Link>> {
        if self.next == EMPTY {
            return None;
        }
        let link = core::ptr::with_exposed_provenance_mut::<Link>(self.next);
        // SAFETY: a link of the batch is valid until handed back (push's
        // contract), and we read `next` before handing it out, after which
        // we never touch it again.
        self.next = unsafe { &*link }.next.load(Ordering::Relaxed);
        NonNull::new(link)
    }
}
