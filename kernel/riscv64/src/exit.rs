//! Leaving QEMU with a status, through the sifive_test device at
//! `0x10_0000`: `0x5555` exits 0, `(code << 16) | 0x3333` exits `code`.
//! (SBI system reset cannot report failure: QEMU exits 0 either way.)

use crate::{cpu, irq};

/// The sifive_test ("finisher") device of QEMU virt.
const SIFIVE_TEST: usize = 0x10_0000;
const PASS: u32 = 0x5555;
const FAIL: u32 = 0x3333;

fn write(value: u32) -> ! {
    // SAFETY: QEMU virt maps the sifive_test device at SIFIVE_TEST; a 32-bit
    // write there ends the emulation.
    unsafe { core::ptr::write_volatile(SIFIVE_TEST as *mut u32, value) };
    park()
}

/// Parks this hart for good (interrupts off, `wfi` forever).
pub fn park() -> ! {
    let _ = irq::disable();
    loop {
        cpu::wfi();
    }
}

/// Ends QEMU with exit status 0.
pub fn success() -> ! {
    write(PASS)
}

/// Ends QEMU with exit status `code` (0 is turned into 1: it must fail).
pub fn failure(code: u16) -> ! {
    write((u32::from(code.max(1)) << 16) | FAIL)
}
