//! The platform-level interrupt controller (PLIC) of QEMU virt: routes
//! device interrupts to a hart's supervisor external interrupt, and
//! dispatches each to the handler its driver registered.
//!
//! A driver calls [`register`] with its interrupt number and a plain `fn()`;
//! the handler runs in the trap handler, on the interrupt stack, with
//! interrupts disabled. It must silence its device (acknowledge it, so the
//! level-triggered line drops) and wake the tasks waiting for it — nothing
//! more (see `docs/KERNEL.md`, "Device drivers").
//!
//! Register layout (context `c` = hart `h`'s S-mode = `2h + 1`):
//! priority of source `i` at `4i`, enable bits at `0x2000 + 0x80c`,
//! threshold at `0x20_0000 + 0x1000c`, claim/complete 4 bytes after it.

use crate::{cpu, hart};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The PLIC's MMIO base on QEMU virt.
const BASE: usize = 0x0c00_0000;
/// Interrupt sources handled here (QEMU virt has 96; its virtio-mmio
/// slots use 1–8, the UART 10).
pub const SOURCES: usize = 32;

/// `handlers[i]`: the `fn()` of source `i` as an address, 0 if none.
static HANDLERS: [AtomicUsize; SOURCES] = [const { AtomicUsize::new(0) }; SOURCES];

fn reg(offset: usize) -> *mut u32 {
    (BASE + offset) as *mut u32
}

/// This hart's S-mode context.
fn context() -> usize {
    2 * hart::this().id() + 1
}

/// Registers `handler` for interrupt source `irq` and routes that source to
/// the calling hart's supervisor external interrupt (which it enables).
///
/// # Panics
///
/// If `irq` is 0 or not below [`SOURCES`], or already has a handler.
pub fn register(irq: usize, handler: fn()) {
    assert!(irq != 0 && irq < SOURCES, "plic: no interrupt source {irq}");
    let previous = HANDLERS[irq].swap(handler as usize, Ordering::AcqRel);
    assert_eq!(previous, 0, "plic: source {irq} already has a handler");
    let enable = reg(0x2000 + 0x80 * context() + 4 * (irq / 32));
    // SAFETY: QEMU virt maps the PLIC at BASE (no paging); these are its
    // priority, enable and threshold registers for this hart's S-mode
    // context, 32-bit wide. Only the registering hart writes its context.
    unsafe {
        ptr::write_volatile(reg(4 * irq), 1);
        ptr::write_volatile(enable, ptr::read_volatile(enable) | 1 << (irq % 32));
        ptr::write_volatile(reg(0x20_0000 + 0x1000 * context()), 0);
    }
    cpu::enable_sources(cpu::interrupt::SEI);
}

/// Handles a supervisor external interrupt: claims each pending source,
/// runs its handler and completes it. Called by the trap handler.
pub(crate) fn on_interrupt() {
    let claim = reg(0x20_0004 + 0x1000 * context());
    loop {
        // SAFETY: the claim/complete register of this hart's context; a read
        // claims the highest-priority pending source (0: none).
        let irq = unsafe { ptr::read_volatile(claim) } as usize;
        if irq == 0 {
            return;
        }
        let handler = HANDLERS.get(irq).map_or(0, |h| h.load(Ordering::Acquire));
        assert_ne!(handler, 0, "plic: interrupt {irq} has no handler");
        // SAFETY: only `register` stores here, and it stores a `fn()`.
        let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(handler) };
        handler();
        // SAFETY: as above; writing the claimed source completes it.
        unsafe { ptr::write_volatile(claim, irq as u32) };
    }
}
