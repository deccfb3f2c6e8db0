//! What a registered file descriptor's readiness goes to: the tasks waiting
//! to read or write it, or a callback.

use super::callback::{Readiness, Slot};
use super::waiters::Waiters;
use std::sync::atomic::{AtomicBool, Ordering};

/// The target of one registration in a reactor.
pub(crate) enum Entry {
    /// A socket's waiting tasks, per direction, and whether it ever
    /// reported a hang-up or error (sticky).
    Io {
        read: Waiters,
        write: Waiters,
        closed: AtomicBool,
    },
    /// A callback registered through [`crate::io::callback`].
    Callback(Slot<Readiness>),
}

impl Entry {
    /// An entry for a socket, with no waiters yet.
    pub(crate) fn io() -> Entry {
        Entry::Io {
            read: Waiters::default(),
            write: Waiters::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// Delivers readiness: wakes the waiters of each ready direction (an
    /// error or hang-up counts for both: the next attempt reports it), or
    /// runs the callback.
    pub(crate) fn dispatch(&self, readiness: Readiness) {
        match self {
            Entry::Io {
                read,
                write,
                closed,
            } => {
                if readiness.is_closed() {
                    // Before the wake-ups, so that a waiter that sees their
                    // generation sees this too.
                    closed.store(true, Ordering::Release);
                }
                if readiness.is_readable() || readiness.is_closed() {
                    read.wake();
                }
                if readiness.is_writable() || readiness.is_closed() {
                    write.wake();
                }
            }
            Entry::Callback(slot) => slot.fire(readiness),
        }
    }

    /// Whether the socket reported a hang-up or an error. After that, a
    /// short read is no proof that the next one would block: the end of
    /// stream (or the error) came with the edge already delivered.
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Entry::Io { closed, .. } => closed.load(Ordering::Acquire),
            Entry::Callback(_) => false,
        }
    }
}
