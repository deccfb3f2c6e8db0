//! The accept loop of the example servers: it survives running out of file
//! descriptors, which a server under load will, by waiting for some to be
//! freed instead of returning the error and exiting.
//!
//! The servers include this file with `#[path]` rather than through the
//! `xasync_examples` library, so that the HTTP benchmark, which compiles
//! `http_hello.rs` by path, gets it too.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use xasync::net::{TcpListener, TcpStream};

/// How long accept waits before retrying when the process is out of file
/// descriptors (the pending connections stay queued in the kernel).
const FD_BACKOFF: Duration = Duration::from_millis(10);

/// Accepts connections forever and hands each to `on_connection`, which
/// should start a coroutine for it. Returns only on an error that concerns
/// the listener itself.
pub fn accept_loop(
    listener: &TcpListener,
    mut on_connection: impl FnMut(TcpStream, SocketAddr),
) -> io::Result<()> {
    let mut out_of_fds = false;
    loop {
        match listener.accept() {
            Ok((conn, peer)) => {
                out_of_fds = false;
                on_connection(conn, peer);
            }
            Err(e) if is_out_of_fds(&e) => {
                // Said once per shortage, not every 10 ms.
                if !out_of_fds {
                    eprintln!("accept: {e}; retrying every {FD_BACKOFF:?}");
                    out_of_fds = true;
                }
                xasync::time::sleep(FD_BACKOFF);
            }
            // ECONNABORTED and friends concern one connection only.
            Err(e) if is_transient(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether accepting failed for want of descriptors or kernel memory:
/// closing connections will fix it, retrying at once will not.
fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Whether accepting failed for one connection only.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
