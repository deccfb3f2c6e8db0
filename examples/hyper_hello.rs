//! A hyper HTTP/1 server on xasync, without tokio: each connection is
//! served in a coroutine, and each request's handler is plain blocking-style
//! code in a coroutine of its own (it may sleep, read files, wait on
//! channels or locks). xasync's adapters give hyper the socket, the timer
//! its header-read timeout needs, and nothing else.
//!
//! ```sh
//! cargo run --release -p xasync-examples --features hyper --example hyper_hello
//! curl http://127.0.0.1:8080/anyone
//! ```

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io;
use std::time::Duration;
use xasync::compat::hyper::{HyperIo, HyperTimer};
use xasync::net::{TcpListener, TcpStream};
use xasync::{xasync, xawait};

/// A client must send a request's head within this long (hyper closes the
/// connection otherwise; this needs the timer).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    xawait(xasync(move || accept_loop(&listener)))
}

/// Accepts connections and serves each in a coroutine.
fn accept_loop(listener: &TcpListener) -> io::Result<()> {
    loop {
        let (socket, _) = listener.accept()?;
        xasync(move || serve(socket)).detach();
    }
}

/// Serves one connection: hyper drives the protocol, each request's
/// handler runs in its own coroutine (a `JoinHandle` is a future of the
/// handler's value).
fn serve(socket: TcpStream) {
    let service = service_fn(|request| xasync(move || Ok::<_, Infallible>(handler(request))));
    let connection = http1::Builder::new()
        .timer(HyperTimer)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(HyperIo::new(socket), service);
    if let Err(e) = xawait(connection) {
        eprintln!("connection: {e}");
    }
}

/// The handler: plain code, which may wait like any coroutine code.
fn handler(request: Request<Incoming>) -> Response<Full<Bytes>> {
    xasync::time::sleep(Duration::from_millis(1)); // suspends this handler only
    let name = request.uri().path().trim_start_matches('/');
    let name = if name.is_empty() { "world" } else { name };
    Response::new(Full::new(Bytes::from(format!("Hello, {name}!\n"))))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn serves_a_request_with_the_header_read_timeout_on() {
        let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        xasync::xasync(move || super::accept_loop(&listener)).detach();
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"GET /xasync HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nHello, xasync!\n"), "{response}");
    }
}
