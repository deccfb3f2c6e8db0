//! Feature `hook`: unmodified blocking code — `std::thread::sleep`,
//! `std::net`, ureq, the redis sync client — in 50 coroutines on one
//! worker, each waiting 200 ms, overlaps: the whole takes about 200 ms,
//! where blocking the worker would take 50 × 200 ms = 10 s.
#![cfg(all(feature = "hook", target_os = "linux"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xasync::{Runtime, xawait};

const COROUTINES: usize = 50;
const WAIT: Duration = Duration::from_millis(200);
/// Well under the 10 s of a blocked worker, and far above the 0.2 s of
/// overlapping waits: a loaded machine cannot make this test fail.
const OVERLAPPING: Duration = Duration::from_millis(1500);

/// Runs `body` in 50 coroutines on a 1-worker runtime; returns how long
/// they took together. Stacks of 128 KiB: ureq's response parsing alone
/// takes most of the default 64 KiB in debug builds (its unoptimized
/// frames overflowed it once the runtime's own frames grew by a few
/// hundred bytes).
fn fifty_on_one_worker(body: impl Fn(usize) + Send + Sync + Clone + 'static) -> Duration {
    let runtime = Runtime::builder()
        .workers(1)
        .stack_size(128 * 1024)
        .build()
        .unwrap();
    let start = Instant::now();
    let handles: Vec<_> = (0..COROUTINES)
        .map(|i| {
            let body = body.clone();
            runtime.xasync(move || body(i))
        })
        .collect();
    for handle in handles {
        xawait(handle);
    }
    start.elapsed()
}

fn assert_overlapped(what: &str, took: Duration) {
    eprintln!("{what}: {COROUTINES} coroutines x {WAIT:?} on 1 worker took {took:?}");
    assert!(
        took < OVERLAPPING,
        "{what}: took {took:?}, the waits did not overlap"
    );
}

#[test]
fn std_thread_sleep_overlaps() {
    let took = fifty_on_one_worker(|_| std::thread::sleep(WAIT));
    assert_overlapped("std::thread::sleep", took);
}

/// A server on plain threads: for each connection, reads until `end`
/// (inclusive), waits 200 ms, answers `reply`.
fn slow_server(end: &'static [u8], reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0; 1024];
                while !got.ends_with(end) {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(WAIT);
                let _ = conn.write_all(reply);
            });
        }
    });
    addr
}

#[test]
fn std_net_overlaps() {
    let addr = slow_server(b"\n", b"pong\n");
    let took = fifty_on_one_worker(move |i| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(format!("ping {i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        assert_eq!(line, "pong\n");
    });
    assert_overlapped("std::net::TcpStream", took);
}

#[test]
fn ureq_overlaps() {
    let addr = slow_server(
        b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    let took = fifty_on_one_worker(move |_| {
        let body = ureq::get(format!("http://{addr}/"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        assert_eq!(body, "ok");
    });
    assert_overlapped("ureq", took);
}

/// A `redis-server` on a free port, stopped when dropped (also when the
/// test fails).
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--maxclients", "1000"])
            .stdout(Stdio::null());
        // SAFETY: prctl is async-signal-safe. The server dies with this
        // thread, even if the test process crashes.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            })
        };
        let child = command
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_sync_client_overlaps() {
    let server = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let took = fifty_on_one_worker(move |i| {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_connection().unwrap();
        // The server holds the reply for 0.2 s: no element comes.
        let popped: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(format!("empty-{i}"))
            .arg(0.2)
            .query(&mut con)
            .unwrap();
        assert_eq!(popped, None);
    });
    assert_overlapped("redis sync client (BLPOP 0.2 s)", took);
}
