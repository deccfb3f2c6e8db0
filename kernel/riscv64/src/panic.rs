//! The panic handler: prints the message and ends QEMU with exit status 1
//! (the first hart to panic does; see `xasync_kernel_common::panic`).

use crate::console::print_unlocked;
use crate::sync::ThisHart;
use crate::{exit, hart};
use core::panic::PanicInfo;
use xasync_kernel_common::panic::{Panicking, enter};

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match enter::<ThisHart>() {
        Panicking::Report => {}
        Panicking::Again => exit::failure(2),
        Panicking::Park => exit::park(),
    }
    // Unlocked: this hart may hold the console lock.
    print_unlocked(format_args!(
        "\nxasync-kernel: PANIC on hart {}: {info}\n",
        hart::this().id()
    ));
    exit::failure(1)
}
