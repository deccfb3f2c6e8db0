//! Per-socket read and write timeouts (`set_read_timeout` style).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// "No timeout".
const NONE: u64 = u64::MAX;

/// A socket's read and write timeouts, in nanoseconds.
#[derive(Debug)]
pub(crate) struct Timeouts {
    read: AtomicU64,
    write: AtomicU64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            read: AtomicU64::new(NONE),
            write: AtomicU64::new(NONE),
        }
    }
}

impl Timeouts {
    pub(crate) fn read(&self) -> Option<Duration> {
        decode(self.read.load(Ordering::Relaxed))
    }

    pub(crate) fn write(&self) -> Option<Duration> {
        decode(self.write.load(Ordering::Relaxed))
    }

    pub(crate) fn set_read(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read.store(encode(timeout)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_write(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write.store(encode(timeout)?, Ordering::Relaxed);
        Ok(())
    }
}

/// As `std`: a zero timeout is an error (it would mean "never wait").
fn encode(timeout: Option<Duration>) -> io::Result<u64> {
    match timeout {
        None => Ok(NONE),
        Some(t) if t.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        )),
        Some(t) => Ok(u64::try_from(t.as_nanos())
            .unwrap_or(NONE - 1)
            .min(NONE - 1)),
    }
}

fn decode(nanos: u64) -> Option<Duration> {
    (nanos != NONE).then(|| Duration::from_nanos(nanos))
}
