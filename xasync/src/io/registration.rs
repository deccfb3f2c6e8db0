//! A file descriptor registered in a worker's reactor, deregistered on
//! drop.

use super::entry::Entry;
use crate::runtime::Handle;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// A registration of `fd` in the reactor of one worker of a runtime.
///
/// The owner must drop it before closing `fd` (declare it before the
/// descriptor's owner in a struct), so that the number cannot be reused by
/// another registration meanwhile.
pub(crate) struct Registration {
    handle: Handle,
    worker: usize,
    fd: RawFd,
    entry: Arc<Entry>,
}

impl Registration {
    /// Registers `fd` for `interest` with the reactor of the current worker
    /// (from elsewhere: a worker of the current or default runtime chosen
    /// by thread).
    pub(crate) fn new(
        fd: RawFd,
        interest: mio::Interest,
        entry: Entry,
    ) -> io::Result<Registration> {
        let handle = Handle::current();
        let worker = handle.reactor_index();
        let entry = handle.reactor(worker).register(fd, interest, entry)?;
        Ok(Registration {
            handle,
            worker,
            fd,
            entry,
        })
    }

    /// Where its readiness goes.
    pub(crate) fn entry(&self) -> &Entry {
        &self.entry
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Entry::Callback(slot) = &*self.entry {
            slot.cancel();
        }
        self.handle
            .reactor(self.worker)
            .deregister(self.fd, self.entry.clone());
    }
}
