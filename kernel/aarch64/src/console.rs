//! The PL011 UART of QEMU virt (`0x0900_0000`, usable without setup), and
//! [`print!`](crate::print) / [`println!`](crate::println).

use crate::platform::ThisCpu;
use core::fmt::{self, Write};
use core::ptr;
use xasync_kernel_common::sync::IrqSpinLock;

/// The UART's MMIO base on QEMU virt.
const UART_BASE: usize = 0x0900_0000;
/// Data register.
const DR: usize = 0x00;
/// Flag register.
const FR: usize = 0x18;
/// FR: the transmit FIFO is full.
const FR_TXFF: u32 = 1 << 5;

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            // SAFETY: QEMU virt maps a PL011 at UART_BASE (MMU off:
            // physical addresses); polling FR and writing DR drives it.
            unsafe {
                while ptr::read_volatile((UART_BASE + FR) as *const u32) & FR_TXFF != 0 {}
                ptr::write_volatile((UART_BASE + DR) as *mut u32, u32::from(byte));
            }
        }
        Ok(())
    }
}

/// Serializes whole `print!` calls, across CPUs and interrupt handlers.
static LOCK: IrqSpinLock<ThisCpu, ()> = IrqSpinLock::new(());

/// Prints `args` under the console lock. Used by [`print!`](crate::print).
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let _guard = LOCK.lock();
    let _ = Uart.write_fmt(args);
}

/// Prints `args` without taking the lock: for the panic handler and fatal
/// exceptions, which may run while this CPU holds it.
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
