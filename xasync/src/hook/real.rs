//! The real functions behind the hooks: the next definition of each symbol
//! after this object in the dynamic linker's search order (libc's), found
//! with `dlsym(RTLD_NEXT, ..)`.
//!
//! Why `dlsym` rather than raw system calls: the real function keeps every
//! libc detail the hook must not change (cancellation points, `poll` and
//! `select` on CPUs that only have `ppoll` and `pselect6`, `sleep` and
//! `usleep` built on `nanosleep`, `getaddrinfo`, which is no system call at
//! all). Photon, libgo and brpc's bthread do the same.
//!
//! Each pointer is resolved once, when the program (or the shared
//! library) is loaded (`mod.rs`), so that a hooked call never
//! enters `dlsym` (which takes the loader's lock and may allocate: neither
//! is safe in a signal handler). A call made before the constructor ran
//! (from another library's constructor) resolves its own pointer.

use libc::{
    addrinfo, c_char, c_int, c_uint, c_ulong, c_void, clockid_t, fd_set, iovec, msghdr, nfds_t,
    pollfd, sigset_t, size_t, sockaddr, socklen_t, ssize_t, timespec, timeval, useconds_t,
};
use std::sync::atomic::{AtomicPtr, Ordering};

/// The next definition of `name` (NUL-terminated), or null.
fn lookup(name: &[u8]) -> *mut c_void {
    // SAFETY: `name` is a NUL-terminated symbol name (built by `real!`);
    // `RTLD_NEXT` is a valid pseudo-handle.
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) }
}

/// Finds the real `name` (NUL-terminated) and caches it in `slot`.
#[cold]
fn resolve(slot: &AtomicPtr<c_void>, name: &[u8]) -> *mut c_void {
    let found = lookup(name);
    if found.is_null() {
        // Without the real function nothing can go on: a statically linked
        // libc (no dynamic loader) cannot be hooked this way.
        let message = b"xasync: hook: dlsym(RTLD_NEXT) cannot find a libc function\n";
        // SAFETY: a valid buffer and its length.
        unsafe { libc::syscall(libc::SYS_write, 2, message.as_ptr(), message.len()) };
        std::process::abort();
    }
    slot.store(found, Ordering::Relaxed);
    found
}

/// Defines, per function, a static slot for its real address and an
/// `unsafe fn` of the same name and signature calling it.
macro_rules! real {
    ($( fn $name:ident($($arg:ident: $ty:ty),* $(; $variadic:tt)?) -> $ret:ty; )*) => {
        $(
            #[allow(non_upper_case_globals, reason = "named after the function")]
            static $name: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
        )*

        /// Resolves every real function (at load, see `mod.rs`). One that
        /// this libc lacks (`fcntl64` before glibc 2.28) stays null: only a
        /// call to it fails.
        pub(super) fn resolve_all() {
            $( $name.store(lookup(concat!(stringify!($name), "\0").as_bytes()), Ordering::Relaxed); )*
        }

        /// The real functions, with libc's signatures.
        pub(super) mod call {
            #[allow(clippy::wildcard_imports, reason = "the macro names the types")]
            use super::*;
            $(
                /// The real function of this name.
                ///
                /// # Safety
                ///
                /// As the libc function's.
                #[inline(always)]
                pub(in crate::hook) unsafe fn $name($($arg: $ty),*) -> $ret {
                    let mut f = super::$name.load(Ordering::Relaxed);
                    if f.is_null() {
                        f = super::resolve(&super::$name, concat!(stringify!($name), "\0").as_bytes());
                    }
                    type Real = unsafe extern "C" fn($($ty),* $(, $variadic)?) -> $ret;
                    // SAFETY: `f` is the address of the libc function of
                    // this name, whose C signature `Real` spells.
                    let f = unsafe { std::mem::transmute::<*mut c_void, Real>(f) };
                    // SAFETY: the caller upholds the function's contract.
                    unsafe { f($($arg),*) }
                }
            )*
        }
    };
}

real! {
    fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t;
    fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t;
    fn readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t;
    fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t;
    fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t;
    fn recvfrom(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr, addrlen: *mut socklen_t) -> ssize_t;
    fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t;
    fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t;
    fn sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, addrlen: socklen_t) -> ssize_t;
    fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t;
    fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    fn socketpair(domain: c_int, ty: c_int, protocol: c_int, sv: *mut c_int) -> c_int;
    fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int;
    fn pipe(fds: *mut c_int) -> c_int;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn dup(fd: c_int) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong; ...) -> c_int;
    fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong; ...) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void; ...) -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: socklen_t) -> c_int;
    fn shutdown(fd: c_int, how: c_int) -> c_int;
    fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int;
    fn ppoll(fds: *mut pollfd, nfds: nfds_t, timeout: *const timespec, sigmask: *const sigset_t) -> c_int;
    fn select(nfds: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, timeout: *mut timeval) -> c_int;
    fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int;
    fn clock_nanosleep(clock: clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int;
    fn usleep(usec: useconds_t) -> c_int;
    fn sleep(seconds: c_uint) -> c_uint;
    fn __chk_fail() -> ();
    fn getaddrinfo(node: *const c_char, service: *const c_char, hints: *const addrinfo, res: *mut *mut addrinfo) -> c_int;
}
