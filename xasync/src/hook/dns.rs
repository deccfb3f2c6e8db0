//! Name resolution: `getaddrinfo` from a coroutine runs on the runtime's
//! blocking pool (it reads files and sends queries through libc's internal
//! calls, which no hook sees), so only the coroutine waits.

use super::real::call;
use super::{coroutine, errno, set_errno, wait};
use libc::{addrinfo, c_char, c_int};
use std::ffi::{CStr, CString};

/// The hooked `getaddrinfo(3)`.
///
/// # Safety
///
/// As `getaddrinfo(3)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let coroutine = match coroutine() {
        Some(coroutine) if !res.is_null() => coroutine,
        // SAFETY: the caller's arguments, passed on.
        _ => return unsafe { call::getaddrinfo(node, service, hints, res) },
    };
    // Owned copies for the pool thread.
    // SAFETY: non-null strings are the caller's NUL-terminated ones.
    let owned =
        |s: *const c_char| (!s.is_null()).then(|| CString::from(unsafe { CStr::from_ptr(s) }));
    let (node, service) = (owned(node), owned(service));
    // Only flags, family, socktype and protocol of the hints count; the
    // rest must be zero or null (getaddrinfo(3)).
    // SAFETY: non-null hints are the caller's.
    let hints = (!hints.is_null()).then(|| unsafe {
        let h = &*hints;
        [h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol]
    });
    let lookup = crate::Handle::current().blocking(move || {
        let hints = hints.map(|[flags, family, socktype, protocol]| {
            // SAFETY: all-zero is a valid addrinfo (null pointers).
            let mut h: addrinfo = unsafe { std::mem::zeroed() };
            (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol) =
                (flags, family, socktype, protocol);
            h
        });
        let c = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        let mut list = std::ptr::null_mut();
        // SAFETY: owned strings and hints, and a place for the result.
        let status = unsafe {
            call::getaddrinfo(
                c(&node),
                c(&service),
                hints.as_ref().map_or(std::ptr::null(), |h| h),
                &mut list,
            )
        };
        // The list is the caller's to free; an address, to cross threads.
        (status, list as usize, errno())
    });
    // Cancelled meanwhile: the lookup finishes on the pool (its list is
    // not freed) and the call fails.
    let Some((status, list, error)) = wait::suspend(coroutine, lookup) else {
        set_errno(libc::ECANCELED);
        return libc::EAI_SYSTEM;
    };
    // SAFETY: the caller's place for the result.
    unsafe { *res = list as *mut addrinfo };
    set_errno(error);
    status
}
