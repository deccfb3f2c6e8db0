//! Bridges to the ecosystems of other runtimes, each behind its feature:
//! `compat::tokio` (feature `tokio`) lets tokio-based crates run in
//! coroutines and tasks, `compat::hyper` (feature `hyper`) gives hyper
//! xasync's sockets, timers and tasks.

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tokio")]
pub mod tokio;
