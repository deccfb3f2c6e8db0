//! Everything that talks to the operating system (Linux and other Unixes).

pub(crate) mod frames;
pub(crate) mod memory;
pub(crate) mod overflow;
pub(crate) mod signals;
