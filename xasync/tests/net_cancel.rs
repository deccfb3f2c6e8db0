//! Dropping a coroutine blocked on a read: it unwinds (its destructors
//! run), the socket closes and leaves the reactor's epoll set. On the epoll
//! backend: on io_uring a coroutine's read never enters the epoll set
//! (tests/net_uring.rs covers its cancellation).
//!
//! Alone in its test binary: it inspects the process's epoll instances.

mod epoll;
mod until;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use until::wait_until;
use xasync::Runtime;
use xasync::io::IoBackend;
use xasync::net::TcpListener;

/// Sets a flag when dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn cancelling_a_blocked_reader_closes_and_deregisters_its_socket() {
    let rt = Runtime::builder()
        .workers(1)
        .io(IoBackend::Epoll)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let fd = conn.as_raw_fd();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = Dropped(dropped.clone());
    let reader = rt.xasync(move || {
        let _guard = guard;
        let conn = conn;
        let mut buf = [0; 16];
        let _ = conn.read(&mut buf); // the client never sends
        unreachable!("the read returned");
    });
    // Wait until the read registered the socket (and suspended).
    wait_until("the socket to be registered", || {
        epoll::registered().contains(&fd)
    });
    reader.cancel();
    let error = reader.join().unwrap_err();
    assert!(error.is_cancelled(), "{error:?}");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the coroutine's stack was not unwound"
    );
    // The socket is closed: the peer reads end of stream...
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(client.read(&mut [0; 4]).unwrap(), 0);
    // ... and it is no longer in any epoll set.
    assert!(!epoll::registered().contains(&fd));
}
