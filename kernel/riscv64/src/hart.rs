//! Per-hart state, found through the `tp` register.
//!
//! The boot code points `tp` at this hart's [`HartLocal`] before any Rust
//! code runs, and nothing changes it afterwards: the kernel runs only in
//! S-mode and LLVM never allocates `tp`. So [`this`] is one register move,
//! valid in interrupt handlers too. (With user mode, the trap entry would
//! swap it through `sscratch`.)
//!
//! Fields other harts may read are atomics; the rest are atomics too so that
//! the array can be a plain `static`, accessed with `Relaxed` ordering.

use crate::trap::TrapFrame;
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use xasync_kernel_common::preempt::Slot;

/// Harts the kernel supports; higher hart ids are parked at boot.
pub const MAX_HARTS: usize = 8;
/// Each hart's boot stack (in `.bss`), where its base context runs.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;
/// Each hart's interrupt stack (in `.bss`), where trap handlers run.
pub const IRQ_STACK_SIZE: usize = 16 * 1024;

/// The state of one hart.
#[repr(C, align(64))]
pub struct HartLocal {
    // Read by the trap entry in assembly (offsets taken with `offset_of!`).
    /// A register spilled by the trap entry while it finds the frame.
    pub(crate) trap_scratch: AtomicUsize,
    /// Nesting depth of traps being handled; 0 outside handlers.
    pub(crate) trap_depth: AtomicUsize,
    /// Where the outermost trap frame goes: the top of the IRQ stack.
    pub(crate) trap_frame: AtomicUsize,

    id: AtomicUsize,
    online: AtomicBool,
    /// Timer state, see [`crate::timer`].
    pub(crate) timer: TimerState,
    /// Preemption state, see [`crate::preempt`].
    pub(crate) preempt: Slot,
    /// Software interrupts (IPIs) received.
    ipis: AtomicU64,
    /// An opaque per-hart pointer for the runtime (e.g. its executor).
    current: AtomicPtr<()>,
}

/// The timer fields of a [`HartLocal`].
pub(crate) struct TimerState {
    /// Periodic ticks taken.
    pub(crate) ticks: AtomicU64,
    /// Period in `time` units; 0 when the periodic timer is off.
    pub(crate) period: AtomicU64,
    /// When the next tick is due (`u64::MAX`: off).
    pub(crate) deadline: AtomicU64,
    /// When the one-shot alarm is due (`u64::MAX`: disarmed).
    pub(crate) alarm: AtomicU64,
    /// Alarm interrupts taken.
    pub(crate) alarms: AtomicU64,
    /// A `fn(&Tick)` to call on each tick, or null.
    pub(crate) hook: AtomicPtr<()>,
}

impl HartLocal {
    const fn new() -> Self {
        HartLocal {
            trap_scratch: AtomicUsize::new(0),
            trap_depth: AtomicUsize::new(0),
            trap_frame: AtomicUsize::new(0),
            id: AtomicUsize::new(0),
            online: AtomicBool::new(false),
            timer: TimerState {
                ticks: AtomicU64::new(0),
                period: AtomicU64::new(0),
                deadline: AtomicU64::new(u64::MAX),
                alarm: AtomicU64::new(u64::MAX),
                alarms: AtomicU64::new(0),
                hook: AtomicPtr::new(core::ptr::null_mut()),
            },
            preempt: Slot::new(),
            ipis: AtomicU64::new(0),
            current: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The hart id (as the SBI numbers harts).
    pub fn id(&self) -> usize {
        self.id.load(Ordering::Relaxed)
    }

    /// Whether the hart has booted and not stopped.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Periodic timer ticks this hart has taken.
    pub fn ticks(&self) -> u64 {
        self.timer.ticks.load(Ordering::Relaxed)
    }

    /// IPIs this hart has received.
    pub fn ipis(&self) -> u64 {
        self.ipis.load(Ordering::Relaxed)
    }

    /// Preemptions performed on this hart.
    pub fn preemptions(&self) -> u64 {
        self.preempt.preemptions()
    }

    /// The runtime's per-hart pointer (null until set).
    pub fn current(&self) -> *mut () {
        self.current.load(Ordering::Acquire)
    }

    /// Sets the runtime's per-hart pointer.
    pub fn set_current(&self, current: *mut ()) {
        self.current.store(current, Ordering::Release);
    }

    pub(crate) fn count_ipi(&self) {
        self.ipis.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
    }
}

/// Every hart's state, indexed by hart id. Zero-initialized, so it lives in
/// `.bss` and is set up by [`init`].
pub(crate) static HARTS: [HartLocal; MAX_HARTS] = [const { HartLocal::new() }; MAX_HARTS];

unsafe extern "C" {
    /// `MAX_HARTS` interrupt stacks of `IRQ_STACK_SIZE` bytes (boot.rs).
    static __irq_stacks: u8;
}

/// The calling hart's state.
#[inline]
pub fn this() -> &'static HartLocal {
    let tp: usize;
    // SAFETY: reading `tp` has no side effect.
    unsafe { asm!("mv {}, tp", out(reg) tp, options(nomem, nostack, preserves_flags)) };
    // SAFETY: the boot code set `tp` to `&HARTS[hart_id]` before any Rust
    // code ran on this hart, and nothing changes it (see the module docs).
    unsafe { &*(tp as *const HartLocal) }
}

/// The state of hart `id`, if the kernel supports that id.
pub fn get(id: usize) -> Option<&'static HartLocal> {
    HARTS.get(id)
}

/// Sets up the calling hart's state (the boot code already set `tp`).
///
/// # Safety
///
/// Called once per boot of the hart, first thing, with its id.
pub(crate) unsafe fn init(id: usize) {
    let hart = this();
    debug_assert!(core::ptr::eq(hart, &HARTS[id]));
    hart.id.store(id, Ordering::Relaxed);
    let stacks = &raw const __irq_stacks as usize;
    let top = stacks + (id + 1) * IRQ_STACK_SIZE;
    hart.trap_frame
        .store(top - size_of::<TrapFrame>(), Ordering::Relaxed);
    hart.trap_depth.store(0, Ordering::Relaxed);
    hart.set_online(true);
}
