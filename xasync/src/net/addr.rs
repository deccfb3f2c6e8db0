//! Trying each address a `ToSocketAddrs` resolves to, as `std` does.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Runs `f` on each address until one succeeds; the last error otherwise.
///
/// Resolving a host name calls `getaddrinfo`, which blocks the thread; in
/// a coroutine or async code, pass resolved addresses where that matters.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(done) => return Ok(done),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
