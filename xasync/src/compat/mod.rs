//! Bridges to the ecosystems of other runtimes, each behind its feature:
//! [`tokio`](mod@tokio) (feature `tokio`) lets tokio-based crates run in
//! coroutines and tasks.

#[cfg(feature = "tokio")]
pub mod tokio;
