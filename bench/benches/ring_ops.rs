//! Operations that a coroutine runs in its worker's ring on io_uring and
//! through readiness on epoll, measured on both backends in the same run,
//! alternating, on one worker over loopback:
//!
//! - `connects`: a coroutine connects in a loop (`TcpStream::connect`, by
//!   readiness on both backends since `IORING_OP_CONNECT` measured slower
//!   here: the two figures now say how alike two same runs are) and
//!   resets each connection; a plain thread accepts and resets them too
//!   (`SO_LINGER` 0: no `TIME_WAIT` on either side, whose thousands of
//!   sockets made new connects collide with old ones and wait for the
//!   client's SYN retransmission, a second, as the run went on).
//! - `UDP round trips`: two coroutines ping-pong a 64-byte datagram, one with
//!   `send`/`recv` on a connected socket, the other with
//!   `recv_from`/`send_to`.
//! - `file opens`: a coroutine opens a file (in the page cache) and closes
//!   it, in a loop: on epoll on the blocking pool.
//!
//! Reports operations per second and per CPU-second of the process (which
//! counts only this process's work, and so is steadier than the rate on
//! a machine that other work shares), medians of the rounds, and
//! io_uring's ratios to epoll (above 1: io_uring is faster).
//!
//! ```sh
//! cargo bench -p xasync-bench --bench ring_ops
//! XASYNC_BENCH_SECS=1 XASYNC_BENCH_ROUNDS=11 cargo bench -p xasync-bench --bench ring_ops
//! cargo bench -p xasync-bench --bench ring_ops -- UDP   # one of them
//! ```

mod cpu;
#[allow(dead_code)] // the server helpers, for the network benchmarks
mod io;
#[path = "../../examples/src/reset.rs"]
mod reset;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xasync::io::IoBackend;
use xasync::net::{TcpStream, UdpSocket};
use xasync_bench::median;

fn main() {
    let secs = io::seconds();
    println!(
        "loopback, 1 worker, {secs} s per run, median of {} rounds",
        io::rounds()
    );
    report("connects", secs, connects);
    report("UDP round trips", secs, round_trips);
    report("file opens", secs, opens);
}

/// Runs `measure` (which returns how many operations it did) on each
/// backend, alternating, and prints the medians.
fn report(what: &str, secs: u64, measure: fn(IoBackend, Duration) -> u64) {
    if !xasync_bench::selected(what) {
        return;
    }
    let mut results = [IoBackend::Uring, IoBackend::Epoll].map(|b| (b, Vec::new(), Vec::new()));
    for _ in 0..io::rounds() {
        for (backend, rates, per_cpu) in &mut results {
            let (cpu, start) = (cpu::process_cpu(), Instant::now());
            let done = measure(*backend, Duration::from_secs(secs)) as f64;
            rates.push(done / start.elapsed().as_secs_f64());
            per_cpu.push(done / (cpu::process_cpu() - cpu).max(1e-3));
        }
    }
    let [ring, epoll] = results.map(|(_, rates, per_cpu)| (median(rates), median(per_cpu)));
    println!("{what}:");
    println!("  io_uring {:>9.0}/s {:>9.0}/CPU-s", ring.0, ring.1);
    println!("  epoll    {:>9.0}/s {:>9.0}/CPU-s", epoll.0, epoll.1);
    println!(
        "  io_uring/epoll: {:.3}× per second, {:.3}× per CPU-second",
        ring.0 / epoll.0,
        ring.1 / epoll.1
    );
}

fn runtime(backend: IoBackend) -> xasync::Runtime {
    xasync::Runtime::builder()
        .workers(1)
        .io(backend)
        .build()
        .unwrap()
}

/// The connections a coroutine opens in `duration`.
fn connects(backend: IoBackend, duration: Duration) -> u64 {
    let rt = runtime(backend);
    // xasync's listener for its backlog of 1,024 (std's 128 overflowed
    // before the acceptor ran, and a dropped SYN costs a second).
    let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.into_std().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (running, started) = std::sync::mpsc::channel();
    let acceptor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok((conn, _)) = listener.accept() {
                    reset::reset_on_close(&conn).unwrap();
                    let _ = running.send(());
                }
            }
        })
    };
    drop(std::net::TcpStream::connect(addr).unwrap());
    started.recv().unwrap();
    let start = Instant::now();
    let connected = rt
        .xasync(move || {
            let mut connected = 0u64;
            while start.elapsed() < duration {
                // The acceptor may reset a connection before the connect
                // has seen it established: that connect counts too.
                match TcpStream::connect(addr) {
                    Ok(conn) => reset::reset_on_close(&conn).unwrap(),
                    Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
                }
                connected += 1;
            }
            connected
        })
        .join()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    drop(std::net::TcpStream::connect(addr)); // wakes the acceptor
    acceptor.join().unwrap();
    rt.shutdown();
    connected
}

/// The UDP round trips between two coroutines in `duration`.
fn round_trips(backend: IoBackend, duration: Duration) -> u64 {
    let rt = runtime(backend);
    let (client, server) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    client.connect(server.local_addr().unwrap()).unwrap();
    let echo = rt.xasync(move || {
        let mut buf = [0; 64];
        loop {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            if n == 0 {
                return; // the client is done
            }
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let start = Instant::now();
    let trips = rt
        .xasync(move || {
            let (mut trips, mut buf) = (0u64, [7; 64]);
            while start.elapsed() < duration {
                client.send(&buf).unwrap();
                assert_eq!(client.recv(&mut buf).unwrap(), 64);
                trips += 1;
            }
            client.send(&[]).unwrap();
            trips
        })
        .join()
        .unwrap();
    echo.join().unwrap();
    rt.shutdown();
    trips
}

/// The opens (and closes) of one file a coroutine makes in `duration`.
fn opens(backend: IoBackend, duration: Duration) -> u64 {
    let rt = runtime(backend);
    let path = std::env::temp_dir().join(format!("xasync-bench-opens-{}", std::process::id()));
    std::fs::write(&path, b"opened").unwrap();
    let start = Instant::now();
    let inner = path.clone();
    let opened = rt
        .xasync(move || {
            let mut opened = 0u64;
            while start.elapsed() < duration {
                drop(xasync::fs::File::open(&inner).unwrap());
                opened += 1;
            }
            opened
        })
        .join()
        .unwrap();
    rt.shutdown();
    std::fs::remove_file(path).unwrap();
    opened
}
