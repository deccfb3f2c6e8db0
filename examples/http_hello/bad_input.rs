//! Bad input against the server: malformed, oversized, slow, idle,
//! half-closed and reset requests, and a server out of file descriptors.
//! Each case must get a refusal or a close, never take the server down,
//! and the server must answer a plain request right after it.
//!
//! The server runs in a process of its own (see `src/child_server.rs`),
//! with the short timeouts of the tests: a request must arrive within
//! `REQUEST_TIMEOUT` (1 s) of its first byte, a connection idles at most
//! `IDLE_TIMEOUT` (3 s). Every wait of the client is bounded too.
//!
//! ```sh
//! cargo test -p xasync-examples --example http_hello bad_input
//! ```

// Names that only #[test] functions use are written out in full: the HTTP
// bench compiles this file (by path, with cfg(test)) but not its tests.
use super::child_server::ChildServer;
use reset::reset_on_close;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[path = "../src/reset.rs"]
mod reset;

/// How long the client waits for any one thing (a connection, a write, a
/// response, a close) before the test fails.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server process prints before its address.
const MARKER: &str = "listening on http://";

/// The server shared by the tests, but the one out of descriptors. It
/// ends with the test process.
fn shared() -> &'static Mutex<ChildServer> {
    static SERVER: OnceLock<Mutex<ChildServer>> = OnceLock::new();
    SERVER.get_or_init(|| Mutex::new(ChildServer::start("bad_input::server", None, MARKER)))
}

/// The shared server's address.
fn addr() -> SocketAddr {
    shared().lock().unwrap().addr()
}

/// The shared server is up and answers a plain request.
fn still_serves() {
    shared().lock().unwrap().assert_running();
    serves(addr());
}

/// The server at `addr` answers a plain request on a new connection.
fn serves(addr: SocketAddr) {
    let response = exchange(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(statuses(&response), [200], "{}", show(&response));
    assert!(response.ends_with(b"\r\n\r\nHello, world!"));
}

/// A new connection to `addr`, whose reads and writes give up after
/// `CLIENT_TIMEOUT`.
fn connect(addr: SocketAddr) -> TcpStream {
    let conn = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).unwrap();
    conn.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    conn.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    conn
}

/// Sends `request` on a new connection, then reads until the server
/// closes it. The server may close before reading it all, which fails
/// the rest of the write.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut conn = connect(addr);
    if let Err(e) = conn.write_all(request) {
        assert!(closed_by_peer(&e), "{e}");
    }
    until_closed(conn)
}

/// Reads from `conn` until the server closes it; what it read.
fn until_closed(mut conn: TcpStream) -> Vec<u8> {
    let mut response = Vec::new();
    if let Err(e) = conn.read_to_end(&mut response) {
        // Closing with bytes of ours unread makes the server's kernel
        // reset the connection (after what the server sent).
        assert!(closed_by_peer(&e), "{e} after {}", show(&response));
    }
    response
}

fn closed_by_peer(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
}

/// The status codes of the responses in `bytes`, in order.
fn statuses(bytes: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(bytes)
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|rest| {
            rest.get(..3)
                .and_then(|code| code.parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

/// `bytes` for a failure message, shortened.
fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
    format!("{text:?} ({} bytes)", bytes.len())
}

/// Ends `conn` with a reset rather than a FIN.
fn abort(conn: TcpStream) {
    reset_on_close(&conn).unwrap();
}

/// Makes sure this process may open `fds` descriptors, raising its soft
/// limit if need be.
fn allow_fds(fds: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the duration of the call.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    if limit.rlim_cur >= fds {
        return;
    }
    assert!(limit.rlim_max >= fds, "the tests need {fds} descriptors");
    limit.rlim_cur = fds;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// Deterministic noise: `len` bytes of xorshift64.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn malformed_requests_are_refused() {
    let noise = noise(4096);
    let cases: [(&str, &[u8], &[u16]); 24] = [
        ("noise", &noise, &[400]),
        (
            "a TLS ClientHello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            &[400],
        ),
        ("a word and CRLFs", b"hello\r\n\r\n", &[400]),
        ("no target or version", b"GET\r\n\r\n", &[400]),
        ("HTTP/0.9", b"GET /\r\n\r\n", &[400]),
        ("an unknown version", b"GET / HTTP/9.9\r\n\r\n", &[400]),
        ("a fourth word", b"GET / HTTP/1.1 x\r\n\r\n", &[400]),
        (
            "a header without a colon",
            b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            &[400],
        ),
        (
            "a space before the colon",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            &[400],
        ),
        (
            "a folded header",
            b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
            &[400],
        ),
        (
            "an empty header name",
            b"GET / HTTP/1.1\r\n: a\r\n\r\n",
            &[400],
        ),
        ("bare CRs", b"GET / HTTP/1.1\rHost: a\r\r", &[400]),
        ("a NUL in the target", b"GET /\0 HTTP/1.1\r\n\r\n", &[400]),
        (
            "a NUL in a header",
            b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
            &[400],
        ),
        ("NULs", &[0; 64], &[400]),
        (
            "the HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            &[400],
        ),
        (
            "a request, then noise",
            b"GET / HTTP/1.1\r\n\r\n\x16\x03\x01\r\n\r\n",
            &[200, 400],
        ),
        // Which of two lengths the client meant is unknowable (RFC 9112
        // 6.3): taking either would read the rest as the wrong requests.
        (
            "two different Content-Lengths",
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 24\r\n\r\n\
              GET /smuggled HTTP/1.1\r\n\r\n",
            &[400],
        ),
        (
            "the same Content-Length twice",
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\
              Connection: close\r\n\r\nhi",
            &[200],
        ),
        // The server does not decode chunked bodies: it must not read the
        // chunks as requests.
        (
            "a chunked body",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              18\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n0\r\n\r\n",
            &[501],
        ),
        (
            "Transfer-Encoding and Content-Length",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
              0\r\n\r\n",
            &[501],
        ),
        // RFC 9112 2.2 lets a server take a bare LF for CRLF; httparse does.
        (
            "bare LFs",
            b"GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
            &[200],
        ),
        (
            "CRLFs and bare LFs",
            b"GET / HTTP/1.1\r\nHost: a\nConnection: close\r\n\n",
            &[200],
        ),
        (
            "leading empty lines",
            b"\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            &[200],
        ),
    ];
    for (case, request, expected) in cases {
        let response = exchange(addr(), request);
        assert_eq!(statuses(&response), expected, "{case}: {}", show(&response));
        still_serves();
    }
}

#[test]
fn oversized_heads_are_refused() {
    let mut long_header = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    long_header.resize(long_header.len() + (1 << 20), b'a');
    long_header.extend_from_slice(b"\r\n\r\n");
    let mut long_target = b"GET /".to_vec();
    long_target.resize(long_target.len() + (1 << 20), b'a');
    long_target.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    let mut many_headers = b"GET / HTTP/1.1\r\n".to_vec();
    for n in 0..10_000 {
        many_headers.extend_from_slice(format!("X-Header-{n}: {n}\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"\r\n");
    for (case, request, status) in [
        ("a 1 MiB header line", long_header, 431),
        ("a 1 MiB request target", long_target, 431),
        // More than the 32 the server parses.
        ("10,000 headers", many_headers, 431),
    ] {
        let response = exchange(addr(), &request);
        assert_eq!(statuses(&response), [status], "{case}: {}", show(&response));
        still_serves();
    }
}

/// A request sent a byte per write, each a segment of its own, arrives
/// well within `REQUEST_TIMEOUT`: it is served.
#[test]
fn a_request_written_a_byte_at_a_time_is_served() {
    let request = b"POST /form HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bad-input\r\n\
        Accept: */*\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello=world";
    let mut conn = connect(addr());
    conn.set_nodelay(true).unwrap();
    for byte in request.chunks(1) {
        conn.write_all(byte).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let response = until_closed(conn);
    assert_eq!(statuses(&response), [200], "{}", show(&response));
    still_serves();
}

/// Slowloris: 1,000 connections that send nothing and 1,000 that stall
/// in the middle of a request head. The server serves others meanwhile,
/// and closes the stalled ones after `REQUEST_TIMEOUT` (with 408) and the
/// silent ones after `IDLE_TIMEOUT`.
#[test]
fn idle_and_stalled_connections_are_closed_while_others_are_served() {
    const EACH: usize = 1000;
    allow_fds(4 * EACH as u64);
    let addr = addr();
    let silent: Vec<TcpStream> = (0..EACH).map(|_| connect(addr)).collect();
    let stalled: Vec<TcpStream> = (0..EACH)
        .map(|_| {
            let mut conn = connect(addr);
            conn.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
                .unwrap();
            conn
        })
        .collect();
    still_serves();
    // One deadline for all, so that a server which closes none fails the
    // test in seconds, not 2,000 client timeouts.
    let deadline = std::time::Instant::now() + super::IDLE_TIMEOUT + CLIENT_TIMEOUT;
    let until_closed = |conn: TcpStream| {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        until_closed(conn)
    };
    for conn in stalled {
        let response = until_closed(conn);
        assert!(
            response.is_empty() || statuses(&response) == [408],
            "{}",
            show(&response)
        );
    }
    for conn in silent {
        let response = until_closed(conn);
        assert!(response.is_empty(), "{}", show(&response));
    }
    still_serves();
}

/// A client that shuts down its side after its requests still gets every
/// response; one that does so in the middle of a request is closed.
#[test]
fn a_half_closed_connection_gets_its_responses() {
    let one = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    let with_body = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    for (request, answers) in [
        (one.clone(), 1),
        (with_body.repeat(3), 3),
        (one.repeat(1000), 1000),
        (b"GET / HTTP/1.1\r\nHost:".to_vec(), 0),
    ] {
        let mut conn = connect(addr());
        conn.write_all(&request).unwrap();
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        let response = until_closed(conn);
        assert_eq!(statuses(&response), [200].repeat(answers));
        still_serves();
    }
}

/// A client that resets its connection (before sending, in the middle of
/// a request head or body, or while the server writes its responses)
/// ends only that connection.
#[test]
fn a_reset_ends_only_its_connection() {
    let addr = addr();
    abort(connect(addr));
    still_serves();
    for partial in [
        &b"GET / HTTP/1.1\r\nHost: a\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc",
    ] {
        let mut conn = connect(addr);
        conn.write_all(partial).unwrap();
        abort(conn);
        still_serves();
    }
    // 100,000 pipelined requests: more responses than the sockets buffer,
    // so the server is still writing them (or blocked writing) when the
    // reset comes. Its own writes blocked, the server stops reading ours,
    // and our write times out.
    let mut conn = connect(addr);
    conn.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = conn.write_all(&b"GET / HTTP/1.1\r\n\r\n".repeat(100_000));
    let mut first = [0; 17];
    conn.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    abort(conn);
    still_serves();
}

/// The server, limited to 256 descriptors, gets 1,000 connections at once,
/// each with a request: it answers those it could accept, and once they
/// are closed, a new one.
#[test]
fn survives_running_out_of_file_descriptors() {
    const CONNECTIONS: usize = 1000;
    allow_fds(4 * CONNECTIONS as u64);
    let mut server = ChildServer::start("bad_input::server", Some(256), MARKER);
    let addr = server.addr();
    // The listener's backlog (1024) holds the connections the server
    // cannot accept yet, so each connects at once.
    let mut many: Vec<TcpStream> = (0..CONNECTIONS).map(|_| connect(addr)).collect();
    for conn in &mut many {
        conn.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    }
    let mut first = [0; 17];
    many[0].read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    drop(many);
    serves(addr);
    server.assert_running();
    let log = server.stop();
    assert!(log.contains("Too many open files"), "{log}");
}

/// The server process of the other tests.
#[test]
#[ignore = "the server process of the other tests"]
fn server() {
    if !super::child_server::become_server() {
        return;
    }
    let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{MARKER}{}", listener.local_addr().unwrap());
    let served = xasync::xawait(xasync::xasync(move || super::accept_loop(&listener)));
    panic!("the server stopped: {served:?}");
}
