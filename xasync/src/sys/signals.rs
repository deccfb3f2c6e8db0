//! Installing signal handlers that share their signal: each keeps the
//! action it replaced, and passes it the signals that are not its own.

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Installs `handler` (a `sa_sigaction` value: a function's address,
/// `SIG_DFL` or `SIG_IGN`) for `signal` with `flags` and an empty mask.
/// The action it replaces goes to `previous`, if given, boxed and never
/// freed, so that [`forward`] can read it from a signal handler.
///
/// # Safety
///
/// `handler` is `SIG_DFL`, `SIG_IGN`, or an async-signal-safe function of
/// the form `flags` asks for: three arguments with `SA_SIGINFO`, one
/// without.
pub(crate) unsafe fn install(
    signal: libc::c_int,
    handler: libc::sighandler_t,
    flags: libc::c_int,
    previous: Option<&AtomicPtr<libc::sigaction>>,
) {
    // SAFETY: sigaction with a zeroed struct, the caller's handler and, if
    // asked for, an output slot for the previous action, kept forever.
    unsafe {
        let mut action: libc::sigaction = MaybeUninit::zeroed().assume_init();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        let Some(slot) = previous else {
            libc::sigaction(signal, &action, ptr::null_mut());
            return;
        };
        let old = Box::into_raw(Box::new(
            MaybeUninit::<libc::sigaction>::zeroed().assume_init(),
        ));
        if libc::sigaction(signal, &action, old) == 0 {
            slot.store(old, Ordering::Release);
        } else {
            drop(Box::from_raw(old));
        }
    }
}

/// Calls the handler of the action [`install`] kept in `previous` the way
/// the kernel would have, and returns `true`; returns `false`, calling
/// nothing, if there is none: no action kept, `SIG_DFL` or `SIG_IGN`.
///
/// # Safety
///
/// Called from a handler of `signal` installed by [`install`] with this
/// `previous`, passing on the arguments the kernel gave it (`info` and
/// `context` as received with `SA_SIGINFO`).
pub(crate) unsafe fn forward(
    previous: &AtomicPtr<libc::sigaction>,
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) -> bool {
    // SAFETY: set once by `install` before our handler could run, never
    // freed.
    let Some(previous) = (unsafe { previous.load(Ordering::Acquire).as_ref() }) else {
        return false;
    };
    let target = previous.sa_sigaction;
    if target == libc::SIG_DFL || target == libc::SIG_IGN {
        return false;
    }
    // SAFETY: the previous handler was installed for this signal with these
    // flags; we call it the way the kernel would have.
    unsafe {
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(target);
            f(signal, info, context);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(target);
            f(signal);
        }
    }
    true
}
