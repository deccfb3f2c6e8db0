//! Calls into the SBI firmware (OpenSBI on QEMU): timer, IPIs, hart state
//! management.

use core::arch::asm;
use core::fmt;

/// Extension IDs.
const EXT_TIME: usize = 0x5449_4D45; // "TIME"
const EXT_IPI: usize = 0x0073_5049; // "sPI"
const EXT_HSM: usize = 0x0048_534D; // "HSM"
const EXT_BASE: usize = 0x10;

/// An SBI error code (negative `a0` of a call).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SbiError(pub isize);

impl SbiError {
    /// SBI_ERR_INVALID_PARAM: e.g. a hart id that does not exist.
    pub const INVALID_PARAM: SbiError = SbiError(-3);
    /// SBI_ERR_ALREADY_AVAILABLE: e.g. the hart is already started.
    pub const ALREADY_AVAILABLE: SbiError = SbiError(-6);

    fn name(self) -> &'static str {
        match self.0 {
            -1 => "failed",
            -2 => "not supported",
            -3 => "invalid parameter",
            -4 => "denied",
            -5 => "invalid address",
            -6 => "already available",
            -7 => "already started",
            -8 => "already stopped",
            _ => "unknown error",
        }
    }
}

impl fmt::Debug for SbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SbiError({}: {})", self.0, self.name())
    }
}

/// Makes the call `(eid, fid)` with three arguments.
#[inline]
fn call(eid: usize, fid: usize, a0: usize, a1: usize, a2: usize) -> Result<usize, SbiError> {
    let (error, value): (isize, usize);
    // SAFETY: an `ecall` to the SBI clobbers only a0/a1 (the SBI calling
    // convention preserves every other register) and touches no memory of
    // ours, except what the call's own contract says (none of ours does).
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") a0 => error,
            inlateout("a1") a1 => value,
            in("a2") a2,
            in("a6") fid,
            in("a7") eid,
            options(nostack),
        )
    };
    if error == 0 {
        Ok(value)
    } else {
        Err(SbiError(error))
    }
}

/// Whether the firmware implements the extension `eid`.
pub fn probe_extension(eid: usize) -> bool {
    matches!(call(EXT_BASE, 3, eid, 0, 0), Ok(v) if v != 0)
}

/// Programs this hart's next timer interrupt for when the `time` CSR reaches
/// `deadline`, and clears a pending one (`u64::MAX`: none).
pub fn set_timer(deadline: u64) {
    call(EXT_TIME, 0, deadline as usize, 0, 0).expect("SBI set_timer failed");
}

/// Sends a supervisor software interrupt to the harts in `mask`, where bit
/// `i` stands for hart `base + i`.
pub fn send_ipi(mask: usize, base: usize) -> Result<(), SbiError> {
    call(EXT_IPI, 0, mask, base, 0).map(drop)
}

/// The state of a hart, as the HSM extension reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HartState {
    /// Running.
    Started,
    /// Not running; `hart_start` can start it.
    Stopped,
    /// A start was requested.
    StartPending,
    /// A stop was requested.
    StopPending,
    /// Suspended (or another state of a newer SBI).
    Other(usize),
}

/// Starts the stopped hart `hart_id` in S-mode at physical address `start`
/// with `a0 = hart_id`, `a1 = opaque`, interrupts and paging off.
pub fn hart_start(hart_id: usize, start: usize, opaque: usize) -> Result<(), SbiError> {
    call(EXT_HSM, 0, hart_id, start, opaque).map(drop)
}

/// Stops the calling hart; it can be started again with [`hart_start`].
pub fn hart_stop() -> ! {
    let _ = call(EXT_HSM, 1, 0, 0, 0);
    unreachable!("SBI hart_stop returned")
}

/// The state of hart `hart_id`; `Err(INVALID_PARAM)` if there is none.
pub fn hart_status(hart_id: usize) -> Result<HartState, SbiError> {
    call(EXT_HSM, 2, hart_id, 0, 0).map(|state| match state {
        0 => HartState::Started,
        1 => HartState::Stopped,
        2 => HartState::StartPending,
        3 => HartState::StopPending,
        other => HartState::Other(other),
    })
}

/// Whether the firmware has the TIME, sPI and HSM extensions this kernel
/// uses.
pub fn has_required_extensions() -> bool {
    [EXT_TIME, EXT_IPI, EXT_HSM]
        .into_iter()
        .all(probe_extension)
}
