//! Feature `hyper`: hyper's HTTP/1 server and client over xasync's sockets
//! ([`HyperIo`]), its timeouts on xasync's timers ([`HyperTimer`]: the
//! header-read timeout fires, restarts for each keep-alive request, and a
//! reset moves a sleep's deadline), and its spawned futures on xasync's tasks
//! ([`HyperExecutor`]); no tokio anywhere.

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use xasync::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
use xasync::net::TcpListener;
use xasync::{JoinHandle, Runtime, xasync, xawait};

/// Answers every request with its path.
async fn echo_path(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(
        request.uri().path().to_owned(),
    ))))
}

/// Serves one connection on `rt` with the given header-read timeout; the
/// handle gives the connection's result (`Err` if it failed, or whether the
/// failure was the timeout).
fn serve_one(rt: &Runtime, header_timeout: Duration) -> (SocketAddr, JoinHandle<Result<(), bool>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = rt.xasync(move || {
        let (socket, _) = listener.accept().unwrap();
        let connection = http1::Builder::new()
            .timer(HyperTimer)
            .header_read_timeout(header_timeout)
            .serve_connection(HyperIo::new(socket), service_fn(echo_path));
        xawait(connection).map_err(|e| e.is_timeout())
    });
    (addr, served)
}

/// A std client connection whose reads give up after 10 s.
fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

/// Reads one response whose body is `body`, and nothing more.
fn expect_response(conn: &mut std::net::TcpStream, body: &str) {
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&response).ends_with(&format!("\r\n\r\n{body}")) {
        let n = conn.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed after {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn header_read_timeout_closes_a_silent_connection() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let timeout = Duration::from_millis(200);
    let (addr, served) = serve_one(&rt, timeout);
    let start = Instant::now();
    let mut conn = connect(addr);
    conn.write_all(b"GET / HTTP/1.1\r\n").unwrap(); // and never the rest
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest); // ends when the server closes
    assert!(
        start.elapsed() >= timeout,
        "closed early: {:?}",
        start.elapsed()
    );
    assert_eq!(
        served.join().unwrap(),
        Err(true),
        "not closed by the timeout"
    );
}

#[test]
fn header_read_timeout_restarts_for_each_keep_alive_request() {
    // The timer started at accept: 500 ms. The first head arrives at
    // 300 ms; hyper starts a new timer as it starts reading the second
    // head, which arrives at 600 ms: in time only if the first timer was
    // dropped (its wheel entry removed) rather than left to fire.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (addr, served) = serve_one(&rt, Duration::from_millis(500));
    let mut conn = connect(addr);
    for path in ["/first", "/second"] {
        std::thread::sleep(Duration::from_millis(300));
        write!(conn, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        expect_response(&mut conn, path);
    }
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(served.join().unwrap(), Ok(()));
}

#[test]
fn timer_reset_moves_the_deadline_of_its_sleep() {
    use hyper::rt::Timer;
    let rt = Runtime::builder().workers(1).build().unwrap();
    let woke = rt.xasync(|| {
        let mut sleep = HyperTimer.sleep(Duration::from_secs(3600));
        let start = Instant::now();
        HyperTimer.reset(&mut sleep, start + Duration::from_millis(20));
        xawait(sleep);
        start.elapsed()
    });
    let took = woke.join_timeout(Duration::from_secs(10)).unwrap();
    assert!(took >= Duration::from_millis(20), "woke early: {took:?}");
}

#[test]
fn hyper_client_talks_to_hyper_server_over_xasync_sockets() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (addr, served) = serve_one(&rt, Duration::from_secs(10));
    let body = xawait(rt.xasync(move || {
        let socket = xasync::net::TcpStream::connect(addr).unwrap();
        let (mut sender, connection) =
            xawait(hyper::client::conn::http1::handshake(HyperIo::new(socket))).unwrap();
        // The connection is driven by a task of its own, as hyper expects.
        let driver = xasync::spawn(connection);
        let request = Request::get("/from-a-client")
            .header("host", "test")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = xawait(sender.send_request(request)).unwrap();
        let body = xawait(response.into_body().collect()).unwrap().to_bytes();
        drop(sender); // lets the connection close
        xawait(driver).unwrap();
        body
    }));
    assert_eq!(&body[..], b"/from-a-client");
    assert_eq!(served.join().unwrap(), Ok(()));
}

#[test]
fn executor_runs_hyper_futures_as_xasync_tasks() {
    use hyper::rt::Executor;
    let (tx, rx) = xasync::sync::oneshot::channel();
    HyperExecutor.execute(async move {
        xasync::time::sleep_async(Duration::from_millis(1)).await;
        tx.send(xasync::Handle::try_current().is_some()).unwrap();
    });
    assert!(rx.recv().unwrap(), "not run on a worker");
}

#[test]
fn handlers_run_as_coroutines() {
    // The example's pattern: the service's future is the handle of a
    // coroutine running the handler, which may wait like plain code.
    let rt = Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.xasync(move || {
        let (socket, _) = listener.accept().unwrap();
        let service = service_fn(|_request: Request<Incoming>| {
            xasync(|| {
                xasync::time::sleep(Duration::from_millis(5));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("waited"))))
            })
        });
        xawait(
            http1::Builder::new()
                .timer(HyperTimer)
                .serve_connection(HyperIo::new(socket), service),
        )
        .unwrap();
    })
    .detach();
    let mut conn = connect(addr);
    conn.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    expect_response(&mut conn, "waited");
}
