//! Preemptible coroutines on this kernel: `xasync_kernel_common::preempt`
//! over [`crate::platform::ThisCpu`]. The IRQ vector runs the handler on
//! the interrupted stack; after the GIC's end of interrupt, the handler
//! calls `on_interrupt_exit`, which suspends the armed preemptible
//! coroutine if the tick asked for it and the handler runs on that
//! coroutine's stack (see the common module for the design and why it is
//! sound).

xasync_kernel_common::preempt_over!(crate::platform::ThisCpu);
