//! Other CPUs: started through PSCI (`CPU_ON`, over `hvc`: QEMU virt
//! implements PSCI itself when it boots a kernel at EL1), each on a stack
//! of its own from the heap, running a closure with IRQs unmasked.

use crate::{gic, irq, timer};
use alloc::alloc::alloc;
use alloc::boxed::Box;
use core::alloc::Layout;
use core::arch::asm;

/// PSCI `CPU_ON`, SMC64 calling convention.
const PSCI_CPU_ON: u64 = 0xc400_0003;
/// Bytes of a started CPU's stack.
const STACK_SIZE: usize = 64 * 1024;

/// What a started CPU receives (the PSCI context id points at it).
#[repr(C)]
pub(crate) struct Start {
    /// The top of its stack (read by `_start_secondary`).
    stack_top: usize,
    main: Box<dyn FnOnce() + Send>,
}

unsafe extern "C" {
    /// The entry of started CPUs (see `boot`).
    fn _start_secondary();
}

/// Starts CPU `cpu` (its `MPIDR_EL1.Aff0`), which runs `f` with IRQs
/// unmasked and then parks. Returns PSCI's error code on failure.
pub fn start_cpu(cpu: usize, f: impl FnOnce() + Send + 'static) -> Result<(), i64> {
    let layout = Layout::from_size_align(STACK_SIZE, 16).expect("smp: stack layout");
    // SAFETY: the layout has a non-zero size.
    let stack = unsafe { alloc(layout) };
    assert!(!stack.is_null(), "smp: out of memory for a stack");
    // The stack and the start block are the started CPU's for good.
    let start = Box::into_raw(Box::new(Start {
        stack_top: stack as usize + STACK_SIZE,
        main: Box::new(f),
    }));
    let status: i64;
    // SAFETY: PSCI CPU_ON starts `cpu` at `_start_secondary` with x0 =
    // `start`, which it owns from then on; the call changes no state of
    // this CPU but x0–x3.
    unsafe {
        asm!(
            "hvc #0",
            inout("x0") PSCI_CPU_ON as i64 => status,
            inout("x1") cpu as u64 => _,
            inout("x2") _start_secondary as *const () as u64 => _,
            inout("x3") start as u64 => _,
            options(nostack)
        )
    };
    if status == 0 {
        Ok(())
    } else {
        // SAFETY: the CPU did not start: the block is still ours.
        drop(unsafe { Box::from_raw(start) });
        Err(status)
    }
}

/// A started CPU's first Rust code (called by `_start_secondary`).
pub(crate) extern "C" fn secondary_main(start: *mut Start) -> ! {
    gic::init();
    timer::init();
    gic::enable(irq::KICK_SGI);
    // SAFETY: `start_cpu` handed this CPU the block it leaked.
    let start = unsafe { Box::from_raw(start) };
    irq::enable();
    (start.main)();
    let _ = irq::disable();
    loop {
        // SAFETY: parks the CPU (IRQs masked, so for good).
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
