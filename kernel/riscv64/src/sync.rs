//! A spin lock that also disables interrupts, so that interrupt handlers
//! can take it without deadlocking against the code they interrupted:
//! `xasync_kernel_common`'s, over this hart ([`ThisHart`]).

use crate::{hart, irq, timer};
use core::time::Duration;
use xasync_kernel_common::Cpu;
use xasync_kernel_common::preempt::Slot;

/// A mutual-exclusion lock for data shared by harts and interrupt handlers:
/// holding it disables interrupts on this hart, and other harts spin.
///
/// Critical sections must be short and must not switch contexts.
pub type IrqSpinLock<T> = xasync_kernel_common::sync::IrqSpinLock<ThisHart, T>;

/// Exclusive access to an [`IrqSpinLock`]'s value.
pub type IrqSpinGuard<'a, T> = xasync_kernel_common::sync::IrqSpinGuard<'a, ThisHart, T>;

/// The calling hart, as the shared machinery (`xasync_kernel_common`) sees
/// it.
#[derive(Debug)]
pub struct ThisHart;

impl Cpu for ThisHart {
    type Saved = irq::IrqState;

    fn id() -> usize {
        hart::this().id()
    }

    fn disable() -> irq::IrqState {
        irq::disable()
    }

    fn restore(saved: irq::IrqState) {
        irq::restore(saved);
    }

    fn enable() {
        irq::enable();
    }

    fn ticks() -> u64 {
        timer::ticks()
    }

    fn now() -> Duration {
        timer::uptime()
    }

    fn start_tick(period: Duration) {
        timer::start_periodic(period);
    }

    fn stop_tick() {
        timer::stop();
    }

    fn were_enabled(saved: &Self::Saved) -> bool {
        saved.was_enabled()
    }

    fn preempt_slot() -> &'static Slot {
        &hart::this().preempt
    }
}
