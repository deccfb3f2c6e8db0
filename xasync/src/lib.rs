//! # xasync — asynchrony without coloured functions
//!
//! Plain functions run as stackful coroutines; waiting inside them suspends
//! the coroutine instead of the thread.
//!
//! This crate is the std layer over [`xasync_core`]: mmap stacks with guard
//! pages, slab stacks for millions of coroutines, a per-thread stack pool and
//! stack-overflow reports naming the coroutine.
#![cfg(unix)]

pub mod coroutine;
pub mod stack;
mod sys;
