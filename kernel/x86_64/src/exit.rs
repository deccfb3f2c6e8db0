//! Leaving QEMU with a status through the isa-debug-exit device
//! (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): writing `v` makes
//! QEMU exit with `(v << 1) | 1`, so no value gives 0; `qemu-run.sh`
//! reads [`SUCCESS`]'s status, 33, as a pass.

use core::arch::asm;

/// The device's I/O port.
const PORT: u16 = 0xf4;
/// The value written for success.
pub const SUCCESS: u32 = 0x10;

fn write(value: u32) -> ! {
    // SAFETY: the write to the debug-exit port ends the emulation.
    unsafe { asm!("out dx, eax", in("dx") PORT, in("eax") value, options(nomem, nostack)) };
    park()
}

/// Parks this CPU for good (interrupts off, `hlt`).
pub fn park() -> ! {
    loop {
        // SAFETY: interrupts are off: `hlt` parks the CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Ends QEMU with status 33, which the runner reports as success.
pub fn success() -> ! {
    write(SUCCESS)
}

/// Ends QEMU with status `(code << 1) | 1` (`code` must not be
/// [`SUCCESS`]; 0 is turned into 1).
pub fn failure(code: u32) -> ! {
    let code = if code == 0 || code == SUCCESS {
        1
    } else {
        code
    };
    write(code)
}
