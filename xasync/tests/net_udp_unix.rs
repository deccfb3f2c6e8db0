//! UDP and Unix domain sockets from coroutines, async code and threads;
//! vectored reads and writes of both stream kinds. (On the default
//! backend a coroutine's operations run in its worker's ring; .ci/uring.sh
//! runs this again on epoll.)

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use xasync::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use xasync::{Runtime, xasync};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

fn socket_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("xasync-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn udp_ping_pong_between_coroutines() {
    let rt = runtime(1);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    rt.xasync(move || {
        let mut buf = [0; 64];
        for _ in 0..100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    })
    .detach();
    rt.xasync(move || {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        let mut buf = [0; 64];
        for i in 0..100u32 {
            client.send(&i.to_le_bytes()).unwrap();
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], i.to_le_bytes());
        }
    })
    .join()
    .unwrap();
}

#[test]
fn udp_in_async_code_and_with_a_timeout() {
    let rt = runtime(2);
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = b.local_addr().unwrap();
    let got = rt.spawn(async move {
        let mut buf = [0; 16];
        let (n, _) = b.recv_from_async(&mut buf).await.unwrap();
        buf[..n].to_vec()
    });
    rt.block_on(async move {
        a.send_to_async(b"async", to).await.unwrap();
    });
    assert_eq!(got.join().unwrap(), b"async");
    // A receive that times out, on a plain thread and in a coroutine.
    let lonely = UdpSocket::bind("127.0.0.1:0").unwrap();
    lonely
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    assert_eq!(
        lonely.recv(&mut [0; 4]).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    let kind = rt
        .xasync(move || lonely.recv_from(&mut [0; 4]).unwrap_err().kind())
        .join()
        .unwrap();
    assert_eq!(kind, io::ErrorKind::TimedOut);
}

#[test]
fn udp_bad_input() {
    assert!(UdpSocket::bind("nonsense").is_err());
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Not connected: no peer, and send has no destination.
    assert_eq!(
        socket.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    assert!(socket.send(b"x").is_err());
    let std = socket.into_std().unwrap();
    let back = UdpSocket::from(std);
    assert!(back.local_addr().is_ok());
}

#[test]
fn unix_echo_with_coroutines_and_a_thread() {
    let rt = runtime(1);
    let path = socket_path("echo");
    let listener = UnixListener::bind(&path).unwrap();
    rt.xasync(move || {
        while let Ok((conn, _)) = listener.accept() {
            xasync(move || {
                let _ = io::copy(&mut &conn, &mut &conn);
            })
            .detach();
        }
    })
    .detach();
    let p = path.clone();
    rt.xasync(move || {
        let conn = UnixStream::connect(&p).unwrap();
        conn.write_all(b"unix").unwrap();
        let mut buf = [0; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"unix");
    })
    .join()
    .unwrap();
    let conn = UnixStream::connect(&path).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"thread").unwrap();
    let mut buf = [0; 6];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"thread");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_pair_in_async_code() {
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    let rt = runtime(2);
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let reader = rt.spawn(async move {
        let mut text = String::new();
        AsyncReadExt::read_to_string(&mut b, &mut text)
            .await
            .unwrap();
        text
    });
    rt.block_on(async move {
        AsyncWriteExt::write_all(&mut a, b"over a pair")
            .await
            .unwrap();
        a.close().await.unwrap();
    });
    assert_eq!(reader.join().unwrap(), "over a pair");
}

#[test]
fn unix_bad_input() {
    let missing = std::env::temp_dir().join("xasync-no-such-dir/x.sock");
    assert_eq!(
        UnixStream::connect(&missing).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    let path = socket_path("twice");
    let _first = UnixListener::bind(&path).unwrap();
    assert_eq!(
        UnixListener::bind(&path).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
    std::fs::remove_file(&path).unwrap();
    // Nobody listens anymore.
    let path = socket_path("gone");
    drop(UnixListener::bind(&path).unwrap());
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_std_conversions_round_trip() {
    let path = socket_path("std");
    let listener = UnixListener::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let client = UnixStream::from(std::os::unix::net::UnixStream::connect(&path).unwrap());
    let (server, _) = listener.accept().unwrap();
    let mut std_client = client.into_std().unwrap();
    std_client.write_all(b"std").unwrap();
    let mut buf = [0; 3];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    let std_server = server.into_std().unwrap();
    std_server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    drop(std_client);
    assert_eq!((&std_server).read(&mut buf).unwrap(), 0); // blocking again
    let std_listener = listener.into_std().unwrap();
    assert!(std_listener.local_addr().unwrap().as_pathname().is_some());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn udp_datagrams_carry_their_source_and_peek_leaves_them_queued() {
    let rt = runtime(1);
    for host in ["127.0.0.1:0", "[::1]:0"] {
        let Ok(a) = UdpSocket::bind(host) else {
            continue; // no IPv6 loopback here
        };
        let b = UdpSocket::bind(host).unwrap();
        let (from, to) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let got = rt
            .xasync(move || {
                assert_eq!(a.send_to(b"first", to).unwrap(), 5);
                assert_eq!(a.send_to(b"second", to).unwrap(), 6);
                let mut buf = [0; 16];
                let peeked = b.peek_from(&mut buf).unwrap();
                let peeked = (buf[..peeked.0].to_vec(), peeked.1);
                let first = b.recv_from(&mut buf).unwrap();
                let first = (buf[..first.0].to_vec(), first.1);
                // A datagram longer than the buffer is cut, and gone.
                let mut short = [0; 3];
                let cut = b.recv_from(&mut short).unwrap();
                (peeked, first, (short[..cut.0].to_vec(), cut.1))
            })
            .join()
            .unwrap();
        assert_eq!(got.0, (b"first".to_vec(), from));
        assert_eq!(got.1, (b"first".to_vec(), from));
        assert_eq!(got.2, (b"sec".to_vec(), from));
    }
}

#[test]
fn udp_errors_in_a_coroutine_are_std_s() {
    let rt = runtime(1);
    // A port nobody listens on: the kernel's ICMP "port unreachable" makes
    // the connected socket's next receive fail.
    let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let gone_addr = gone.local_addr().unwrap();
    drop(gone);
    let (refused, unconnected) = rt
        .xasync(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let unconnected = socket.send(b"x").unwrap_err().raw_os_error();
            socket.connect(gone_addr).unwrap();
            socket.send(b"x").unwrap();
            (socket.recv(&mut [0; 4]).unwrap_err().kind(), unconnected)
        })
        .join()
        .unwrap();
    assert_eq!(refused, io::ErrorKind::ConnectionRefused);
    let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(unconnected, std.send(b"x").unwrap_err().raw_os_error());
}

#[test]
fn udp_receives_time_out_in_a_coroutine() {
    let rt = runtime(1);
    let kinds = rt
        .xasync(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(socket.local_addr().unwrap()).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            [
                socket.recv(&mut [0; 4]).unwrap_err().kind(),
                socket.peek_from(&mut [0; 4]).unwrap_err().kind(),
            ]
        })
        .join()
        .unwrap();
    assert_eq!(kinds, [io::ErrorKind::TimedOut; 2]);
}

/// Cancels a coroutine blocked in `receive` on `socket`, then sends: the
/// next receiver gets the datagram.
fn cancel_a_blocked_receive(
    rt: &Runtime,
    socket: &Arc<UdpSocket>,
    receive: fn(&UdpSocket) -> io::Result<usize>,
) {
    let waiting = Arc::new(AtomicBool::new(false));
    let blocked = {
        let (socket, waiting) = (socket.clone(), waiting.clone());
        rt.xasync(move || {
            waiting.store(true, Ordering::Release);
            let _ = receive(&socket);
            unreachable!("nothing was sent yet");
        })
    };
    while !waiting.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(5));
    blocked.cancel();
    assert!(blocked.join().unwrap_err().is_cancelled());
    let to = socket.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"after", to).unwrap();
    let socket = socket.clone();
    let next = rt.xasync(move || {
        let mut buf = [0; 16];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        (buf[..n].to_vec(), from)
    });
    assert_eq!(
        next.join().unwrap(),
        (b"after".to_vec(), sender.local_addr().unwrap())
    );
}

#[test]
fn cancelled_udp_receives_leave_the_next_datagram_to_the_next_receiver() {
    let rt = runtime(1);
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    cancel_a_blocked_receive(&rt, &socket, |s| s.recv_from(&mut [0; 16]).map(|r| r.0));
    cancel_a_blocked_receive(&rt, &socket, |s| s.peek_from(&mut [0; 16]).map(|r| r.0));
    socket.connect(socket.local_addr().unwrap()).unwrap();
    // Connected to itself, it keeps only its own datagrams: the last round
    // sends from a socket of its own address, hence from itself.
    let blocked = {
        let socket = socket.clone();
        rt.xasync(move || socket.recv(&mut [0; 16]))
    };
    std::thread::sleep(Duration::from_millis(5));
    blocked.cancel();
    assert!(blocked.join().unwrap_err().is_cancelled());
    let echoed = rt.xasync({
        let socket = socket.clone();
        move || {
            socket.send(b"self").unwrap();
            let mut buf = [0; 16];
            let n = socket.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        }
    });
    assert_eq!(echoed.join().unwrap(), b"self");
}

#[test]
fn unix_accept_in_a_coroutine_reports_the_peer_times_out_and_cancels() {
    let rt = runtime(1);
    let path = socket_path("accept");
    let listener = Arc::new(UnixListener::bind(&path).unwrap());
    let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let accepted = {
        let listener = listener.clone();
        rt.xasync(move || {
            let (conn, peer) = listener.accept().unwrap();
            conn.write_all(b"hi").unwrap();
            (
                peer.is_unnamed(),
                listener
                    .accept_timeout(Duration::from_millis(20))
                    .unwrap_err()
                    .kind(),
            )
        })
    };
    let (unnamed, timed_out) = accepted.join().unwrap();
    assert!(unnamed, "a client that did not bind has no name");
    assert_eq!(timed_out, io::ErrorKind::TimedOut);
    let mut got = [0; 2];
    (&client).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi");
    // A cancelled accept leaves the next connection to the next accept.
    let blocked = {
        let listener = listener.clone();
        rt.xasync(move || listener.accept().map(drop))
    };
    std::thread::sleep(Duration::from_millis(5));
    blocked.cancel();
    assert!(blocked.join().unwrap_err().is_cancelled());
    let mut late = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let next = rt.xasync(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0; 4];
        conn.read_exact(&mut buf).unwrap();
        buf
    });
    late.write_all(b"late").unwrap();
    assert_eq!(&next.join().unwrap(), b"late");
    std::fs::remove_file(&path).unwrap();
}

/// Writes three slices with one `write_vectored` and reads them back into
/// two with `read_vectored`, in coroutines; then a read that times out.
fn vectored_round_trip<S>(rt: &Runtime, a: S, b: S, set_read_timeout: fn(&S, Duration))
where
    S: Send + 'static,
    for<'a> &'a S: Read + Write,
{
    let writer = rt.xasync(move || {
        let bufs = [
            IoSlice::new(b"vec"),
            IoSlice::new(b""),
            IoSlice::new(b"tored"),
        ];
        let n = (&a).write_vectored(&bufs).unwrap();
        // An empty list writes nothing, at once.
        ((&a).write_vectored(&[]).unwrap(), n, a)
    });
    let (none, n, a) = writer.join().unwrap();
    assert_eq!((none, n), (0, 8));
    let reader = rt.xasync(move || {
        let (mut head, mut tail) = ([0; 5], [0; 8]);
        let mut got = 0;
        while got < 8 {
            let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
            IoSliceMut::advance_slices(&mut &mut bufs[..], got);
            got += (&b).read_vectored(&mut bufs).unwrap();
        }
        set_read_timeout(&b, Duration::from_millis(20));
        let mut spare = [0; 4];
        let mut bufs = [IoSliceMut::new(&mut spare)];
        let timed_out = (&b).read_vectored(&mut bufs).unwrap_err().kind();
        drop(a);
        let end = (&b).read_vectored(&mut bufs).unwrap();
        (head, tail, timed_out, end)
    });
    let (head, tail, timed_out, end) = reader.join().unwrap();
    assert_eq!(&head, b"vecto");
    assert_eq!(&tail[..3], b"red");
    assert_eq!((timed_out, end), (io::ErrorKind::TimedOut, 0));
}

#[test]
fn vectored_reads_and_writes_of_unix_and_tcp_streams() {
    let rt = runtime(1);
    let (a, b) = UnixStream::pair().unwrap();
    vectored_round_trip(&rt, a, b, |s, t| s.set_read_timeout(Some(t)).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    vectored_round_trip(&rt, a, b, |s, t| s.set_read_timeout(Some(t)).unwrap());
}

#[test]
fn a_vectored_write_to_a_closed_peer_fails() {
    let rt = runtime(1);
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    let kind = rt
        .xasync(move || {
            (&a).write_vectored(&[IoSlice::new(b"nobody")])
                .unwrap_err()
                .kind()
        })
        .join()
        .unwrap();
    assert_eq!(kind, io::ErrorKind::BrokenPipe);
}
