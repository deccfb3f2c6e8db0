//! The panic handler: prints the message and ends QEMU with exit status 1.

use crate::console::print_unlocked;
use crate::{exit, hart, irq};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The id + 1 of the first hart that panicked; 0 before any panic.
static PANICKED: AtomicUsize = AtomicUsize::new(0);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let _ = irq::disable();
    let me = hart::this().id() + 1;
    match PANICKED.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        // A panic while printing our own panic: give up at once.
        Err(first) if first == me => exit::failure(2),
        // Another hart is reporting its panic and will end QEMU.
        Err(_) => exit::park(),
    }
    // Unlocked: this hart may hold the console lock.
    print_unlocked(format_args!(
        "\nxasync-kernel: PANIC on hart {}: {info}\n",
        me - 1
    ));
    exit::failure(1)
}
