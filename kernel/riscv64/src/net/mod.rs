//! TCP/IP over virtio-net: the `virtio-drivers` crate's driver for the NIC,
//! smoltcp for the protocols, and sockets whose operations suspend the
//! calling coroutine (or task) until the NIC's interrupt brings what they
//! wait for.
//!
//! * [`stack`]: the NIC's interrupt → the poll task → smoltcp → the
//!   sockets' wakers; [`init`] brings it up.
//! * [`tcp`]: [`TcpListener`] and [`TcpStream`], blocking-style for
//!   coroutines and as futures for tasks.
//! * `device`: the NIC as smoltcp's `Device`.

mod device;
pub mod stack;
pub mod tcp;

pub use stack::{ADDRESS, NetStats, init, stats};
pub use tcp::{TcpListener, TcpStream};
