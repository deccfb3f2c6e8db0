//! An HTTP/1.1 "hello world" server written as plain blocking code — one
//! coroutine per connection, `read` and `write_all` as on a thread — that
//! scales like an event loop: keep-alive, pipelining (every complete
//! request in a read is answered in one write), per-connection timeouts,
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

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xasync::net::{TcpListener, TcpStream};
use xasync::{xasync, xawait};

/// A connection idle (or a client silent) this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A response that cannot be sent within this long closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers beyond this size get `431` and the connection is closed.
const MAX_HEAD: usize = 16 * 1024;

const BODY: &[u8] = b"Hello, world!";

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
/// silent, or sends garbage.
pub fn serve(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
    conn.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut input = vec![0; 4096];
    let mut filled = 0;
    let mut output = Vec::with_capacity(4096);
    let mut date = HttpDate::default();
    loop {
        let n = conn.read(&mut input[filled..])?;
        if n == 0 {
            return Ok(()); // the client closed
        }
        filled += n;
        let date = date.now(); // once per batch of pipelined requests
        let mut start = 0;
        let mut close = false;
        while start < filled && !close {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&input[start..filled]) {
                Ok(httparse::Status::Complete(head)) => {
                    let body = content_length(&request).unwrap_or(0);
                    if filled - start < head + body {
                        break; // the body is still coming
                    }
                    close = wants_close(&request);
                    respond(&mut output, date, close);
                    start += head + body;
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    output.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
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
        // Keep the unparsed rest at the front; grow for large heads.
        input.copy_within(start..filled, 0);
        filled -= start;
        if filled == input.len() {
            if input.len() >= MAX_HEAD {
                conn.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
                return Ok(());
            }
            input.resize(input.len() * 2, 0);
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

fn content_length(request: &httparse::Request<'_, '_>) -> Option<usize> {
    std::str::from_utf8(header(request, "content-length")?)
        .ok()?
        .trim()
        .parse()
        .ok()
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
mod tests {
    #[test]
    fn dates() {
        assert_eq!(
            &super::imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(&super::imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
