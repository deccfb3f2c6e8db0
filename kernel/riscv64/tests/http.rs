//! An HTTP/1.1 server in the kernel, over virtio-net and smoltcp: one
//! coroutine accepts, one coroutine serves each connection, all written as
//! plain blocking code (`accept`, `read`, `write_all`) that suspends only
//! the calling coroutine until the NIC's interrupt brings what it waits for.
//!
//! Every request gets `hello from xasync on riscv64`; keep-alive is the
//! default (HTTP/1.1), `Connection: close` ends the connection after the
//! response. `GET /shutdown` answers, then ends the image with success.
//! The runner (`qemu-run.sh`, device `net`) forwards a host port to port 80
//! and drives the checks with curl: two requests on one connection,
//! several connections at once, then `/shutdown`.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use core::sync::atomic::{AtomicU64, Ordering};
use xasync_core::task::stackful::Suspender;
use xasync_kernel_riscv64::event::IrqEvent;
use xasync_kernel_riscv64::net::{self, TcpListener, TcpStream};
use xasync_kernel_riscv64::{BootInfo, entry, irq, platform, println};

entry!(main, devices = "net");

/// The port the server listens on (the runner forwards a host port to it).
const PORT: u16 = 80;
/// Connections that can be set up at once before the acceptor takes them.
const BACKLOG: usize = 16;
/// The body of every response.
const BODY: &str = "hello from xasync on riscv64\n";

/// Signalled by the `/shutdown` request.
static SHUTDOWN: IrqEvent = IrqEvent::new();
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
static REQUESTS: AtomicU64 = AtomicU64::new(0);

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    let mac = net::init(&executor);
    let spawner = executor.spawner();
    executor
        .spawn_coroutine(move |s| {
            let mut listener = TcpListener::bind(PORT, BACKLOG);
            // The runner waits for this line before it connects.
            println!("http: listening on {}:{PORT} (mac {mac})", net::ADDRESS);
            loop {
                let stream = listener.accept(s);
                CONNECTIONS.fetch_add(1, Ordering::Relaxed);
                spawner.spawn_coroutine(move |s| serve(s, stream)).detach();
            }
        })
        .detach();
    executor.block_on(SHUTDOWN.wait_for(1));
    let _ = irq::disable();
    println!(
        "http: served {} requests on {} connections; {:?}",
        REQUESTS.load(Ordering::Relaxed),
        CONNECTIONS.load(Ordering::Relaxed),
        net::stats()
    );
}

/// One request's head, as far as this server cares.
struct Request {
    shutdown: bool,
    keep_alive: bool,
}

/// Parses a request head (up to and including the blank line).
fn parse(head: &[u8]) -> Option<Request> {
    let head = core::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path, version) = (
        request_line.next()?,
        request_line.next()?,
        request_line.next()?,
    );
    if method != "GET" || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut keep_alive = version == "HTTP/1.1";
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("connection")
        {
            keep_alive = !value.trim().eq_ignore_ascii_case("close");
        }
    }
    Some(Request {
        shutdown: path == "/shutdown",
        keep_alive,
    })
}

/// Serves one connection: requests in a row while the client keeps it
/// alive.
fn serve(s: &Suspender<'_>, mut stream: TcpStream) {
    let mut buffer = [0; 2048];
    let mut filled = 0;
    loop {
        // Read until a whole request head is in the buffer.
        let end = loop {
            if let Some(at) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if filled == buffer.len() {
                return; // a head this long is not one of ours
            }
            let n = stream.read(s, &mut buffer[filled..]);
            if n == 0 {
                return; // the client closed the connection
            }
            filled += n;
        };
        let Some(request) = parse(&buffer[..end]) else {
            let _ = stream.write_all(
                s,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let (body, keep_alive) = if request.shutdown {
            ("bye\n", false)
        } else {
            (BODY, request.keep_alive)
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        if stream.write_all(s, response.as_bytes()).is_err() {
            return;
        }
        if request.shutdown {
            let _ = stream.flush(s);
            SHUTDOWN.signal();
            return;
        }
        if !keep_alive {
            return;
        }
        buffer.copy_within(end..filled, 0);
        filled -= end;
    }
}
