//! Stackful coroutines on pooled stacks.
//!
//! The types come from [`xasync_core::coroutine`]; this module fixes the
//! stack to the thread's [`PooledStack`] so `Coroutine::new` needs no stack
//! argument.
//!
//! ```
//! use xasync::coroutine::{Coroutine, CoroutineResult};
//!
//! let mut co = Coroutine::new(|yielder, start: u32| {
//!     let mut n = start;
//!     loop {
//!         n = yielder.suspend(n * 2);
//!     }
//! });
//! assert_eq!(co.resume(1), CoroutineResult::<_, ()>::Yield(2));
//! assert_eq!(co.resume(5), CoroutineResult::Yield(10));
//! ```

use crate::stack::PooledStack;
pub use xasync_core::coroutine::{CoroutineResult, Yielder};
pub use xasync_core::fiber::{Fiber, Group};

/// A coroutine on a stack from the thread's default [`StackPool`](crate::stack::StackPool).
pub type Coroutine<I = (), Y = (), R = ()> =
    xasync_core::coroutine::Coroutine<I, Y, R, PooledStack>;

/// A coroutine on a stack of any type.
pub type CoroutineOn<I, Y, R, S> = xasync_core::coroutine::Coroutine<I, Y, R, S>;
