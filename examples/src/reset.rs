//! Ending a TCP connection with a reset rather than a FIN, as a client that
//! crashes or gives up does; for the tests and the soak client. The
//! examples include this file with `#[path]`, like `accept.rs`.

use std::io;
use std::os::fd::AsRawFd;

/// Makes closing `socket` reset its connection: `SO_LINGER` on, with a
/// timeout of zero.
pub fn reset_on_close(socket: &impl AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is valid while `socket` is borrowed, and
    // `linger` is a valid `struct linger` of the size passed, for the
    // duration of the call.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if set == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
