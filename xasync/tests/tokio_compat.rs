//! Feature `tokio`: tokio-based crates (tokio's timers and sockets,
//! reqwest) work under `xawait` in coroutines, with `.await` in xasync
//! tasks and on plain threads waiting with `xawait`, without a tokio
//! runtime in the test; their waits overlap on one worker; a shutdown with
//! tokio futures pending ends.
//!
//! Without the feature's entering of the driver's context, each of these
//! panics with "there is no reactor running".

mod bounded;

use bounded::within;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xasync::{JoinHandle, Runtime, xawait};

/// How many waiters overlap, and how long each waits.
const WAITERS: usize = 50;
const WAIT: Duration = Duration::from_millis(200);

/// Well under the 10 s the waits take one after another, and well over
/// the 0.2 s they take overlapped.
const OVERLAPPED: Duration = Duration::from_millis(1500);

/// One worker, with coroutine stacks of 128 KiB: reqwest's futures need
/// more than the default 64 KiB in debug builds.
fn one_worker() -> Runtime {
    Runtime::builder()
        .workers(1)
        .stack_size(128 * 1024)
        .build()
        .unwrap()
}

/// Joins every handle, returning how long it took from `start`.
fn join_all_since<T>(start: Instant, handles: Vec<JoinHandle<T>>) -> (Vec<T>, Duration) {
    let values = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (values, start.elapsed())
}

/// A local HTTP/1.1 server that answers every request after [`WAIT`], a
/// thread per connection; returns its URL.
fn slow_http_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(WAIT);
                let _ = socket.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                );
            });
        }
    });
    url
}

#[test]
fn tokio_sleeps_overlap_in_coroutines_on_one_worker() {
    let rt = one_worker();
    let start = Instant::now();
    let sleepers = (0..WAITERS)
        .map(|_| rt.xasync(|| xawait(tokio::time::sleep(WAIT))))
        .collect();
    let (_, took) = join_all_since(start, sleepers);
    assert!(took >= WAIT, "woke early: {took:?}");
    assert!(
        took < OVERLAPPED,
        "{WAITERS} sleeps of {WAIT:?} took {took:?}"
    );
}

#[test]
fn reqwest_requests_overlap_in_coroutines_on_one_worker() {
    let url = slow_http_server();
    let rt = one_worker();
    let start = Instant::now();
    let requests = (0..WAITERS)
        .map(|_| {
            let url = url.clone();
            rt.xasync(move || {
                let response = xawait(reqwest::get(url)).unwrap();
                assert_eq!(response.status(), 200);
                xawait(response.text()).unwrap()
            })
        })
        .collect();
    let (bodies, took) = join_all_since(start, requests);
    assert!(bodies.iter().all(|body| body == "hello"));
    assert!(took < OVERLAPPED, "{WAITERS} requests took {took:?}");
}

#[test]
fn reqwest_requests_overlap_in_tasks_on_one_worker() {
    let url = slow_http_server();
    let rt = one_worker();
    let start = Instant::now();
    let requests = (0..WAITERS)
        .map(|_| {
            let url = url.clone();
            rt.spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() })
        })
        .collect();
    let (bodies, took) = join_all_since(start, requests);
    assert!(bodies.iter().all(|body| body == "hello"));
    assert!(took < OVERLAPPED, "{WAITERS} requests took {took:?}");
}

#[test]
fn tokio_sockets_echo_between_coroutines() {
    let rt = one_worker();
    let listener =
        xawait(rt.xasync(|| xawait(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap()));
    let addr = listener.local_addr().unwrap();
    let server = rt.xasync(move || {
        for _ in 0..10 {
            let (mut socket, _) = xawait(listener.accept()).unwrap();
            xasync::xasync(move || {
                let mut buf = [0; 64];
                loop {
                    let n = xawait(socket.read(&mut buf)).unwrap();
                    if n == 0 {
                        break;
                    }
                    xawait(socket.write_all(&buf[..n])).unwrap();
                }
            })
            .detach();
        }
    });
    let clients: Vec<_> = (0..10u8)
        .map(|i| {
            rt.xasync(move || {
                let mut socket = xawait(tokio::net::TcpStream::connect(addr)).unwrap();
                let mut echoed = [0; 3];
                for round in 0..5u8 {
                    xawait(socket.write_all(&[i, round, 7])).unwrap();
                    xawait(socket.read_exact(&mut echoed)).unwrap();
                    assert_eq!(echoed, [i, round, 7]);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    server.join().unwrap();
}

#[test]
fn plain_thread_polls_tokio_futures_in_xawait() {
    // The test's thread is no worker: `xawait` blocks it, and the tokio
    // futures created in the awaited future find the driver.
    xawait(async { tokio::time::sleep(Duration::from_millis(10)).await });
    let url = slow_http_server();
    let body = xawait(async { reqwest::get(url).await?.text().await }).unwrap();
    assert_eq!(body, "hello");
}

#[test]
fn plain_thread_keeps_its_own_tokio_context() {
    // On a thread of another tokio runtime, `xawait` leaves that runtime's
    // context in place.
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = other.enter();
    let id = xawait(async { tokio::runtime::Handle::current().id() });
    assert_eq!(id, other.handle().id());
    assert_ne!(id, xasync::compat::tokio::handle().id());
}

#[test]
fn thread_start_hooks_run_in_the_tokio_context() {
    let in_context = Arc::new(AtomicUsize::new(0));
    let seen = in_context.clone();
    let rt = Runtime::builder()
        .workers(2)
        .on_thread_start(move || {
            if tokio::runtime::Handle::try_current().is_ok() {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    rt.shutdown();
    assert_eq!(in_context.load(Ordering::Relaxed), 2);
}

#[test]
fn shutdown_ends_with_tokio_futures_pending() {
    let cancelled = within(Duration::from_secs(10), "the shutdown", || {
        let rt = one_worker();
        let mut waiters = Vec::new();
        for _ in 0..10 {
            waiters.push(rt.xasync(|| xawait(tokio::time::sleep(Duration::from_secs(3600)))));
            waiters.push(rt.spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await }));
        }
        let listener =
            xawait(rt.xasync(|| xawait(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap()));
        let accepting = rt.xasync(move || drop(xawait(listener.accept())));
        // Let every waiter register with the driver.
        std::thread::sleep(Duration::from_millis(50));
        rt.shutdown();
        waiters
            .into_iter()
            .chain([accepting])
            .all(|h| h.join().unwrap_err().is_cancelled())
    });
    assert!(cancelled, "a waiter finished instead of being cancelled");
}
