//! Coroutines' socket operations on the io_uring backend, which lends the
//! kernel the coroutine's own buffer: a cancellation or a timeout while
//! the operation is in flight must take it back from the kernel before the
//! frame that holds the buffer goes. If it did not, the operation would
//! stay pending in the ring and swallow the next bytes that arrive (and
//! write them into a dead frame): every test here checks that those bytes
//! reach the next reader instead.
//!
//! `XASYNC_URING_CANCELS` (default 2,000) sizes the cancellation stress
//! tests; .ci/sanitize.sh runs them, unchanged, under valgrind.
//!
//! The tests are skipped (pass, saying so) where io_uring is unavailable.

mod bounded;
mod epoll;
mod nofile;
mod uring;

use bounded::within;
use nofile::raise_nofile;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use xasync::net::{TcpListener, TcpStream, UnixStream};

/// A connected pair: the runtime's socket and a plain std client.
fn pair() -> (TcpStream, std::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (conn, _) = listener.accept().unwrap();
    (conn, client)
}

fn iterations() -> u64 {
    std::env::var("XASYNC_URING_CANCELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

#[test]
fn a_coroutine_reads_and_writes_through_the_ring_not_epoll() {
    let Some(rt) = uring::runtime(1) else { return };
    let (conn, mut client) = pair();
    let fd = conn.as_raw_fd();
    let echoed = rt.xasync(move || {
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
        // Readiness was never asked for: the socket is in no epoll set.
        !epoll::registered().contains(&fd)
    });
    client.write_all(b"hello").unwrap();
    let mut back = [0; 5];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    assert!(echoed.join().unwrap(), "the socket was registered in epoll");
    rt.shutdown();
}

#[test]
fn a_timed_out_read_leaves_the_next_bytes_to_the_next_read() {
    let Some(rt) = uring::runtime(1) else { return };
    let (conn, mut client) = pair();
    conn.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let conn = Arc::new(conn);
    let first = {
        let conn = conn.clone();
        rt.xasync(move || conn.read(&mut [0; 16]).unwrap_err().kind())
    };
    assert_eq!(first.join().unwrap(), ErrorKind::TimedOut);
    client.write_all(b"late").unwrap();
    let second = rt.xasync(move || {
        let mut buf = [0; 16];
        let n = conn.read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    assert_eq!(second.join().unwrap(), b"late");
    rt.shutdown();
}

/// A read's timer is armed after the worker submitted it; on a worker
/// that never sleeps (another coroutine keeps yielding) it is armed all
/// the same, and the read times out.
#[test]
fn a_read_times_out_on_a_worker_that_never_sleeps() {
    let Some(rt) = uring::runtime(1) else { return };
    let (conn, _client) = pair();
    conn.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let spinner = {
        let done = done.clone();
        rt.xasync(move || {
            while !done.load(Ordering::Relaxed) {
                xasync::yield_now();
            }
        })
    };
    let reader = rt.xasync(move || conn.read(&mut [0; 16]).unwrap_err().kind());
    let kind = within(Duration::from_secs(20), "the read's timeout", move || {
        reader.join().unwrap()
    });
    done.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    assert_eq!(kind, ErrorKind::TimedOut);
    rt.shutdown();
}

/// A write the peer does not drain times out (the kernel's timeout linked
/// to the send), and every byte a write reported sent, and no other, is
/// what the peer then reads: a send the timeout cancelled sent nothing.
#[test]
fn a_timed_out_write_reports_exactly_the_bytes_it_sent() {
    let Some(rt) = uring::runtime(1) else { return };
    let (conn, mut client) = pair();
    conn.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let sent = rt.xasync(move || {
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        loop {
            match conn.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => return (sent, e.kind()),
            }
        }
    });
    let (sent, error) = within(Duration::from_secs(20), "the timed-out write", move || {
        sent.join().unwrap()
    });
    assert_eq!(error, ErrorKind::TimedOut);
    // The runtime's socket was dropped with the coroutine: read to the end.
    let mut received = Vec::new();
    client.read_to_end(&mut received).unwrap();
    assert_eq!(received.len(), sent);
    rt.shutdown();
}

/// More operations in flight on one worker than its ring has submission
/// entries (256) and completion entries (512): submissions wait for room,
/// completions overflow into the kernel's backlog, and each read still gets
/// exactly its own socket's bytes. Each read has a timeout: two entries,
/// linked, which a full queue must not split.
#[test]
fn more_reads_in_flight_than_the_ring_has_entries_each_get_their_bytes() {
    const READERS: usize = 1_500;
    let Some(rt) = uring::runtime(1) else { return };
    raise_nofile(2 * READERS as u64 + 256);
    let pairs: Vec<_> = (0..READERS).map(|_| UnixStream::pair().unwrap()).collect();
    let started = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    let readers: Vec<_> = pairs
        .into_iter()
        .enumerate()
        .map(|(i, (ours, theirs))| {
            writers.push(theirs);
            let started = started.clone();
            ours.set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            rt.xasync(move || {
                started.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0; 8];
                let n = ours.read(&mut buf).unwrap();
                u64::from_le_bytes(buf) == i as u64 && n == 8
            })
        })
        .collect();
    // Every reader waits in the ring before any byte is sent.
    within(Duration::from_secs(60), "the readers to start", {
        let started = started.clone();
        move || {
            while started.load(Ordering::Relaxed) < READERS {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let writers = rt.xasync(move || {
        for (i, theirs) in writers.iter().enumerate() {
            theirs.write_all(&(i as u64).to_le_bytes()).unwrap();
        }
        writers
    });
    let correct = within(Duration::from_secs(60), "the readers", move || {
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|&ok| ok)
            .count()
    });
    assert_eq!(correct, READERS);
    drop(writers.join().unwrap());
    rt.shutdown();
}

/// Cancels a coroutine blocked in a read, over and over, at varying points
/// (before the read was submitted, while in flight), then sends bytes: the
/// next reader must get every one of them.
/// Cancels a coroutine blocked in `receive` on `receiver` over and over,
/// at varying points (before the operation was submitted, while in
/// flight), then has `send` send the iteration's number: the next
/// receiver, `receive_next`, must get it.
fn cancel_receives_in_flight<R: Send + Sync + 'static>(
    rt: &xasync::Runtime,
    receiver: Arc<R>,
    receive: fn(&R, &mut [u8]) -> std::io::Result<usize>,
    mut send: impl FnMut(&[u8; 8]),
    receive_next: fn(&R) -> [u8; 8],
) {
    for i in 0..iterations() {
        let waiting = Arc::new(AtomicBool::new(false));
        let blocked = {
            let (receiver, waiting) = (receiver.clone(), waiting.clone());
            rt.xasync(move || {
                // A canary around the lent buffer: the kernel writes only
                // inside it, and nothing after the cancellation.
                let mut frame = [0xa5_u8; 64];
                waiting.store(true, Ordering::Release);
                let _ = receive(&receiver, &mut frame[16..48]);
                unreachable!("nothing was sent yet");
            })
        };
        while !waiting.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        for _ in 0..i % 8 {
            std::thread::yield_now();
        }
        blocked.cancel();
        assert!(blocked.join().unwrap_err().is_cancelled());
        let message = i.to_le_bytes();
        send(&message);
        let next = {
            let receiver = receiver.clone();
            rt.xasync(move || receive_next(&receiver))
        };
        assert_eq!(next.join().unwrap(), message, "iteration {i}");
    }
}

#[test]
fn cancelling_reads_in_flight_thousands_of_times_loses_no_byte() {
    let Some(rt) = uring::runtime(1) else { return };
    within(
        Duration::from_secs(300),
        "the cancellation stress",
        move || {
            let (conn, mut client) = pair();
            cancel_receives_in_flight(
                &rt,
                Arc::new(conn),
                |conn, buf| conn.read(buf),
                |message| client.write_all(message).unwrap(),
                |conn| {
                    let mut buf = [0; 8];
                    conn.read_exact(&mut buf).unwrap();
                    buf
                },
            );
            rt.shutdown();
        },
    );
}

/// The same for datagrams received with their source (`IORING_OP_RECVMSG`,
/// whose header and address are in the cancelled frame too).
#[test]
fn cancelling_datagram_receives_in_flight_thousands_of_times_loses_none() {
    use xasync::net::UdpSocket;
    let Some(rt) = uring::runtime(1) else { return };
    within(
        Duration::from_secs(300),
        "the cancellation stress",
        move || {
            let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = receiver.local_addr().unwrap();
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let from = sender.local_addr().unwrap();
            // Only the sender's datagrams reach it.
            receiver.connect(from).unwrap();
            cancel_receives_in_flight(
                &rt,
                Arc::new(receiver),
                |socket, buf| socket.recv_from(buf).map(|(n, _)| n),
                |message| assert_eq!(sender.send_to(message, to).unwrap(), 8),
                |socket| {
                    let mut buf = [0; 8];
                    let (n, source) = socket.recv_from(&mut buf).unwrap();
                    assert_eq!((n, source.port()), (8, socket.peer_addr().unwrap().port()));
                    buf
                },
            );
            rt.shutdown();
        },
    );
}

#[test]
fn accept_through_the_ring_reports_the_peer_and_times_out() {
    let Some(rt) = uring::runtime(1) else { return };
    for host in ["127.0.0.1:0", "[::1]:0"] {
        let Ok(listener) = TcpListener::bind(host) else {
            continue; // no IPv6 loopback here
        };
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let client = std::net::TcpStream::connect(addr).unwrap();
            client.local_addr().unwrap()
        });
        let listener = Arc::new(listener);
        let fd = listener.as_raw_fd();
        let accepted = {
            let listener = listener.clone();
            rt.xasync(move || {
                let (_conn, peer) = listener.accept().unwrap();
                (peer, !epoll::registered().contains(&fd))
            })
        };
        let (peer, not_in_epoll) = accepted.join().unwrap();
        assert_eq!(peer, client.join().unwrap());
        assert!(not_in_epoll, "the listener was registered in epoll");
        let timed_out = rt.xasync(move || {
            listener
                .accept_timeout(Duration::from_millis(10))
                .unwrap_err()
                .kind()
        });
        assert_eq!(timed_out.join().unwrap(), ErrorKind::TimedOut);
    }
    rt.shutdown();
}

/// Runs `peer` on a thread after a moment, so that the coroutine's next
/// operation has to wait for it.
fn later(peer: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        peer();
    })
}

#[test]
fn udp_unix_accept_and_vectored_reads_wait_in_the_ring_not_epoll() {
    use std::io::IoSliceMut;
    use xasync::net::{UdpSocket, UnixListener, UnixStream};
    let Some(rt) = uring::runtime(1) else { return };
    let path = std::env::temp_dir().join(format!("xasync-uring-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix = UnixListener::bind(&path).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (to, inner) = (udp.local_addr().unwrap(), path.clone());
    let not_in_epoll = rt.xasync(move || {
        let fds = [unix.as_raw_fd(), udp.as_raw_fd()];
        let peer = later(move || drop(std::os::unix::net::UnixStream::connect(&inner).unwrap()));
        let (accepted, _) = unix.accept().unwrap();
        peer.join().unwrap();
        let peer = later(move || {
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"datagram", to).unwrap();
        });
        udp.recv_from(&mut [0; 16]).unwrap();
        peer.join().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let writer = later(move || {
            a.write_all(b"vectored").unwrap();
        });
        let (mut x, mut y) = ([0; 3], [0; 5]);
        let n = (&b)
            .read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
            .unwrap();
        writer.join().unwrap();
        let registered = epoll::registered();
        let fds = [fds[0], fds[1], accepted.as_raw_fd(), b.as_raw_fd()];
        (n, fds.iter().all(|fd| !registered.contains(fd)), unix)
    });
    let (n, not_in_epoll, unix) = not_in_epoll.join().unwrap();
    assert_eq!(n, 8);
    assert!(not_in_epoll, "a socket was registered in epoll");
    drop(unix);
    std::fs::remove_file(path).unwrap();
    rt.shutdown();
}
