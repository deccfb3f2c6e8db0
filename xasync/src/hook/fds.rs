//! The descriptors the hooks manage: those created by a hooked call
//! (`socket`, `socketpair`, `accept`, `pipe`, and the `dup`s of those).
//! Descriptors from elsewhere (inherited ones such as standard input, files,
//! eventfds, the runtime's own) are never touched: their calls are the real
//! ones in every context.
//!
//! A managed descriptor is put in non-blocking mode the first time a
//! coroutine would block on it — not at creation, so that a pipe end handed
//! to a child process (`std::process::Command`) keeps the mode the child
//! expects. From then on the hooks emulate, for a descriptor the user did
//! not make non-blocking, the blocking behaviour the user expects, in every
//! context; `fcntl(F_GETFL)` reports the mode the user set.

use super::real::call;
use super::wait::Watch;
use crate::io::pollable::Direction;
use libc::c_int;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What an open file description (shared by its `dup`s) looks like to the
/// user.
#[derive(Default)]
pub(super) struct File {
    /// The user made it non-blocking (`O_NONBLOCK`, `FIONBIO`,
    /// `SOCK_NONBLOCK`): calls fail with `EAGAIN` as before.
    user_nonblocking: AtomicBool,
    /// The hooks put it in non-blocking mode.
    nonblocking: AtomicBool,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` in nanoseconds (0: none), which the
    /// kernel ignores in non-blocking mode.
    timeouts: [AtomicU64; 2],
    /// It is a socket (else a pipe): a ring receives and sends on it
    /// whatever its mode, whereas it fails a read from a non-blocking pipe
    /// with `EAGAIN` rather than waiting.
    socket: bool,
}

impl File {
    /// A description made non-blocking by the user or not, of a socket or
    /// not.
    pub(super) fn new(user_nonblocking: bool, socket: bool) -> Arc<File> {
        let file = File {
            socket,
            ..File::default()
        };
        file.user_nonblocking
            .store(user_nonblocking, Ordering::Relaxed);
        Arc::new(file)
    }

    /// Whether the user made it non-blocking.
    pub(super) fn user_nonblocking(&self) -> bool {
        self.user_nonblocking.load(Ordering::Relaxed)
    }

    /// Records the mode the user set.
    pub(super) fn set_user_nonblocking(&self, on: bool) {
        self.user_nonblocking.store(on, Ordering::Relaxed);
    }

    /// Whether it is a socket.
    pub(super) fn is_socket(&self) -> bool {
        self.socket
    }

    /// Whether the hooks put it in non-blocking mode.
    pub(super) fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// Records a timeout set with `setsockopt`.
    pub(super) fn set_timeout(&self, direction: Direction, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.timeouts[direction as usize].store(nanos, Ordering::Relaxed);
    }

    /// The deadline of a call in `direction` starting now (`None`: none).
    pub(super) fn deadline(&self, direction: Direction) -> Option<Instant> {
        match self.timeouts[direction as usize].load(Ordering::Relaxed) {
            0 => None,
            nanos => Instant::now().checked_add(Duration::from_nanos(nanos)),
        }
    }
}

/// A managed descriptor.
pub(super) struct Fd {
    pub(super) fd: RawFd,
    pub(super) file: Arc<File>,
    pub(super) watch: Watch,
}

impl Fd {
    /// Whether the hooks emulate blocking calls on it: the user did not
    /// make it non-blocking.
    pub(super) fn emulates_blocking(&self) -> bool {
        !self.file.user_nonblocking()
    }

    /// Puts the descriptor in non-blocking mode (once); false if that
    /// failed (then its calls stay the real, blocking ones).
    pub(super) fn make_nonblocking(&self) -> bool {
        if self.file.is_nonblocking() {
            return true;
        }
        // SAFETY: fcntl on a descriptor number; F_GETFL takes no argument.
        let flags = unsafe { call::fcntl(self.fd, libc::F_GETFL, 0) };
        if flags < 0 {
            return false;
        }
        if flags & libc::O_NONBLOCK == 0 {
            let flags = (flags | libc::O_NONBLOCK) as libc::c_ulong;
            // SAFETY: as above; F_SETFL takes an int of flags.
            if unsafe { call::fcntl(self.fd, libc::F_SETFL, flags) } < 0 {
                return false;
            }
        }
        self.file.nonblocking.store(true, Ordering::Relaxed);
        true
    }
}

/// Descriptors per chunk of the table, and chunks: numbers up to 2^20 are
/// managed (above, calls are the real ones).
const CHUNK: usize = 1024;
const CHUNKS: usize = 1024;

type Slot = Mutex<Option<Arc<Fd>>>;

/// The table, by descriptor number; chunks are allocated on first use and
/// live as long as the process.
static TABLE: [AtomicPtr<[Slot; CHUNK]>; CHUNKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; CHUNKS];

/// The slot of `fd`, allocating its chunk if `create`; none in a forked
/// process (see `FORKED`).
fn slot(fd: RawFd, create: bool) -> Option<&'static Slot> {
    if super::is_forked() {
        return None;
    }
    let fd = usize::try_from(fd).ok()?;
    let chunk = TABLE.get(fd / CHUNK)?;
    let mut slots = chunk.load(Ordering::Acquire);
    if slots.is_null() {
        if !create {
            return None;
        }
        // Built on the heap: a coroutine's stack may be too small for it.
        let fresh: Box<[Slot]> = (0..CHUNK).map(|_| Mutex::new(None)).collect();
        let Ok(fresh) = Box::<[Slot; CHUNK]>::try_from(fresh) else {
            unreachable!("CHUNK slots were made")
        };
        let fresh = Box::into_raw(fresh);
        slots = match chunk.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(other) => {
                // SAFETY: `fresh` came from `Box::into_raw` just above and
                // was not published.
                drop(unsafe { Box::from_raw(fresh) });
                other
            }
        };
    }
    // SAFETY: published chunks are never freed.
    Some(&unsafe { &*slots }[fd % CHUNK])
}

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Arc<Fd>>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The managed descriptor `fd`, if it is one and `wanted` holds for it
/// (checked under the slot's lock: no reference is taken otherwise).
fn get_if(fd: RawFd, wanted: impl FnOnce(&Fd) -> bool) -> Option<Arc<Fd>> {
    let slot = slot(fd, false)?;
    let managed = lock(slot);
    managed.as_ref().filter(|&fd| wanted(fd)).cloned()
}

/// The managed descriptor `fd`, if it is one.
pub(super) fn get(fd: RawFd) -> Option<Arc<Fd>> {
    get_if(fd, |_| true)
}

/// The managed descriptor `fd` if the hooks emulate blocking calls on it.
pub(super) fn emulating(fd: RawFd) -> Option<Arc<Fd>> {
    get_if(fd, Fd::emulates_blocking)
}

/// The managed descriptor `fd` if the hooks emulate blocking calls on it
/// and put it in non-blocking mode: a call on it that fails with `EAGAIN`
/// must wait and try again.
pub(super) fn emulated(fd: RawFd) -> Option<Arc<Fd>> {
    get_if(fd, |fd| fd.emulates_blocking() && fd.file.is_nonblocking())
}

/// Starts managing the new descriptor `fd` as `file`.
pub(super) fn insert(fd: RawFd, file: Arc<File>) {
    let Some(slot) = slot(fd, true) else { return };
    let fresh = Arc::new(Fd {
        fd,
        file,
        watch: Watch::new(fd),
    });
    // A stale entry (the number was closed behind the hooks' back) goes,
    // outside the slot's lock.
    let stale = lock(slot).replace(fresh);
    if let Some(stale) = stale {
        stale.watch.close();
    }
}

/// Stops managing `fd` before it is closed (or replaced by `dup2`): its
/// registration goes, and its waiters fail.
pub(super) fn remove(fd: RawFd) {
    let Some(slot) = slot(fd, false) else { return };
    let removed = lock(slot).take();
    if let Some(removed) = removed {
        removed.watch.close();
    }
}

/// Records a new descriptor created by a hooked call, unless it failed.
pub(super) fn created(fd: c_int, user_nonblocking: bool, socket: bool) -> c_int {
    if fd >= 0 {
        insert(fd, File::new(user_nonblocking, socket));
    }
    fd
}
