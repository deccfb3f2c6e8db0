//! Leaving QEMU with a status, through semihosting (`-semihosting`).

use core::arch::asm;

/// Semihosting operation `SYS_EXIT`.
const SYS_EXIT: u32 = 0x18;
/// `ADP_Stopped_ApplicationExit`: QEMU then exits with the subcode.
const APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends QEMU with exit status `code`.
pub fn exit(code: u32) -> ! {
    let block: [u64; 2] = [APPLICATION_EXIT, u64::from(code)];
    // SAFETY: the semihosting call reads the two-word parameter block at
    // x1 and ends the emulation; QEMU runs with `-semihosting`.
    unsafe {
        asm!(
            "hlt #0xf000",
            in("w0") SYS_EXIT,
            in("x1") block.as_ptr(),
            options(nostack, readonly)
        );
    }
    park()
}

/// Parks this CPU for good.
pub fn park() -> ! {
    loop {
        // SAFETY: `wfe` only waits.
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}
