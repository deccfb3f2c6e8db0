//! The GICv2 of QEMU virt (`-machine virt,gic-version=2`): its distributor
//! at `0x0800_0000` and CPU interface at `0x0801_0000`.
//!
//! `init` turns both on for this CPU; [`enable`] lets one interrupt
//! through; the IRQ vector calls `on_interrupt`, which acknowledges each
//! pending interrupt, hands its id to the kernel's dispatch and signals its
//! end. [`send_sgi`] raises a software-generated interrupt on another CPU
//! (the executors' `Kick`).

use core::ptr;

const GICD: usize = 0x0800_0000;
const GICC: usize = 0x0801_0000;

/// Distributor: control.
const GICD_CTLR: usize = 0x000;
/// Distributor: set-enable bits, 32 interrupts per register.
const GICD_ISENABLER: usize = 0x100;
/// Distributor: priorities, a byte per interrupt.
const GICD_IPRIORITYR: usize = 0x400;
/// Distributor: software-generated interrupts.
const GICD_SGIR: usize = 0xf00;
/// CPU interface: control.
const GICC_CTLR: usize = 0x000;
/// CPU interface: priority mask.
const GICC_PMR: usize = 0x004;
/// CPU interface: acknowledge (read: the id of the interrupt taken).
const GICC_IAR: usize = 0x00c;
/// CPU interface: end of interrupt.
const GICC_EOIR: usize = 0x010;
/// Interrupt ids from here on mean "none pending".
const SPURIOUS: u32 = 1020;

fn write(address: usize, value: u32) {
    // SAFETY: every address passed is a 32-bit register of QEMU virt's
    // GICv2 (MMU off: physical addresses).
    unsafe { ptr::write_volatile(address as *mut u32, value) }
}

fn read(address: usize) -> u32 {
    // SAFETY: as in `write`.
    unsafe { ptr::read_volatile(address as *const u32) }
}

/// Turns on the distributor (once is enough; again is harmless) and this
/// CPU's interface, letting every priority through.
pub(crate) fn init() {
    write(GICD + GICD_CTLR, 1);
    write(GICC + GICC_PMR, 0xff);
    write(GICC + GICC_CTLR, 1);
}

/// Enables interrupt `id` (a private one, SGI or PPI, for this CPU).
pub fn enable(id: u32) {
    let id = id as usize;
    let priority = GICD + GICD_IPRIORITYR + (id & !3);
    let shift = 8 * (id % 4);
    write(
        priority,
        (read(priority) & !(0xff << shift)) | (0x80 << shift),
    );
    write(GICD + GICD_ISENABLER + 4 * (id / 32), 1 << (id % 32));
}

/// Raises software-generated interrupt `sgi` (0–15) on `cpu`.
pub fn send_sgi(cpu: usize, sgi: u32) {
    write(GICD + GICD_SGIR, (1 << (16 + cpu)) | (sgi & 0xf));
}

/// Takes every pending interrupt: runs `handle(id)` for each, then signals
/// its end. Called by the IRQ vector, interrupts masked.
pub(crate) fn on_interrupt(handle: impl Fn(u32)) {
    loop {
        let iar = read(GICC + GICC_IAR);
        let id = iar & 0x3ff;
        if id >= SPURIOUS {
            return;
        }
        handle(id);
        write(GICC + GICC_EOIR, iar);
    }
}
