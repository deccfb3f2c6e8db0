//! An HTTP/1.1 server in the kernel, over virtio-net and smoltcp: one
//! coroutine accepts; each connection is served by a coroutine written as
//! plain blocking code (`accept`, `read`, `write_all`) that suspends only
//! the calling coroutine until the NIC's interrupt brings what it waits
//! for — or, every other connection, by an async task through the same
//! sockets' futures.
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
use alloc::string::String;
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
/// Requests answered by async tasks (the others: by coroutines).
static BY_TASKS: AtomicU64 = AtomicU64::new(0);

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
                // Every other connection is served by an async task, the
                // rest by a coroutine: the sockets serve both.
                if CONNECTIONS
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(2)
                {
                    spawner.spawn_coroutine(move |s| serve(s, stream)).detach();
                } else {
                    spawner.spawn(serve_async(stream)).detach();
                }
            }
        })
        .detach();
    executor.block_on(SHUTDOWN.wait_for(1));
    let _ = irq::disable();
    let (requests, by_tasks) = (
        REQUESTS.load(Ordering::Relaxed),
        BY_TASKS.load(Ordering::Relaxed),
    );
    println!(
        "http: served {requests} requests on {} connections ({} by coroutines, {by_tasks} by \
         async tasks); {:?}",
        CONNECTIONS.load(Ordering::Relaxed),
        requests - by_tasks,
        net::stats()
    );
    // The runner's checks open more than two connections.
    assert!(
        by_tasks > 0 && requests > by_tasks,
        "both coroutines and async tasks served"
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

/// The requests of one connection: bytes read so far, and the request
/// heads in them.
struct Requests {
    buffer: [u8; 2048],
    filled: usize,
    /// Bytes of the request last returned by `next`.
    taken: usize,
}

/// What to do next with a connection.
enum Step {
    /// Read more into [`Requests::room`], then ask again.
    Read,
    /// Send this response; close after it unless `keep_alive`.
    Respond {
        response: String,
        keep_alive: bool,
        shutdown: bool,
    },
    /// Close the connection (after this response, if any).
    Close(Option<&'static [u8]>),
}

impl Requests {
    fn new() -> Self {
        Requests {
            buffer: [0; 2048],
            filled: 0,
            taken: 0,
        }
    }

    /// Where the next read goes.
    fn room(&mut self) -> &mut [u8] {
        &mut self.buffer[self.filled..]
    }

    /// Counts `n` bytes read into [`room`](Self::room) (0: end of stream).
    fn read(&mut self, n: usize) -> bool {
        self.filled += n;
        n > 0
    }

    /// The next step: drops the request answered last, then answers the
    /// next whole request head, or asks for more bytes.
    fn next(&mut self) -> Step {
        self.buffer.copy_within(self.taken..self.filled, 0);
        self.filled -= self.taken;
        self.taken = 0;
        let Some(at) = self.buffer[..self.filled]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
        else {
            // A head this long is not one of ours.
            return if self.filled == self.buffer.len() {
                Step::Close(None)
            } else {
                Step::Read
            };
        };
        self.taken = at + 4;
        let Some(request) = parse(&self.buffer[..self.taken]) else {
            return Step::Close(Some(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ));
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
        Step::Respond {
            response,
            keep_alive,
            shutdown: request.shutdown,
        }
    }
}

/// Serves one connection from a coroutine, in blocking style: requests in
/// a row while the client keeps it alive.
fn serve(s: &Suspender<'_>, mut stream: TcpStream) {
    let mut requests = Requests::new();
    loop {
        match requests.next() {
            Step::Read => {
                let n = stream.read(s, requests.room());
                if !requests.read(n) {
                    return; // the client closed the connection
                }
            }
            Step::Respond {
                response,
                keep_alive,
                shutdown,
            } => {
                if stream.write_all(s, response.as_bytes()).is_err() {
                    return;
                }
                if shutdown {
                    let _ = stream.flush(s);
                    SHUTDOWN.signal();
                }
                if !keep_alive {
                    return;
                }
            }
            Step::Close(last) => {
                if let Some(last) = last {
                    let _ = stream.write_all(s, last);
                }
                return;
            }
        }
    }
}

/// Serves one connection from an async task: the same, through the
/// sockets' futures.
async fn serve_async(mut stream: TcpStream) {
    let mut requests = Requests::new();
    loop {
        match requests.next() {
            Step::Read => {
                let n = stream.read_async(requests.room()).await;
                if !requests.read(n) {
                    return;
                }
            }
            Step::Respond {
                response,
                keep_alive,
                shutdown,
            } => {
                BY_TASKS.fetch_add(1, Ordering::Relaxed);
                if stream.write_all_async(response.as_bytes()).await.is_err() {
                    return;
                }
                if shutdown {
                    let _ = stream.flush_async().await;
                    SHUTDOWN.signal();
                }
                if !keep_alive {
                    return;
                }
            }
            Step::Close(last) => {
                if let Some(last) = last {
                    let _ = stream.write_all_async(last).await;
                }
                return;
            }
        }
    }
}
