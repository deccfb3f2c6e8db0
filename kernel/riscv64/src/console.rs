//! Console output on the 16550 UART of QEMU virt (`0x1000_0000`, set up by
//! OpenSBI), and the [`print!`](crate::print) / [`println!`](crate::println)
//! macros.
//!
//! Writers take an [`IrqSpinLock`], so lines from different harts and from
//! interrupt handlers do not interleave; the panic handler writes without it.

use crate::sync::IrqSpinLock;
use core::fmt::{self, Write};
use core::ptr;

/// The UART's MMIO base on QEMU virt.
const UART_BASE: usize = 0x1000_0000;
/// Transmit holding register (write).
const THR: usize = 0;
/// Line status register.
const LSR: usize = 5;
/// LSR: the transmit holding register is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Serializes whole `print!` calls.
static LOCK: IrqSpinLock<()> = IrqSpinLock::new(());

/// The UART as a `fmt::Write` sink; translates `\n` to `\r\n`.
struct Uart;

impl Uart {
    fn put(byte: u8) {
        let base = UART_BASE as *mut u8;
        // SAFETY: QEMU virt maps a 16550 UART at UART_BASE (no paging, so
        // physical = virtual); byte-wide volatile MMIO accesses to its LSR
        // and THR registers are how it is driven.
        unsafe {
            while ptr::read_volatile(base.add(LSR)) & LSR_THR_EMPTY == 0 {}
            ptr::write_volatile(base.add(THR), byte);
        }
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                Uart::put(b'\r');
            }
            Uart::put(byte);
        }
        Ok(())
    }
}

/// Prints `args` under the console lock. Used by [`print!`](crate::print).
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let _guard = LOCK.lock();
    let _ = Uart.write_fmt(args);
}

/// Prints `args` without taking the lock: for the panic handler, which may
/// run while this hart holds it.
pub(crate) fn print_unlocked(args: fmt::Arguments<'_>) {
    let _ = Uart.write_fmt(args);
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!($($arg)*))
    };
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::console::_print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
