//! An HTTP/1.1 "hello world" server written as plain blocking code — one
//! coroutine per connection, `read` and `write_all` as on a thread — that
//! scales like an event loop: keep-alive, pipelining (every complete
//! request in a read is answered in one write), idle and request timeouts,
//! and an accept loop that survives running out of file descriptors.
//!
//! ```sh
//! cargo run --release --example http_hello              # 127.0.0.1:8080
//! cargo run --release --example http_hello -- 0.0.0.0:3000
//! XASYNC_WORKERS=1 cargo run --release --example http_hello
//! wrk -t1 -c100 -d10s http://127.0.0.1:8080/
//! ```

#[path = "src/accept.rs"]
mod accept;

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use xasync::net::{TcpListener, TcpStream};
use xasync::{xasync, xawait};

/// A connection idle (or a client silent) this long is closed (3 s in the
/// tests).
const IDLE_TIMEOUT: Duration = Duration::from_secs(if cfg!(test) { 3 } else { 10 });
/// A request must arrive whole within this long of its first byte, else it
/// gets `408` and the connection is closed (1 s in the tests, to keep them
/// short).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(if cfg!(test) { 1 } else { 10 });
/// A response that cannot be sent within this long closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head beyond this size gets `431`, a request whose head and
/// body together exceed it gets `413`; either closes the connection.
const MAX_REQUEST: usize = 16 * 1024;
/// A request with more header fields than this gets `431` and the
/// connection is closed.
const MAX_HEADERS: usize = 32;

const BODY: &[u8] = b"Hello, world!";

/// The bytes of an error response with `status` (code and reason), after
/// which the connection is closed.
macro_rules! refusal {
    ($status:literal) => {
        concat!(
            "HTTP/1.1 ",
            $status,
            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .as_bytes()
    };
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    // The accept loop is a coroutine too: `accept` suspends it.
    xawait(xasync(move || accept_loop(&listener)))
}

/// Accepts connections forever, one coroutine each.
pub fn accept_loop(listener: &TcpListener) -> io::Result<()> {
    accept::accept_loop(listener, |conn, _| {
        xasync(move || {
            // Resets, timeouts and bad requests end only this connection.
            let _ = serve(conn);
        })
        .detach();
    })
}

/// Serves one connection: reads, answers every complete request in the
/// buffer with one write, until the client closes, asks to close, goes
/// silent, is too slow, or sends garbage.
pub fn serve(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
    conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut input = vec![0; 4096];
    let mut filled = 0;
    let mut output = Vec::with_capacity(4096);
    let mut date = HttpDate::default();
    // When the request begun in `input` must be complete (`None`: none is
    // begun, and reads wait up to IDLE_TIMEOUT).
    let mut deadline = None;
    loop {
        let n = match conn.read(&mut input[filled..]) {
            Ok(0) => return Ok(()), // the client closed
            Ok(n) => n,
            // A request was begun and ran out of its time.
            Err(e) if e.kind() == io::ErrorKind::TimedOut && filled > 0 => {
                conn.write_all(refusal!("408 Request Timeout"))?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        filled += n;
        let date = date.now(); // once per batch of pipelined requests
        let mut start = 0;
        let mut close = false;
        while start < filled && !close {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&input[start..filled]) {
                Ok(httparse::Status::Complete(head)) => match request_len(&request, head) {
                    Ok(len) if filled - start < len => break, // the body is still coming
                    Ok(len) => {
                        close = wants_close(&request);
                        respond(&mut output, date, close);
                        start += len;
                    }
                    Err(response) => {
                        output.extend_from_slice(response);
                        close = true;
                    }
                },
                Ok(httparse::Status::Partial) => break,
                Err(e) => {
                    output.extend_from_slice(match e {
                        httparse::Error::TooManyHeaders => {
                            refusal!("431 Request Header Fields Too Large")
                        }
                        _ => refusal!("400 Bad Request"),
                    });
                    close = true;
                }
            }
        }
        if !output.is_empty() {
            conn.write_all(&output)?;
            output.clear();
        }
        if close {
            return Ok(());
        }
        // Keep the unparsed rest at the front; grow for large requests.
        input.copy_within(start..filled, 0);
        filled -= start;
        if filled == input.len() {
            if input.len() >= MAX_REQUEST {
                conn.write_all(refusal!("431 Request Header Fields Too Large"))?;
                return Ok(());
            }
            input.resize(input.len() * 2, 0);
        }
        if filled == 0 {
            if deadline.take().is_some() {
                conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
            }
        } else {
            // The rest begins a request (a new one if one ended in this
            // read): bound the reads by what is left of its time, so that a
            // client cannot hold the connection by trickling bytes in.
            if start > 0 {
                deadline = None;
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + REQUEST_TIMEOUT);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                conn.write_all(refusal!("408 Request Timeout"))?;
                return Ok(());
            }
            conn.set_read_timeout(Some(left))?;
        }
    }
}

fn respond(output: &mut Vec<u8>, date: &[u8], close: bool) {
    // The same header set as may_minihttp's hello world (the benchmark's
    // peer), so that both put the same bytes on the wire.
    output.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: X\r\nDate: ");
    output.extend_from_slice(date);
    output.extend_from_slice(b"\r\nContent-Length: 13\r\n");
    if close {
        output.extend_from_slice(b"Connection: close\r\n");
    }
    output.extend_from_slice(b"\r\n");
    output.extend_from_slice(BODY);
}

fn header<'a>(request: &'a httparse::Request<'_, '_>, name: &str) -> Option<&'a [u8]> {
    request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The length of the request whose head is `head` bytes long: its head
/// and its body. Or the response that refuses it: `400` for a malformed
/// `Content-Length`, or two different ones (which one the client meant is
/// unknowable, and taking either would read the rest as the wrong
/// requests), `413` for a request larger than `MAX_REQUEST`, `501` for a
/// `Transfer-Encoding` (the server does not decode chunked bodies, so it
/// would read the chunks as requests).
fn request_len(request: &httparse::Request<'_, '_>, head: usize) -> Result<usize, &'static [u8]> {
    let mut body = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let len = content_length(header.value).ok_or(refusal!("400 Bad Request"))?;
            if body.is_some_and(|body| body != len) {
                return Err(refusal!("400 Bad Request"));
            }
            body = Some(len);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(refusal!("501 Not Implemented"));
        }
    }
    head.checked_add(body.unwrap_or(0))
        .filter(|&len| len <= MAX_REQUEST)
        .ok_or(refusal!("413 Content Too Large"))
}

/// A `Content-Length` value: ASCII digits only (no sign, which
/// `str::parse` would take), saturating at `usize::MAX`.
fn content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n: usize, d| {
        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    }))
}

/// HTTP/1.0 closes unless asked to keep alive; 1.1 keeps alive unless
/// asked to close.
fn wants_close(request: &httparse::Request<'_, '_>) -> bool {
    let connection = header(request, "connection");
    let says = |word: &str| connection.is_some_and(|v| v.eq_ignore_ascii_case(word.as_bytes()));
    match request.version {
        Some(1) => says("close"),
        _ => !says("keep-alive"),
    }
}

/// The `Date` header value (IMF-fixdate), recomputed once per second.
#[derive(Default)]
struct HttpDate {
    second: u64,
    text: [u8; 29],
}

impl HttpDate {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now != self.second || self.text[0] == 0 {
            self.second = now;
            self.text = imf_fixdate(now);
        }
        &self.text
    }
}

/// Formats Unix time `secs` as e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{}, {day:02} {} {year:04} {hour:02}:{minute:02}:{second:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
    );
    let mut out = [b' '; 29];
    out.copy_from_slice(&text.as_bytes()[..29]);
    out
}

#[cfg(test)]
#[path = "src/child_server.rs"]
mod child_server;

#[cfg(test)]
#[path = "http_hello/bad_input.rs"]
mod bad_input;

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::OnceLock;
    use std::time::Duration;

    /// The address of a server shared by the tests, on the default runtime.
    fn server() -> SocketAddr {
        static ADDR: OnceLock<SocketAddr> = OnceLock::new();
        *ADDR.get_or_init(|| {
            let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            xasync::xasync(move || super::accept_loop(&listener)).detach();
            addr
        })
    }

    /// A connection to the server; reads give up after 10 s.
    fn connect() -> TcpStream {
        let conn = TcpStream::connect(server()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    /// Sends `request` on a new connection, then reads until the server
    /// closes it.
    fn exchange(request: &[u8]) -> String {
        let mut conn = connect();
        conn.write_all(request).unwrap();
        let mut response = Vec::new();
        match conn.read_to_end(&mut response) {
            // The server may close with our bytes unread, which resets.
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{e} after {:?}", String::from_utf8_lossy(&response)),
        }
        String::from_utf8(response).unwrap()
    }

    /// The server answers a plain request (on a new connection).
    fn still_serves() {
        let response = exchange(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nHello, world!"), "{response}");
    }

    #[test]
    fn pipelined_requests_with_bodies() {
        let response = exchange(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
              GET / HTTP/1.1\r\ncontent-length:  0 \r\n\r\n\
              GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(
            response.matches("HTTP/1.1 200 OK\r\n").count(),
            3,
            "{response}"
        );
    }

    #[test]
    fn a_content_length_that_overflows_is_rejected() {
        // 2^64 - 1: `head + body` wraps around in a release build.
        let response = exchange(
            b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n\
              GET / HTTP/1.1\r\n\r\n",
        );
        assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
        assert_eq!(response.matches("HTTP/1.1").count(), 1, "{response}");
        still_serves();
    }

    #[test]
    fn a_content_length_that_is_not_a_number_is_rejected() {
        for value in ["-1", "+1", "1x", "", "0x10", "1 2"] {
            let request = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
            let response = exchange(request.as_bytes());
            assert!(
                response.starts_with("HTTP/1.1 400 "),
                "{value:?}: {response}"
            );
        }
        still_serves();
    }

    /// A client that sends its request head a byte at a time, each well
    /// within the idle timeout, is cut off once the head took longer than
    /// `REQUEST_TIMEOUT`.
    #[test]
    fn a_request_head_that_trickles_in_is_cut_off() {
        let mut conn = connect();
        conn.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = std::time::Instant::now();
        let mut response = Vec::new();
        let closed = loop {
            assert!(
                start.elapsed() < super::REQUEST_TIMEOUT * 5,
                "still open after {:?}",
                start.elapsed()
            );
            if conn.write_all(b"a").is_err() {
                break true;
            }
            let mut buf = [0; 256];
            match conn.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => response.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break true,
            }
        };
        assert!(closed);
        let response = String::from_utf8(response).unwrap();
        assert!(
            response.is_empty() || response.starts_with("HTTP/1.1 408 "),
            "{response}"
        );
        still_serves();
    }

    /// Between requests, a connection waits for the next one up to the
    /// idle timeout, not the request timeout.
    #[test]
    fn keep_alive_outlives_the_request_timeout() {
        let mut conn = connect();
        for close in ["", "Connection: close\r\n"] {
            let request = format!("GET / HTTP/1.1\r\n{close}\r\n");
            conn.write_all(request.as_bytes()).unwrap();
            let mut response = Vec::new();
            while !response.ends_with(b"Hello, world!") {
                let mut buf = [0; 256];
                let n = conn.read(&mut buf).unwrap();
                assert_ne!(n, 0, "closed after {response:?}");
                response.extend_from_slice(&buf[..n]);
            }
            assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
            std::thread::sleep(super::REQUEST_TIMEOUT * 3 / 2);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            &super::imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(&super::imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
