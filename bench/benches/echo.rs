//! Echo over loopback: an xasync server (one coroutine per connection,
//! plain `read`/`write_all`) against a tokio server (current-thread
//! runtime, one task per connection, `AsyncReadExt`/`AsyncWriteExt`), each
//! on one thread pinned to CPU 0. The client (this process, pinned to
//! CPU 1) is the same for both: an xasync runtime with one worker and one
//! coroutine per connection doing 64-byte ping-pongs. Reports round trips
//! per second, median and 99th-percentile latency, server CPU time, and
//! ratios. The xasync server runs twice: on io_uring (`xasync`, the
//! ratios' numerator) and on epoll (`xasync-epoll`).
//!
//! ```sh
//! cargo bench -p xasync-bench --bench echo
//! ```

mod io;

use io::{SERVER_ENV, Server, announce};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xasync_bench::median;

const MESSAGE: usize = 64;

fn main() {
    if let Ok(kind) = std::env::var(SERVER_ENV) {
        serve(&kind);
        return;
    }
    let secs = io::seconds();
    println!(
        "echo ping-pong of {MESSAGE} bytes, server on CPU 0, client on CPU 1, {secs} s per run, median of {} rounds",
        io::rounds()
    );
    for connections in [1, 100] {
        let mut results: Vec<(&str, Vec<Run>)> = ["xasync", "xasync-epoll", "tokio"]
            .into_iter()
            .map(|name| (name, Vec::new()))
            .collect();
        for _ in 0..io::rounds() {
            for (name, runs) in &mut results {
                runs.push(run(name, connections, Duration::from_secs(secs)));
            }
        }
        println!("{connections} connection(s)");
        let summary: Vec<_> = results
            .iter()
            .map(|(name, runs)| {
                (
                    *name,
                    median(runs.iter().map(|r| r.rate).collect()),
                    median(runs.iter().map(|r| r.p50).collect()),
                    median(runs.iter().map(|r| r.p99).collect()),
                    median(runs.iter().map(|r| r.per_cpu).collect()),
                )
            })
            .collect();
        let ours = summary[0];
        for (name, rate, p50, p99, per_cpu) in summary {
            print!(
                "  {name:<12} {rate:>9.0} round trips/s  p50 {p50:>6.1} µs  p99 {p99:>7.1} µs  {per_cpu:>9.0} per server CPU-s"
            );
            if name != "xasync" {
                print!(
                    "   xasync/{name}: {:.3}× rate, {:.3}× p99, {:.3}× per CPU-s",
                    ours.1 / rate,
                    ours.3 / p99,
                    ours.4 / per_cpu
                );
            }
            println!();
        }
    }
}

struct Run {
    rate: f64,
    p50: f64,
    p99: f64,
    per_cpu: f64,
}

/// Ping-pongs on `connections` connections for `duration` against a
/// fresh server.
fn run(kind: &str, connections: usize, duration: Duration) -> Run {
    let server = Server::start(kind);
    let addr = server.addr;
    // The client runtime's worker inherits this thread's CPU.
    pin_to(1);
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let before = server.cpu_time();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let stop = stop.clone();
            rt.xasync(move || {
                let conn = xasync::net::TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let mut latencies = Vec::with_capacity(1 << 16);
                let out = [7u8; MESSAGE];
                let mut back = [0u8; MESSAGE];
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    conn.write_all(&out).unwrap();
                    conn.read_exact(&mut back).unwrap();
                    latencies.push(start.elapsed().as_nanos() as u32);
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u32> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let cpu = (server.cpu_time() - before).as_secs_f64().max(1e-3);
    rt.shutdown();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    let rate = latencies.len() as f64 / duration.as_secs_f64();
    Run {
        rate,
        p50: at(0.5),
        p99: at(0.99),
        per_cpu: latencies.len() as f64 / cpu,
    }
}

fn serve(kind: &str) {
    match kind {
        "xasync" | "xasync-epoll" => {
            let (rt, listener) = io::xasync_server(kind);
            rt.xasync(move || {
                while let Ok((conn, _)) = listener.accept() {
                    xasync::xasync(move || {
                        conn.set_nodelay(true).unwrap();
                        let mut buf = [0u8; 4096];
                        loop {
                            match conn.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if conn.write_all(&buf[..n]).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    })
                    .detach();
                }
            })
            .join()
            .unwrap();
        }
        "tokio" => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                announce(listener.local_addr().unwrap());
                while let Ok((mut conn, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        conn.set_nodelay(true).unwrap();
                        let mut buf = [0u8; 4096];
                        loop {
                            match conn.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if conn.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    });
                }
            });
        }
        other => panic!("unknown server {other}"),
    }
}

/// Pins the calling thread (and threads it starts later) to `cpu`.
pub fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
