//! TCP from the three kinds of caller: coroutines (std::io traits that
//! suspend), async tasks (futures-io traits), plain threads (blocking);
//! timeouts, half-close, resets, conversions, bad input.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};
use xasync::net::{TcpListener, TcpStream};
use xasync::{Runtime, xasync, xawait};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// An echo server: one coroutine per connection, plain blocking-style code.
fn echo_server(rt: &Runtime) -> SocketAddr {
    let (listener, addr) = listener();
    rt.xasync(move || {
        while let Ok((conn, _)) = listener.accept() {
            xasync(move || {
                let _ = io::copy(&mut &conn, &mut &conn);
            })
            .detach();
        }
    })
    .detach();
    addr
}

#[test]
fn echo_from_coroutines_on_one_worker() {
    let rt = runtime(1);
    let addr = echo_server(&rt);
    let clients: Vec<_> = (0..50)
        .map(|i| {
            rt.xasync(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                let message = format!("hello {i}").repeat(100);
                conn.write_all(message.as_bytes()).unwrap();
                conn.shutdown(Shutdown::Write).unwrap();
                let mut back = String::new();
                conn.read_to_string(&mut back).unwrap();
                assert_eq!(back, message);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn a_plain_thread_blocks_and_async_code_awaits() {
    let rt = runtime(2);
    let addr = echo_server(&rt);
    // Plain thread: blocking calls.
    let conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"thread").unwrap();
    let mut buf = [0; 6];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"thread");
    assert_eq!(&async_code::echo(&rt, addr), b"async");
}

#[test]
fn serde_json_reads_from_a_socket_in_a_coroutine() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let server = rt.xasync(move || {
        let (conn, _) = listener.accept().unwrap();
        let value: serde_json::Value = serde_json::from_reader(BufReader::new(conn)).unwrap();
        value
    });
    rt.xasync(move || {
        let conn = TcpStream::connect(addr).unwrap();
        // Slowly, in pieces, so that the reader must suspend in between.
        for piece in [
            &b"{\"name\": \"xa"[..],
            b"sync\", \"list\": [1, 2",
            b", 3]}",
        ] {
            conn.write_all(piece).unwrap();
            xasync::time::sleep(Duration::from_millis(5));
        }
    })
    .join()
    .unwrap();
    let value = server.join().unwrap();
    assert_eq!(value["name"], "xasync");
    assert_eq!(value["list"], serde_json::json!([1, 2, 3]));
}

#[test]
fn a_coroutine_reading_does_not_block_its_worker() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let reader = rt.xasync(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0; 3];
        conn.read_exact(&mut buf).unwrap();
        buf
    });
    // The same (only) worker runs this while the reader waits.
    let writer = rt.xasync(move || {
        let conn = TcpStream::connect(addr).unwrap();
        xasync::time::sleep(Duration::from_millis(20));
        conn.write_all(b"abc").unwrap();
        conn
    });
    assert_eq!(&reader.join().unwrap(), b"abc");
    drop(writer.join().unwrap());
}

#[test]
fn data_and_end_of_stream_in_one_readiness_event() {
    // The peer writes and closes before the reader first waits: one edge
    // carries both; after a short read the next must see the end, not hang.
    let rt = runtime(1);
    for _ in 0..20 {
        let (listener, addr) = listener();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let reader = rt.xasync(move || {
            let mut conn = conn;
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut first = [0; 1]; // registers the socket, then waits
            conn.read_exact(&mut first).unwrap();
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).map(|_| rest)
        });
        client.write_all(b"xyz").unwrap();
        drop(client);
        assert_eq!(reader.join().unwrap().unwrap(), b"yz");
    }
}

#[test]
fn read_timeout_on_a_silent_peer() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let _silent = std::net::TcpStream::connect(addr).unwrap(); // never sends
    let result = rt
        .xasync(move || {
            let (conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_millis(30)))
                .unwrap();
            let start = Instant::now();
            let result = conn.read(&mut [0; 8]);
            (result.map_err(|e| e.kind()), start.elapsed())
        })
        .join()
        .unwrap();
    assert_eq!(result.0, Err(io::ErrorKind::TimedOut));
    assert!(result.1 >= Duration::from_millis(30), "{:?}", result.1);
    // On a plain thread too.
    let (listener, addr) = self::listener();
    let _silent = std::net::TcpStream::connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let err = conn.read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn accept_and_connect_timeouts() {
    let rt = runtime(1);
    let (listener, _) = listener();
    let err = rt
        .xasync(move || {
            listener
                .accept_timeout(Duration::from_millis(20))
                .unwrap_err()
        })
        .join()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    // A zero connect timeout is refused, as std does.
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

/// A listener whose queue of connections not yet accepted is full (a
/// backlog of 0 holds one), so that the kernel drops a further connect's
/// SYN and the connect waits (the client retries after a second, then
/// longer). The fillers must stay open.
fn full_listener() -> (std::net::TcpListener, SocketAddr, Vec<std::net::TcpStream>) {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: a listening socket; a second listen(2) changes the backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    while let Ok(filler) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        fillers.push(filler);
        assert!(fillers.len() < 16, "the listener's queue never filled");
    }
    (listener, addr, fillers)
}

#[test]
fn connects_time_out_are_refused_and_cancel() {
    let rt = runtime(1);
    let (listener, addr, _fillers) = full_listener();
    let gone = self::listener().1; // its listener is dropped: refused
    let kinds = rt
        .xasync(move || {
            let timeout = Duration::from_millis(30);
            let start = Instant::now();
            let timed_out = TcpStream::connect_timeout(&addr, timeout).unwrap_err();
            let waited = start.elapsed();
            let refused = TcpStream::connect_timeout(&gone, Duration::from_secs(10)).unwrap_err();
            (timed_out.kind(), waited, refused.kind())
        })
        .join()
        .unwrap();
    assert_eq!(kinds.0, io::ErrorKind::TimedOut);
    assert!(kinds.1 >= Duration::from_millis(30), "{:?}", kinds.1);
    assert_eq!(kinds.2, io::ErrorKind::ConnectionRefused);
    // On a plain thread too.
    let err = TcpStream::connect_timeout(&addr, Duration::from_millis(20)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    // A coroutine waiting in a connect that does not time out is cancelled.
    let blocked = rt.xasync(move || TcpStream::connect(addr).map(drop));
    std::thread::sleep(Duration::from_millis(5));
    blocked.cancel();
    assert!(blocked.join().unwrap_err().is_cancelled());
    // Once the queue has room, connecting works again.
    drop(listener.accept().unwrap());
    let connected = rt.xasync(move || {
        let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        conn.peer_addr().unwrap()
    });
    assert_eq!(connected.join().unwrap(), addr);
}

#[test]
fn a_coroutine_connects_over_ipv4_and_ipv6() {
    let rt = runtime(1);
    for host in ["127.0.0.1:0", "[::1]:0"] {
        let Ok(listener) = TcpListener::bind(host) else {
            continue; // no IPv6 loopback here
        };
        let addr = listener.local_addr().unwrap();
        let client = rt.xasync(move || {
            let conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"ok").unwrap();
            conn.local_addr().unwrap()
        });
        let (mut conn, peer) = listener.into_std().unwrap().accept().unwrap();
        let mut got = [0; 2];
        conn.read_exact(&mut got).unwrap();
        assert_eq!((&got, peer), (b"ok", client.join().unwrap()));
    }
}

#[test]
fn half_close_lets_the_peer_finish_writing() {
    let rt = runtime(2);
    let (listener, addr) = listener();
    let server = rt.xasync(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        conn.read_to_end(&mut request).unwrap(); // ends at the client's shutdown
        conn.write_all(&request.repeat(2)).unwrap();
    });
    let response = rt
        .xasync(move || {
            let mut conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"half").unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
            let mut response = Vec::new();
            conn.read_to_end(&mut response).unwrap();
            response
        })
        .join()
        .unwrap();
    server.join().unwrap();
    assert_eq!(response, b"halfhalf");
}

#[test]
fn a_peer_reset_mid_request_is_an_error_not_a_hang() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let server = rt.xasync(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(&conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // a first, complete line
        let mut rest = String::new();
        let second = reader.read_line(&mut rest);
        (line, second.map_err(|e| e.kind()))
    });
    let client = std::net::TcpStream::connect(addr).unwrap();
    (&client)
        .write_all(b"GET / HTTP/1.1\r\nHost: half a hea")
        .unwrap();
    // SO_LINGER 0: close sends RST instead of FIN.
    set_linger_zero(&client);
    std::thread::sleep(Duration::from_millis(20));
    drop(client);
    let (line, second) = server.join().unwrap();
    assert_eq!(line, "GET / HTTP/1.1\r\n");
    match second {
        Err(kind) => assert_eq!(kind, io::ErrorKind::ConnectionReset),
        Ok(n) => panic!("read {n} bytes after a reset"),
    }
}

fn set_linger_zero(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a `linger` of the size given.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn writing_to_a_reset_connection_fails_cleanly() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    set_linger_zero(&client);
    drop(client);
    let err = rt
        .xasync(move || {
            let chunk = vec![7u8; 64 * 1024];
            loop {
                if let Err(e) = conn.write(&chunk) {
                    return e;
                }
            }
        })
        .join()
        .unwrap();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err:?}"
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let rt = runtime(1);
    let errors = rt
        .xasync(|| {
            let kinds = [
                TcpStream::connect("not an address").unwrap_err().kind(),
                TcpListener::bind("256.0.0.1:80").unwrap_err().kind(),
                TcpListener::bind("192.0.2.1:0").unwrap_err().kind(), // not ours
            ];
            // Nobody listens on a port we just released.
            let (listener, addr) = listener();
            drop(listener);
            let refused = TcpStream::connect(addr).unwrap_err().kind();
            (kinds, refused)
        })
        .join()
        .unwrap();
    assert_ne!(errors.0[0], io::ErrorKind::Other);
    assert_ne!(errors.0[1], io::ErrorKind::Other);
    assert_eq!(errors.0[2], io::ErrorKind::AddrNotAvailable);
    assert_eq!(errors.1, io::ErrorKind::ConnectionRefused);
    // Address in use.
    let (_held, addr) = listener();
    assert_eq!(
        TcpListener::bind(addr).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
}

#[test]
fn zero_length_buffers_and_closed_sockets() {
    let rt = runtime(1);
    let (listener, addr) = listener();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let conn = rt
        .xasync(move || {
            // Reads into an empty buffer return 0 at once: no wait, no hang.
            assert_eq!(conn.read(&mut []).unwrap(), 0);
            assert_eq!(conn.write(&[]).unwrap(), 0);
            conn
        })
        .join()
        .unwrap();
    // A closed read side reads end of stream; a closed peer too.
    conn.shutdown(Shutdown::Read).unwrap();
    assert_eq!(conn.read(&mut [0; 4]).unwrap(), 0);
    drop(client);
    conn.shutdown(Shutdown::Both).unwrap();
    let err = conn.write(b"x").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    // Setting a zero timeout is refused.
    assert_eq!(
        conn.set_read_timeout(Some(Duration::ZERO))
            .unwrap_err()
            .kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn a_stream_moves_between_workers_and_kinds_of_task() {
    let rt = runtime(2);
    let addr = echo_server(&rt);
    let mut conn = rt
        .xasync(move || {
            let conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"one").unwrap();
            let mut buf = [0; 3];
            conn.read_exact(&mut buf).unwrap();
            conn
        })
        .join()
        .unwrap();
    // Many later users, on whichever worker they land, and a plain thread.
    for round in 0..20u8 {
        conn = if round % 2 == 0 {
            async_code::round_trip(&rt, conn, round)
        } else {
            rt.xasync(move || {
                conn.write_all(&[round; 100]).unwrap();
                let mut buf = [0; 100];
                conn.read_exact(&mut buf).unwrap();
                assert_eq!(buf, [round; 100]);
                conn
            })
            .join()
            .unwrap()
        };
    }
    conn.write_all(b"thread").unwrap();
    let mut buf = [0; 6];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"thread");
}

#[test]
fn one_task_reads_while_another_writes() {
    let rt = runtime(2);
    let (listener, addr) = listener();
    let server = rt.xasync(move || {
        let (conn, _) = listener.accept().unwrap();
        let conn = std::sync::Arc::new(conn);
        let writer = {
            let conn = conn.clone();
            xasync(move || {
                for i in 0..1000u32 {
                    conn.write_all(&i.to_le_bytes()).unwrap();
                }
                conn.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut got = Vec::new();
        (&*conn).read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        got.len()
    });
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(&[1; 5000]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), 4000);
    assert_eq!(server.join().unwrap(), 5000);
}

#[test]
fn std_conversions_round_trip() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from(std_listener);
    let client = TcpStream::from(std::net::TcpStream::connect(addr).unwrap());
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    let mut std_client = client.into_std().unwrap();
    std_client.write_all(b"std").unwrap();
    let mut buf = [0; 3];
    xawait(xasync(move || server.read_exact(&mut buf).map(|()| buf)))
        .map(|b| assert_eq!(&b, b"std"))
        .unwrap();
    let std_listener = listener.into_std().unwrap();
    assert_eq!(std_listener.local_addr().unwrap(), addr);
}

/// Async code: the inherent `_async` methods, and the futures-io traits
/// called as trait methods (the inherent waiting methods of the same names
/// come first in method calls).
mod async_code {
    use super::{Runtime, SocketAddr, TcpStream};
    use futures_util::{AsyncReadExt, AsyncWriteExt};

    pub(super) fn echo(rt: &Runtime, addr: SocketAddr) -> [u8; 5] {
        rt.block_on(async move {
            let mut conn = TcpStream::connect_async(addr).await.unwrap();
            conn.write_all_async(b"async").await.unwrap();
            let mut buf = [0; 5];
            conn.read_exact_async(&mut buf).await.unwrap();
            conn.close().await.unwrap();
            buf
        })
    }

    pub(super) fn round_trip(rt: &Runtime, mut conn: TcpStream, round: u8) -> TcpStream {
        rt.spawn(async move {
            AsyncWriteExt::write_all(&mut conn, &[round; 100])
                .await
                .unwrap();
            let mut buf = [0; 100];
            AsyncReadExt::read_exact(&mut conn, &mut buf).await.unwrap();
            assert_eq!(buf, [round; 100]);
            conn
        })
        .join()
        .unwrap()
    }
}
