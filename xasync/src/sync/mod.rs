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
