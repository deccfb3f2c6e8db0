//! A clock in milliseconds that costs one load to read: the runtimes'
//! monitor threads advance it (see [`super::watchdog`]), so that the
//! workers can stamp every resumption of a coroutine without a system
//! call, as Go's sysmon does for its scheduler.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// When the clock started.
static START: OnceLock<Instant> = OnceLock::new();

/// Milliseconds since [`START`], as last advanced.
static NOW_MS: AtomicU64 = AtomicU64::new(0);

/// The coarse time: milliseconds since the first runtime started, behind
/// by at most a monitor's period.
#[inline(always)]
pub(crate) fn now_ms() -> u64 {
    NOW_MS.load(Ordering::Relaxed)
}

/// Reads the real clock and advances the coarse one to it; returns it.
pub(crate) fn advance() -> u64 {
    let start = *START.get_or_init(Instant::now);
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    NOW_MS.fetch_max(ms, Ordering::Relaxed);
    ms
}
