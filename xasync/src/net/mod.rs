//! Networking: TCP, UDP and Unix domain sockets that wait the way their
//! caller waits.
//!
//! | caller | `read`, `write`, `accept`, `connect`, `recv`, ... |
//! | --- | --- |
//! | a coroutine | suspends it until the socket is ready (the worker runs others) |
//! | a plain thread | blocks it (in `poll(2)`) |
//! | async code | use `AsyncRead`/`AsyncWrite` or the `_async` methods |
//!
//! So plain blocking-style code — `BufReader`, `io::copy`,
//! `serde_json::from_reader` — runs unchanged in a coroutine and scales
//! like async code. Sockets are non-blocking and register with the epoll
//! reactor of the worker that first waits on them; after that any task on
//! any worker may use them. Read, write, connect and accept take timeouts
//! (`set_read_timeout`, `connect_timeout`, `accept_timeout`) and fail with
//! `io::ErrorKind::TimedOut` when they run out. Every type converts from
//! and into its `std` counterpart.
//!
//! ```
//! use std::io::{self, Write};
//! use xasync::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! xasync::xasync(move || {
//!     // An echo server: one coroutine per connection, plain std::io code.
//!     while let Ok((conn, _)) = listener.accept() {
//!         xasync::xasync(move || io::copy(&mut &conn, &mut &conn)).detach();
//!     }
//! })
//! .detach();
//! let echoed = xasync::xawait(xasync::xasync(move || {
//!     let mut conn = TcpStream::connect(addr).unwrap();
//!     conn.write_all(b"echo").unwrap();
//!     conn.shutdown(std::net::Shutdown::Write).unwrap();
//!     io::read_to_string(conn).unwrap()
//! }));
//! assert_eq!(echoed, "echo");
//! ```

mod addr;
mod ring;
mod stream;
mod tcp;
mod timeouts;
mod udp;
mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
