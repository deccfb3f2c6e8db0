//! Backtraces by frame pointers: the return addresses of a chain of frames,
//! read without allocation or locks (so that a signal handler can read its
//! own thread's), and their names, found later on an ordinary thread.
//!
//! A chain is only as long as the frames that keep a frame pointer: build
//! with `-C force-frame-pointers=yes` for whole backtraces. Without it a
//! chain stops at the first frame that uses the register for something
//! else; every step is checked to stay inside the stack it walks, upwards,
//! so a broken chain ends early instead of reading elsewhere.

use std::ops::Range;

/// Most return addresses one backtrace keeps.
pub(crate) const MAX_FRAMES: usize = 32;

/// The value of a register of the code it is expanded into: `$x86_64` on
/// x86_64, `$aarch64` on aarch64, 0 elsewhere.
macro_rules! register {
    ($x86_64:literal, $aarch64:literal) => {{
        let value: usize;
        // SAFETY: reads a register, touches nothing.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::asm!(
                concat!("mov {}, ", $x86_64),
                out(reg) value,
                options(nomem, nostack, preserves_flags)
            );
        }
        // SAFETY: reads a register, touches nothing.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!(
                concat!("mov {}, ", $aarch64),
                out(reg) value,
                options(nomem, nostack, preserves_flags)
            );
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            value = 0;
        }
        value
    }};
}

/// The frame pointer register of the calling code.
#[inline(always)]
pub(crate) fn frame_pointer() -> usize {
    register!("rbp", "x29")
}

/// The stack pointer register of the calling code.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    register!("rsp", "sp")
}

/// The word at `addr`, read by a machine load: stack memory may hold
/// padding that Rust would call uninitialized, which a load of the
/// hardware's does not care about.
///
/// # Safety
///
/// `addr` must be readable and aligned.
#[inline(always)]
unsafe fn load(addr: usize) -> usize {
    let value: usize;
    // SAFETY: the caller's contract.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, qword ptr [{}]", out(reg) value, in(reg) addr,
            options(readonly, nostack, preserves_flags));
    }
    // SAFETY: the caller's contract.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("ldr {}, [{}]", out(reg) value, in(reg) addr,
            options(readonly, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = addr;
        value = 0;
    }
    value
}

/// Writes the return addresses of the frame chain that starts at frame
/// pointer `fp` into `out`, stopping where the chain leaves `stack` or
/// stops going up; returns how many it wrote.
///
/// # Safety
///
/// All of `stack` must be readable memory that nobody writes meanwhile
/// (the calling thread's own stack, or a suspended coroutine's).
pub(crate) unsafe fn walk(mut fp: usize, stack: Range<usize>, out: &mut [usize]) -> usize {
    let word = size_of::<usize>();
    let mut n = 0;
    while n < out.len()
        && fp.is_multiple_of(word)
        && fp >= stack.start
        && fp.saturating_add(2 * word) <= stack.end
    {
        // SAFETY: both words lie inside `stack` (checked above), aligned.
        let (next, ret) = unsafe { (load(fp), load(fp + word)) };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// Writes `address` as a frame of a backtrace: the symbol containing it if
/// the dynamic linker knows it, else the object file and offset (which
/// `addr2line -e FILE OFFSET` turns into a function and line).
pub(crate) fn describe(address: usize, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    // SAFETY: an all-zero Dl_info is valid; dladdr only writes it.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // A return address points after its call: look the call itself up.
    let call = address.saturating_sub(1);
    // SAFETY: dladdr reads its tables and fills `info`.
    let found = unsafe { libc::dladdr(call as *const libc::c_void, &mut info) } != 0;
    write!(f, "{address:#x}")?;
    if !found {
        return Ok(());
    }
    if !info.dli_sname.is_null() {
        // SAFETY: a NUL-terminated string owned by the dynamic linker.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_sname) };
        write!(f, " {}", name.to_string_lossy())?;
    } else if !info.dli_fname.is_null() {
        // SAFETY: as above.
        let file = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        let offset = call - info.dli_fbase as usize;
        write!(f, " {}+{offset:#x}", file.to_string_lossy())?;
    }
    Ok(())
}
