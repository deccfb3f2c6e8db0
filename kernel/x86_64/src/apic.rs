//! The local APIC (`0xfee0_0000`, identity-mapped by the boot page
//! tables): its one-shot timer as the executors' alarm, end of interrupt,
//! and IPIs. The legacy 8259 PICs are masked: SeaBIOS leaves the PIT's
//! IRQ 0 on vector 8, which would look like a double fault.
//!
//! The timer counts down from an initial count at a rate calibrated
//! against the HPET at boot, one-shot for the alarm or periodic for the
//! preemption tick; a deadline further away than the 32-bit count
//! reaches is clamped (the executor then wakes early, sees nothing due, and
//! arms the alarm again).

use crate::{platform, preempt};
use core::arch::asm;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

/// The LAPIC's MMIO base.
const BASE: usize = 0xfee0_0000;
/// End of interrupt.
const EOI: usize = 0x0b0;
/// Spurious interrupt vector register: bit 8 enables the APIC.
const SPURIOUS: usize = 0x0f0;
/// Interrupt command register, low and high halves.
const ICR_LOW: usize = 0x300;
const ICR_HIGH: usize = 0x310;
/// Local vector table entry of the timer.
const LVT_TIMER: usize = 0x320;
/// The timer's initial and current counts, and its divider.
const INITIAL_COUNT: usize = 0x380;
const CURRENT_COUNT: usize = 0x390;
const DIVIDE: usize = 0x3e0;
/// Divide configuration "by 1".
const DIVIDE_BY_1: u32 = 0b1011;

/// The timer's vector.
pub const TIMER_VECTOR: u8 = 32;
/// The vector executors kick each other with.
pub const KICK_VECTOR: u8 = 33;
/// The spurious-interrupt vector (no EOI).
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// Timer counts per millisecond (from the calibration).
static COUNTS_PER_MS: AtomicU64 = AtomicU64::new(0);
/// Timer interrupts taken so far.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);
/// Whether the timer runs the periodic tick (instead of the alarm).
static PERIODIC: AtomicBool = AtomicBool::new(false);
/// Ticks so far.
static TICKS: AtomicU64 = AtomicU64::new(0);
/// LVT timer: periodic mode.
const LVT_PERIODIC: u32 = 1 << 17;

fn write(register: usize, value: u32) {
    // SAFETY: a 32-bit register of the identity-mapped LAPIC.
    unsafe { ptr::write_volatile((BASE + register) as *mut u32, value) }
}

fn read(register: usize) -> u32 {
    // SAFETY: as in `write`.
    unsafe { ptr::read_volatile((BASE + register) as *const u32) }
}

/// Masks the 8259 PICs, enables the LAPIC and calibrates its timer
/// against the HPET (over 2 ms). Interrupts stay disabled.
pub(crate) fn init() {
    // SAFETY: writing the PICs' interrupt mask registers only masks them.
    unsafe {
        asm!("out 0x21, al", "out 0xa1, al", in("al") 0xffu8, options(nomem, nostack));
    }
    init_cpu();
    // One-shot, masked while calibrating.
    write(LVT_TIMER, 1 << 16 | u32::from(TIMER_VECTOR));
    let window = Duration::from_millis(2);
    let start = platform::uptime();
    write(INITIAL_COUNT, u32::MAX);
    while platform::uptime() - start < window {
        core::hint::spin_loop();
    }
    let counted = u64::from(u32::MAX - read(CURRENT_COUNT));
    let elapsed = platform::uptime() - start;
    write(INITIAL_COUNT, 0);
    let per_ms = (u128::from(counted) * 1_000_000 / elapsed.as_nanos().max(1)) as u64;
    assert!(per_ms > 0, "apic: the LAPIC timer does not count");
    COUNTS_PER_MS.store(per_ms, Ordering::Relaxed);
    write(LVT_TIMER, u32::from(TIMER_VECTOR));
}

/// Enables this CPU's LAPIC and sets its timer up as the one-shot alarm
/// (the calibration is the boot CPU's: QEMU's LAPIC timers all count at
/// one rate).
pub(crate) fn init_cpu() {
    write(SPURIOUS, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(DIVIDE, DIVIDE_BY_1);
    write(LVT_TIMER, u32::from(TIMER_VECTOR));
}

/// Sends an INIT IPI to the CPU with APIC id `cpu`.
pub(crate) fn send_init(cpu: usize) {
    write(ICR_HIGH, (cpu as u32) << 24);
    write(ICR_LOW, 0x4500);
}

/// Sends a start-up IPI to the CPU with APIC id `cpu`: it starts in real
/// mode at `page << 12`.
pub(crate) fn send_startup(cpu: usize, page: u8) {
    write(ICR_HIGH, (cpu as u32) << 24);
    write(ICR_LOW, 0x4600 | u32::from(page));
}

/// Arms the timer to interrupt at `deadline` (rounded up, never early
/// unless clamped), or stops it.
pub fn set_alarm(deadline: Option<Duration>) {
    let Some(deadline) = deadline else {
        write(INITIAL_COUNT, 0);
        return;
    };
    let wait = deadline.saturating_sub(platform::uptime());
    let counts = (wait.as_nanos() * u128::from(COUNTS_PER_MS.load(Ordering::Relaxed)))
        .div_ceil(1_000_000)
        .max(1);
    // Writing the initial count (re)starts the one-shot countdown.
    write(INITIAL_COUNT, u32::try_from(counts).unwrap_or(u32::MAX));
}

/// Sends the kick IPI to the CPU with APIC id `cpu`.
pub fn send_kick(cpu: usize) {
    write(ICR_HIGH, (cpu as u32) << 24);
    write(ICR_LOW, u32::from(KICK_VECTOR));
}

/// Signals the end of the interrupt being handled.
pub(crate) fn end_of_interrupt() {
    write(EOI, 0);
}

/// Counts a timer interrupt (for the alarm, its handler has nothing else
/// to do: the executor reads the clock when `hlt` returns); a tick asks
/// for a preemption.
pub(crate) fn on_timer() {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    if PERIODIC.load(Ordering::Relaxed) {
        TICKS.fetch_add(1, Ordering::Relaxed);
        preempt::request_resched();
    }
}

/// Starts a periodic tick of `period` (instead of the alarm; the two are
/// not multiplexed: the `preemption` image runs no executor).
pub fn start_periodic(period: Duration) {
    let counts = (period.as_nanos() * u128::from(COUNTS_PER_MS.load(Ordering::Relaxed)))
        .div_ceil(1_000_000)
        .max(1);
    PERIODIC.store(true, Ordering::Relaxed);
    write(LVT_TIMER, LVT_PERIODIC | u32::from(TIMER_VECTOR));
    write(INITIAL_COUNT, u32::try_from(counts).unwrap_or(u32::MAX));
}

/// Stops the periodic tick; the timer is the one-shot alarm again.
pub fn stop() {
    write(INITIAL_COUNT, 0);
    write(LVT_TIMER, u32::from(TIMER_VECTOR));
    PERIODIC.store(false, Ordering::Relaxed);
}

/// Ticks so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Timer interrupts taken so far.
pub fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::Relaxed)
}
