//! Handle tables: what C holds is an id, never a pointer, so a stale,
//! double-freed or forged handle is detected and reported.
//!
//! An id is 64 bits:
//!
//! ```text
//!  63                 32 31    24 23              0
//! +---------------------+--------+-----------------+
//! |     generation      |  kind  |      index      |
//! +---------------------+--------+-----------------+
//! ```
//!
//! * `index`: the slot in the table of that kind (up to 2^24 - 1 live
//!   objects per kind).
//! * `kind`: a tag per table, so that a channel passed as a task (or any
//!   id that is not a handle) is rejected; the id 0 is never issued.
//! * `generation`: incremented each time the slot is reused. A slot
//!   remembers the generation of its last occupant, so an older one is
//!   *stale* (a use after release: double destroy, second await) and a
//!   newer one was never issued (forged). A slot whose generation reaches
//!   `u32::MAX` is retired instead of reused, so no id ever names two
//!   objects.
//!
//! Each table is one mutex around a vector of slots and a free list:
//! lookups, inserts and removals hold it for a few instructions, and a
//! removed value is dropped after the lock is released.

use crate::error::{Error, Result};
use crate::xasync_status::*;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a table holds, for its ids and messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kind {
    /// The tag in the ids (non-zero, distinct per kind).
    tag: u8,
    /// "task", "channel", ...
    name: &'static str,
    /// How a handle of this kind is released: "awaited or detached", ...
    released: &'static str,
}

impl Kind {
    /// A kind with its tag, name and releasing verb.
    pub(crate) const fn new(tag: u8, name: &'static str, released: &'static str) -> Kind {
        assert!(tag != 0);
        Kind {
            tag,
            name,
            released,
        }
    }
}

/// Bits of an id's index.
const INDEX_BITS: u32 = 24;
/// Most slots of one table.
const MAX_SLOTS: usize = (1 << INDEX_BITS) - 1;
/// The tags of every kind, to name the kind of a misplaced handle.
static KINDS: [&Kind; 6] = [
    &crate::runtime::RUNTIME,
    &crate::task::TASK,
    &crate::channel::CHANNEL,
    &crate::timer::TIMER,
    &crate::fd::WATCH,
    &crate::fiber::FIBER,
];

/// One slot: the generation of its current (or last) occupant.
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

struct Slots<T> {
    slots: Vec<Slot<T>>,
    /// Vacant slots to reuse (last freed first: warm in cache).
    free: Vec<u32>,
}

/// A table of `T`s named by generation-checked ids.
pub(crate) struct Table<T> {
    kind: Kind,
    inner: Mutex<Slots<T>>,
}

/// The parts of an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Id {
    index: u32,
    tag: u8,
    generation: u32,
}

impl Id {
    fn decode(id: u64) -> Id {
        Id {
            index: (id & ((1 << INDEX_BITS) - 1)) as u32,
            tag: (id >> INDEX_BITS) as u8,
            generation: (id >> 32) as u32,
        }
    }

    fn encode(self) -> u64 {
        (u64::from(self.generation) << 32)
            | (u64::from(self.tag) << INDEX_BITS)
            | u64::from(self.index)
    }
}

impl<T> Table<T> {
    /// An empty table of `kind`.
    pub(crate) const fn new(kind: Kind) -> Table<T> {
        Table {
            kind,
            inner: Mutex::new(Slots {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        // Nothing panics while holding the lock; a poisoned lock is safe
        // to use anyway (every update is a single assignment).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `value`; its id.
    ///
    /// # Errors
    ///
    /// `XASYNC_ERR_TOO_MANY` if the table is full (`value` is dropped).
    pub(crate) fn insert(&self, value: T) -> Result<u64> {
        let mut table = self.lock();
        let index = match table.free.pop() {
            Some(index) => index,
            None if table.slots.len() < MAX_SLOTS => {
                table.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                (table.slots.len() - 1) as u32
            }
            None => {
                drop(table);
                drop(value);
                return Err(Error::new(
                    XASYNC_ERR_TOO_MANY,
                    format!("too many live {} handles", self.kind.name),
                ));
            }
        };
        let slot = &mut table.slots[index as usize];
        slot.generation += 1; // never overflows: retired at u32::MAX
        slot.value = Some(value);
        Ok(Id {
            index,
            tag: self.kind.tag,
            generation: slot.generation,
        }
        .encode())
    }

    /// Runs `f` on the value named by `id`, under the table's lock (keep
    /// it short: clone what is needed and work outside).
    pub(crate) fn with<R>(&self, id: u64, f: impl FnOnce(&T) -> R) -> Result<R> {
        let table = self.lock();
        let index = self.check(&table, id)?;
        Ok(f(table.slots[index].value.as_ref().expect("checked")))
    }

    /// Takes the value named by `id` out; the id is stale from now on.
    pub(crate) fn remove(&self, id: u64) -> Result<T> {
        self.remove_if(id, |_| Ok(()))
    }

    /// Takes the value named by `id` out if `allow` (run under the lock)
    /// allows it; else the value stays and `allow`'s error is returned.
    pub(crate) fn remove_if(&self, id: u64, allow: impl FnOnce(&T) -> Result<()>) -> Result<T> {
        let mut table = self.lock();
        let index = self.check(&table, id)?;
        allow(table.slots[index].value.as_ref().expect("checked"))?;
        let slot = &mut table.slots[index];
        let value = slot.value.take().expect("checked");
        if slot.generation < u32::MAX {
            table.free.push(index as u32);
        }
        Ok(value)
    }

    /// The index of the live slot named by `id`.
    fn check(&self, table: &Slots<T>, id: u64) -> Result<usize> {
        let kind = self.kind;
        let invalid = |what: String| Err(Error::new(XASYNC_ERR_INVALID_HANDLE, what));
        if id == 0 {
            return invalid(format!("a zero {} handle (never issued)", kind.name));
        }
        let Id {
            index,
            tag,
            generation,
        } = Id::decode(id);
        if tag != kind.tag {
            return match KINDS.iter().find(|k| k.tag == tag) {
                Some(other) => invalid(format!(
                    "a {} handle was given where a {} handle is expected",
                    other.name, kind.name
                )),
                None => invalid(format!("{id:#x} is not a {} handle", kind.name)),
            };
        }
        let Some(slot) = table.slots.get(index as usize) else {
            return invalid(format!("this {} handle was never issued", kind.name));
        };
        if generation > slot.generation {
            return invalid(format!("this {} handle was never issued", kind.name));
        }
        if generation < slot.generation || slot.value.is_none() {
            return Err(Error::new(
                XASYNC_ERR_STALE_HANDLE,
                format!(
                    "this {} handle is stale: it was {} already",
                    kind.name, kind.released
                ),
            ));
        }
        Ok(index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THING: Kind = Kind::new(0xEE, "thing", "freed");

    #[test]
    fn ids_round_trip_and_are_never_zero() {
        let id = Id {
            index: MAX_SLOTS as u32,
            tag: 0xEE,
            generation: u32::MAX,
        };
        assert_eq!(Id::decode(id.encode()), id);
        let table = Table::new(THING);
        assert_ne!(table.insert(()).unwrap(), 0);
    }

    #[test]
    fn a_released_id_is_stale_and_its_slot_gets_a_new_id() {
        let table = Table::new(THING);
        let a = table.insert("a").unwrap();
        assert_eq!(table.with(a, |v| *v).unwrap(), "a");
        assert_eq!(table.remove(a).unwrap(), "a");
        let stale = table.remove(a).unwrap_err();
        assert_eq!(stale.status, XASYNC_ERR_STALE_HANDLE);
        let b = table.insert("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(Id::decode(a).index, Id::decode(b).index, "slot reused");
        assert_eq!(
            table.with(a, |_| ()).unwrap_err().status,
            XASYNC_ERR_STALE_HANDLE
        );
        assert_eq!(table.with(b, |v| *v).unwrap(), "b");
    }

    #[test]
    fn a_refused_removal_leaves_the_value() {
        let table = Table::new(THING);
        let a = table.insert(7).unwrap();
        let refuse = |_: &i32| Err(Error::new(XASYNC_ERR_BUSY, "not now"));
        assert_eq!(
            table.remove_if(a, refuse).unwrap_err().status,
            XASYNC_ERR_BUSY
        );
        assert_eq!(table.remove_if(a, |_| Ok(())).unwrap(), 7);
        assert_eq!(
            table.remove_if(a, |_| Ok(())).unwrap_err().status,
            XASYNC_ERR_STALE_HANDLE
        );
    }

    #[test]
    fn forged_and_foreign_ids_are_invalid() {
        let table = Table::new(THING);
        let a = table.insert(1).unwrap();
        let forged = [
            0,
            a + 1,                    // index never issued
            a + (1 << 32),            // generation from the future
            a ^ (0xEE << INDEX_BITS), // no tag
            Id::decode(a).index as u64
                | (u64::from(crate::task::TASK.tag) << INDEX_BITS)
                | (1 << 32),
        ];
        for id in forged {
            let error = table.with(id, |_| ()).unwrap_err();
            assert_eq!(error.status, XASYNC_ERR_INVALID_HANDLE, "{id:#x}");
        }
        assert!(
            table
                .with(forged[4], |_| ())
                .unwrap_err()
                .message
                .contains("a task handle was given where a thing handle is expected")
        );
    }

    #[test]
    fn a_slot_is_retired_at_the_last_generation() {
        let table = Table::new(THING);
        let a = table.insert(()).unwrap();
        table.lock().slots[0].generation = u32::MAX;
        let last = Id {
            generation: u32::MAX,
            ..Id::decode(a)
        }
        .encode();
        table.remove(last).unwrap();
        let b = table.insert(()).unwrap();
        assert_eq!(Id::decode(b).index, 1, "slot 0 is never reused");
        assert_eq!(
            table.with(last, |_| ()).unwrap_err().status,
            XASYNC_ERR_STALE_HANDLE
        );
    }
}
