//! A bounded lock-free multi-producer multi-consumer queue, for handing
//! work between harts (D. Vyukov's array queue).
//!
//! Each slot carries a sequence number: a producer may fill slot `i` when
//! its sequence equals the enqueue position `pos`, and publishes the value
//! by setting it to `pos + 1`; a consumer may take it when the sequence is
//! `pos + 1`, and frees it for the next lap by setting it to `pos + N`. The
//! positions are claimed with a compare-and-swap, so no lock is held and an
//! interrupted producer delays only the consumer of its own slot.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

struct Slot<T> {
    sequence: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded MPMC queue of `T`s; the capacity is a power of two.
pub struct BoundedQueue<T> {
    slots: Box<[Slot<T>]>,
    mask: usize,
    /// Next position to fill.
    enqueue: AtomicUsize,
    /// Next position to take.
    dequeue: AtomicUsize,
}

// SAFETY: values move between harts through the queue (hence `T: Send`);
// every slot access is claimed exclusively through the sequence protocol.
unsafe impl<T: Send> Send for BoundedQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for BoundedQueue<T> {}

impl<T> BoundedQueue<T> {
    /// An empty queue holding up to `capacity` values.
    ///
    /// # Panics
    ///
    /// If `capacity` is not a power of two.
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity.is_power_of_two(),
            "capacity must be a power of two"
        );
        let slots = (0..capacity)
            .map(|i| Slot {
                sequence: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        BoundedQueue {
            slots,
            mask: capacity - 1,
            enqueue: AtomicUsize::new(0),
            dequeue: AtomicUsize::new(0),
        }
    }

    /// Appends `value`, or hands it back if the queue is full.
    pub fn push(&self, value: T) -> Result<(), T> {
        let mut pos = self.enqueue.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let sequence = slot.sequence.load(Ordering::Acquire);
            match sequence.wrapping_sub(pos) as isize {
                0 => match self.enqueue.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS for `pos` while the slot's
                        // sequence is `pos` makes us its only writer.
                        unsafe { (*slot.value.get()).write(value) };
                        slot.sequence.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(actual) => pos = actual,
                },
                lap if lap < 0 => return Err(value),
                _ => pos = self.enqueue.load(Ordering::Relaxed),
            }
        }
    }

    /// Takes the oldest value, if any.
    pub fn pop(&self) -> Option<T> {
        let mut pos = self.dequeue.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let sequence = slot.sequence.load(Ordering::Acquire);
            match sequence.wrapping_sub(pos.wrapping_add(1)) as isize {
                0 => match self.dequeue.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the slot was published for `pos` (Acquire
                        // above pairs with the producer's Release) and
                        // winning the CAS makes us its only reader.
                        let value = unsafe { (*slot.value.get()).assume_init_read() };
                        slot.sequence
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(value);
                    }
                    Err(actual) => pos = actual,
                },
                lap if lap < 0 => return None,
                _ => pos = self.dequeue.load(Ordering::Relaxed),
            }
        }
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Whether the queue looked empty at some instant during the call.
    pub fn is_empty(&self) -> bool {
        let pos = self.dequeue.load(Ordering::Acquire);
        let slot = &self.slots[pos & self.mask];
        slot.sequence.load(Ordering::Acquire) != pos.wrapping_add(1)
    }
}

impl<T> Drop for BoundedQueue<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
