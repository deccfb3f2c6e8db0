//! Virtual memory for stacks: reserve, guard, release.

use std::io;
use std::ptr::NonNull;
use std::sync::OnceLock;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

/// The system page size.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page)
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096)
    })
}

/// `vm.max_map_count`: how many memory mappings a process may have.
pub(crate) fn max_map_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65_530)
    })
}

/// Reserves `len` bytes of private, zeroed, lazily committed memory.
pub(crate) fn map(len: usize) -> io::Result<NonNull<u8>> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | map_stack();
    // SAFETY: an anonymous mapping at an address of the kernel's choosing
    // touches no existing memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn map_stack() -> libc::c_int {
    libc::MAP_STACK
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn map_stack() -> libc::c_int {
    0
}

/// `madvise` advice that turns a range into a guard region: its page-table
/// entries fault on any access, without a mapping of its own (so without
/// costing one of the process's `vm.max_map_count` mappings). Linux 6.13+;
/// older kernels answer `EINVAL`. Defined here since the `libc` crate may
/// not have it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Whether the kernel makes guard regions ([`install_guard`] works), probed
/// once. `XASYNC_GUARD_REGIONS=0` in the environment answers no, so that a
/// program (or a test) can see how xasync behaves on older kernels.
pub(crate) fn guard_regions() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        if std::env::var_os("XASYNC_GUARD_REGIONS").is_some_and(|v| v == "0") {
            return false;
        }
        let page = page_size();
        let Ok(probe) = map(page) else {
            return false;
        };
        // SAFETY: our fresh mapping, which nothing uses.
        let supported = unsafe { install_guard(probe, page) }.is_ok();
        // SAFETY: as above.
        unsafe { unmap(probe, page) };
        supported
    })
}

/// Makes `len` bytes at `ptr` a guard region (see [`guard_regions`]).
///
/// # Safety
///
/// The range must lie inside a mapping made by [`map`] that nothing uses;
/// its contents are discarded.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn install_guard(ptr: NonNull<u8>, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range.
    if unsafe { libc::madvise(ptr.as_ptr().cast(), len, MADV_GUARD_INSTALL) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the first `len` bytes of each of `count` slots of `stride` bytes
/// at `base` guard regions, in as few system calls as the kernel allows:
/// `process_madvise` on the calling thread takes a thousand ranges at once
/// where the kernel allows it (newer than guard regions themselves);
/// elsewhere, one `madvise` per slot.
///
/// # Safety
///
/// As for [`install_guard`], for every range.
pub(crate) unsafe fn install_guards(
    base: NonNull<u8>,
    stride: usize,
    count: usize,
    len: usize,
) -> io::Result<()> {
    let mut done = 0;
    #[cfg(target_os = "linux")]
    if BATCHES.load(Ordering::Relaxed) {
        // SAFETY: forwarded from the caller.
        done = unsafe { advise_slots(base, stride, count, 0, len, MADV_GUARD_INSTALL) };
        if done < count {
            // Not supported here (or a failure, which the one-by-one path
            // below meets again and reports).
            BATCHES.store(false, Ordering::Relaxed);
        }
    }
    for index in done..count {
        // SAFETY: forwarded from the caller; inside its range.
        unsafe { install_guard(base.add(index * stride), len)? };
    }
    Ok(())
}

/// Commits the `len` bytes at `offset` in each of `count` slots of
/// `stride` bytes at `base` (`MADV_POPULATE_WRITE`), in one system call
/// per thousand slots, so that the first touch of each takes no page
/// fault. Best effort: where the kernel cannot batch it, the pages stay
/// to be faulted in on first touch.
///
/// # Safety
///
/// Every range must lie inside a mapping made by [`map`] that the caller
/// owns; the contents of pages already committed are kept.
pub(crate) unsafe fn populate(
    base: NonNull<u8>,
    stride: usize,
    count: usize,
    offset: usize,
    len: usize,
) {
    #[cfg(target_os = "linux")]
    if BATCHES.load(Ordering::Relaxed) {
        // SAFETY: forwarded from the caller.
        unsafe { advise_slots(base, stride, count, offset, len, libc::MADV_POPULATE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (base, stride, count, offset, len);
}

/// Gives `advice` for the `len` bytes at `offset` in each of `count` slots
/// of `stride` bytes at `base`, a thousand ranges per `process_madvise`;
/// answers how many slots, from the first, it was given for (all of them,
/// unless the kernel refused a batch).
///
/// # Safety
///
/// Every range must lie inside a mapping made by [`map`] that the caller
/// owns, and `advice` be one the caller may give for it.
#[cfg(target_os = "linux")]
unsafe fn advise_slots(
    base: NonNull<u8>,
    stride: usize,
    count: usize,
    offset: usize,
    len: usize,
    advice: libc::c_int,
) -> usize {
    let ranges: Vec<libc::iovec> = (0..count)
        .map(|index| libc::iovec {
            // SAFETY: inside the caller's range.
            iov_base: unsafe { base.add(index * stride + offset) }.as_ptr().cast(),
            iov_len: len,
        })
        .collect();
    let mut done = 0;
    for batch in ranges.chunks(MAX_RANGES) {
        // SAFETY: the caller owns every range and vouches for the advice;
        // the kernel reads `batch`.
        let advised = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF,
                batch.as_ptr(),
                batch.len(),
                advice,
                0,
            )
        };
        if usize::try_from(advised) != Ok(batch.len() * len) {
            break;
        }
        done += batch.len();
    }
    done
}

/// Whether `process_madvise` on the calling thread works here (it installs
/// guards); cleared at its first failure to.
#[cfg(target_os = "linux")]
static BATCHES: AtomicBool = AtomicBool::new(true);

/// The pidfd that names the calling thread (`PIDFD_SELF`), for
/// `process_madvise`; kernels that do not know it answer `EBADF`. Not in
/// the `libc` crate.
#[cfg(target_os = "linux")]
const PIDFD_SELF: libc::c_int = -10_000;

/// Most ranges one `process_madvise` takes (`UIO_MAXIOV`).
#[cfg(target_os = "linux")]
const MAX_RANGES: usize = 1024;

/// Makes `len` bytes at `ptr` a guard region: never, on this system.
///
/// # Safety
///
/// As on Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) unsafe fn install_guard(_: NonNull<u8>, _: usize) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Makes `len` bytes at `ptr` inaccessible (a guard page).
///
/// # Safety
///
/// The range must lie inside a mapping made by [`map`] that nothing uses.
pub(crate) unsafe fn protect_none(ptr: NonNull<u8>, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range.
    if unsafe { libc::mprotect(ptr.as_ptr().cast(), len, libc::PROT_NONE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Releases a mapping made by [`map`].
///
/// # Safety
///
/// Nothing may use the range afterwards.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller gives up the range.
    let rc = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
    debug_assert_eq!(rc, 0, "munmap failed: {}", io::Error::last_os_error());
}
