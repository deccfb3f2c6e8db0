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

/// A socket address as the kernel reads and writes it: storage for any
/// address family and the length in use. The ring's operations take its
/// address, so it lives in the caller's frame until they complete.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    /// Room for the kernel to write an address into (`accept(2)`,
    /// `recvmsg(2)`).
    pub(crate) fn empty() -> RawAddr {
        RawAddr {
            // SAFETY: all zeros is a valid (empty) `sockaddr_storage`.
            storage: unsafe { std::mem::zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// `addr`, for the kernel to read (`sendmsg(2)`).
    pub(crate) fn new(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        let storage = std::ptr::from_mut(&mut raw.storage);
        match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is large enough, and aligned,
                // for every address type.
                unsafe { storage.cast::<libc::sockaddr_in>().write(sin) };
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: as above, a `sockaddr_in6`.
                unsafe { storage.cast::<libc::sockaddr_in6>().write(sin6) };
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    /// The length in use.
    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// The address for the kernel to read or write.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    /// The length in use, which the kernel reads and, where it writes an
    /// address, updates. (Its address is the kernel's to write while an
    /// operation that was given it runs.)
    pub(crate) fn len_mut(&mut self) -> &mut libc::socklen_t {
        &mut self.len
    }

    /// The internet address the kernel wrote (as `accept(2)` or
    /// `recvfrom(2)` report a peer's).
    pub(crate) fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        let len = self.len as usize;
        let storage = std::ptr::from_ref(&self.storage);
        match libc::c_int::from(self.storage.ss_family) {
            libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a
                // `sockaddr_in`, and `sockaddr_storage` is aligned for
                // every address type.
                let v4 = unsafe { &*storage.cast::<libc::sockaddr_in>() };
                let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                Ok(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
            }
            libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, a `sockaddr_in6`.
                let v6 = unsafe { &*storage.cast::<libc::sockaddr_in6>() };
                let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an internet address",
            )),
        }
    }
}
