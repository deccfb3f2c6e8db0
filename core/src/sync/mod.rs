//! Waiting primitives as futures: usable from coroutines (through the
//! host's `xawait`), async tasks (`.await`) and threads (`block_on`).
