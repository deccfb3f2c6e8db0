//! Preemptible coroutines on this kernel: `xasync_kernel_common::preempt`
//! over [`crate::platform::ThisCpu`]. The interrupt entry runs the handler
//! on the interrupted stack; after the LAPIC's end of interrupt, the
//! handler calls `on_interrupt_exit`, which suspends the armed preemptible
//! coroutine if the tick asked for it and the handler runs on that
//! coroutine's stack (see the common module for the design and why it is
//! sound).

use crate::platform::ThisCpu;
use xasync_kernel_common::preempt;

pub use xasync_kernel_common::preempt::Stop;

/// A coroutine the tick preempts (see `xasync_kernel_common::preempt`).
pub type Preemptible<R> = preempt::Preemptible<ThisCpu, R>;

/// This kernel's preemption, as the shared scenarios see it.
pub type Scenarios = preempt::Scenarios<ThisCpu>;

/// Suspends the calling preemptible coroutine ([`Stop::Yielded`]).
pub fn yield_now() {
    preempt::yield_now::<ThisCpu>();
}

/// Preemptions so far on this CPU.
pub fn preemptions() -> u64 {
    preempt::preemptions::<ThisCpu>()
}

/// Asks for a preemption at the end of this interrupt (the tick).
pub(crate) fn request_resched() {
    preempt::request_resched::<ThisCpu>();
}

/// The end of every interrupt (see the module documentation).
pub(crate) fn on_interrupt_exit() {
    preempt::on_interrupt_exit::<ThisCpu>();
}
