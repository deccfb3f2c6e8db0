//! Who reports a panic when several CPUs panic: the first one does; the
//! others park, so that one message comes out whole and one exit status
//! ends QEMU; a panic while reporting gives up at once.

use crate::Cpu;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The id + 1 of the first CPU that panicked; 0 before any panic.
static PANICKED: AtomicUsize = AtomicUsize::new(0);

/// What a panicking CPU does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panicking {
    /// Report the panic (without the console lock: this CPU may hold it)
    /// and end QEMU with a failure.
    Report,
    /// This CPU panicked while reporting its panic: end QEMU at once.
    Again,
    /// Another CPU is reporting its panic and will end QEMU: park.
    Park,
}

/// Masks interrupts on this CPU (for good) and decides what it does.
pub fn enter<C: Cpu>() -> Panicking {
    let _ = C::disable();
    let me = C::id() + 1;
    match PANICKED.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Panicking::Report,
        Err(first) if first == me => Panicking::Again,
        Err(_) => Panicking::Park,
    }
}
