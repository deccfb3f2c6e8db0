//! What a registered file descriptor's readiness goes to: the tasks waiting
//! to read or write it, or a callback.

use super::callback::{Readiness, Slot};
use super::waiters::Waiters;

/// The target of one registration in a reactor.
pub(crate) enum Entry {
    /// A socket's waiting tasks, per direction.
    Io { read: Waiters, write: Waiters },
    /// A callback registered through [`crate::io::callback`].
    Callback(Slot<Readiness>),
}

impl Entry {
    /// An entry for a socket, with no waiters yet.
    pub(crate) fn io() -> Entry {
        Entry::Io {
            read: Waiters::default(),
            write: Waiters::default(),
        }
    }

    /// Delivers readiness: wakes the waiters of each ready direction (an
    /// error or hang-up counts for both: the next attempt reports it), or
    /// runs the callback.
    pub(crate) fn dispatch(&self, readiness: Readiness) {
        match self {
            Entry::Io { read, write } => {
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
}
