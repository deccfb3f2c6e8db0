//! Channels, locks and other waiting primitives that work from coroutines,
//! async tasks and plain threads alike, in any mix — a coroutine sends, a
//! future receives, a thread waits on the lock a coroutine holds.
//!
//! Each type wraps the core's future-based primitive, has all of its
//! methods as its own (and reaches it through `Deref` too), and adds the
//! waiting methods under the crate's naming rule: the plain name waits —
//! suspending a coroutine or blocking a thread — and the `_async` name
//! returns a future.
//!
//! # Not `std::sync` across a wait
//!
//! In a coroutine, never hold a `std::sync::Mutex` or `RwLock` guard (or
//! one of any lock that blocks its thread) across a wait — a sleep, a
//! receive, a lock of this module, `xawait`, I/O. The coroutine suspends
//! holding the lock; the next coroutine of the same worker that asks for it
//! blocks the worker's thread, and the holder, which only that worker can
//! resume, never releases it: a deadlock, certain with one worker. Release
//! the guard before waiting, or use this module's [`Mutex`] and
//! [`RwLock`], which suspend the coroutine instead of blocking the thread.
//! A short critical section that does not wait is fine with std's locks.
//! This is not detected, even in debug builds: std's mutex is a futex word
//! of its own, with no hook on lock or unlock and no record of its holder,
//! so a runtime cannot see a guard held across a suspension.
//!
//! ```
//! use xasync::sync::channel;
//!
//! let (tx, rx) = channel::bounded(4);
//! let producer = xasync::xasync(move || {
//!     for i in 0..10 {
//!         tx.send(i).unwrap(); // suspends the coroutine while the channel is full
//!     }
//! });
//! let consumer = xasync::spawn(async move {
//!     let mut sum = 0;
//!     while let Ok(i) = rx.recv_async().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! producer.join().unwrap();
//! assert_eq!(xasync::xawait(consumer), 45);
//! ```

pub mod channel;
mod locks;
pub mod oneshot;
mod signals;

pub use locks::{Mutex, RwLock, Semaphore};
pub use signals::{Barrier, Condvar, Notify, WaitGroup};
pub use xasync_core::sync::{
    AcquireError, AcquireFut, BarrierWaitFut, BarrierWaitResult, CondvarWaitFut, MutexGuard,
    MutexLockFut, Notified, RwLockReadFut, RwLockReadGuard, RwLockWriteFut, RwLockWriteGuard,
    SemaphorePermit, TryAcquireError, WaitGroupWaitFut,
};

/// Implements `Deref` to the wrapped core primitive and `Debug`.
macro_rules! wraps {
    ($outer:ident $(<$t:ident>)?, $inner:ty) => {
        impl$(<$t>)? core::ops::Deref for $outer$(<$t>)? {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl$(<$t>)? core::fmt::Debug for $outer$(<$t>)? {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_tuple(stringify!($outer)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use wraps;

/// Declares inherent methods that forward to the same method of the
/// wrapped core primitive (`self.0`), so that they show in the wrapper's
/// own documentation and need no `Deref` to be found.
macro_rules! forward {
    ($(
        $(#[$doc:meta])*
        fn $name:ident(&self $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?;
    )*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
            self.0.$name($($arg),*)
        }
    )*};
}
pub(crate) use forward;
