//! Waiting primitives as futures: usable from coroutines (through the
//! host's `xawait`), async tasks (`.await`) and threads (`block_on`).
//!
//! | type | waits for |
//! | --- | --- |
//! | [`channel`] (`bounded`, `unbounded`) | values, many producers and consumers |
//! | [`oneshot`] | one value |
//! | [`Mutex`] (+ [`Condvar`]), [`RwLock`] | exclusive or shared access |
//! | [`Semaphore`] | permits |
//! | [`WaitGroup`] | a count of jobs to reach zero |
//! | [`Barrier`] | `n` tasks to arrive |
//! | [`Notify`] | a notification |
//!
//! Naming: `*_async` methods return a future, `try_*` methods never wait.
//! (The std crate adds the plain blocking methods on top.)
//!
//! Every future here may be polled from any thread, with a different waker
//! each time (the latest is woken), and may be **dropped at any time**:
//! it then leaves its queue, and whatever was already handed to it (a
//! value, the lock, permits, a `notify_one`) goes to the next waiter or
//! back where it came from. A pending future costs nothing until woken.
//!
//! All primitives are built on one waiter queue (a spin-locked FIFO of
//! wakers with O(1) join and leave and no allocation per wait in steady
//! state); waking and dropping wakers always happen outside the spin lock.

pub mod channel;
pub mod oneshot;

mod barrier;
mod condvar;
mod mutex;
mod notify;
mod raw_semaphore;
mod rwlock;
mod semaphore;
mod wait_group;
mod waiters;

pub use barrier::{Barrier, BarrierWaitFut, BarrierWaitResult};
pub use condvar::{Condvar, CondvarWaitFut};
pub use mutex::{Mutex, MutexGuard, MutexLockFut};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadFut, RwLockReadGuard, RwLockWriteFut, RwLockWriteGuard};
pub use semaphore::{AcquireError, AcquireFut, Semaphore, SemaphorePermit, TryAcquireError};
pub use wait_group::{WaitGroup, WaitGroupWaitFut};
