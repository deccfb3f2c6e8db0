//! The COM1 UART (a 16550 at I/O port `0x3f8`, usable without setup on
//! QEMU), and [`print!`](crate::print) / [`println!`](crate::println).

use crate::platform::ThisCpu;
use core::arch::asm;
use core::fmt::{self, Write};
use xasync_kernel_common::sync::IrqSpinLock;

/// COM1's transmit holding register.
const COM1: u16 = 0x3f8;
/// COM1's line status register.
const LSR: u16 = COM1 + 5;
/// LSR: the transmit holding register is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

struct Uart;

impl Uart {
    fn put(byte: u8) {
        loop {
            let status: u8;
            // SAFETY: reading COM1's line status register has no side effect.
            unsafe { asm!("in al, dx", out("al") status, in("dx") LSR, options(nomem, nostack)) };
            if status & LSR_THR_EMPTY != 0 {
                break;
            }
        }
        // SAFETY: writing the transmit register sends the byte.
        unsafe { asm!("out dx, al", in("dx") COM1, in("al") byte, options(nomem, nostack)) };
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
