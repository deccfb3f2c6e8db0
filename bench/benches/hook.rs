//! What the hooks (feature `hook`) cost.
//!
//! * `read` of one byte from a ready pipe, through the hook (the program's
//!   `read` is the hook) against libc's own `read` (its address from
//!   `dlsym(RTLD_NEXT)`) and the raw system call: on a plain thread, and
//!   in a coroutine on a non-blocking pipe (what `xasync::net` pays for the
//!   hooks) and on a blocking one (the emulated path of `std::net`).
//! * In coroutines: echo of 64-byte messages over loopback, 100
//!   connections, server and client coroutines on one worker, with
//!   `std::net` (through the hooks) against `xasync::net`.
//! * The same echo with `std::net` through the hooks, 1 and 100
//!   connections, on the io_uring backend (where a read or write that
//!   would block is made in the worker's ring) against the epoll backend
//!   (where it waits for readiness), alternated in the same run.
//!
//! ```sh
//! cargo bench -p xasync-bench --features hook --bench hook
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use xasync::io::IoBackend;
use xasync_bench::median;

const ROUNDS: usize = 11;

fn main() {
    if xasync_bench::selected("read") {
        read_overhead("plain thread, blocking pipe", 0);
        let rt = xasync::Runtime::builder().workers(1).build().unwrap();
        rt.block_on(rt.xasync(|| {
            read_overhead(
                "coroutine, O_NONBLOCK pipe (as xasync::net's sockets)",
                libc::O_NONBLOCK,
            );
            read_overhead("coroutine, blocking pipe (emulated, as std::net's)", 0);
        }));
    }
    if xasync_bench::selected("echo") {
        echo();
    }
    if xasync_bench::selected("ring echo") {
        ring_echo(1);
        ring_echo(CONNECTIONS);
    }
}

type ReadFn = unsafe extern "C" fn(i32, *mut libc::c_void, usize) -> isize;

/// Reads per sample: fewer than a pipe holds.
const READS: usize = 5_000;
const READ_ROUNDS: usize = 301;

/// Reads of a ready pipe made with `flags`, where this runs.
fn read_overhead(place: &str, flags: i32) {
    let mut fds = [0; 2];
    // SAFETY: a valid array for the two ends.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) }, 0);
    let [rx, tx] = fds;
    // SAFETY: `read` names libc's (the next definition after the program's
    // hook); its signature is `ReadFn`'s.
    let libc_read: ReadFn = unsafe {
        let f = libc::dlsym(libc::RTLD_NEXT, c"read".as_ptr());
        assert!(!f.is_null());
        std::mem::transmute::<*mut libc::c_void, ReadFn>(f)
    };
    unsafe extern "C" fn raw_read(fd: i32, buf: *mut libc::c_void, len: usize) -> isize {
        // SAFETY: the caller's arguments.
        unsafe { libc::syscall(libc::SYS_read, fd, buf, len) as isize }
    }
    let contenders: [(&str, ReadFn); 3] = [
        ("hooked read", libc::read),
        ("libc read", libc_read),
        ("raw syscall", raw_read),
    ];
    let fill = vec![1u8; READS];
    let mut times = vec![Vec::new(); contenders.len()];
    for round in 0..=READ_ROUNDS {
        // Each round starts with the next contender: no one always runs
        // right after the pipe was filled.
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let (read, times) = (contenders[i].1, &mut times[i]);
            // SAFETY: a valid buffer; the pipe holds 64 KiB.
            let wrote = unsafe { libc::write(tx, fill.as_ptr().cast(), READS) };
            assert_eq!(wrote, READS as isize);
            let mut byte = 0u8;
            let start = Instant::now();
            for _ in 0..READS {
                // SAFETY: a one-byte buffer; the pipe has data.
                unsafe { read(rx, (&raw mut byte).cast(), 1) };
            }
            if round > 0 {
                times.push(start.elapsed().as_nanos() as f64 / READS as f64);
            }
        }
    }
    let medians: Vec<f64> = times.into_iter().map(median).collect();
    println!("read of 1 byte from a ready pipe, {place}, median of {READ_ROUNDS} x {READS} reads");
    for ((name, _), m) in contenders.iter().zip(&medians) {
        println!(
            "  {name:<12} {m:>8.1} ns/op   hooked / {name} = {:.3}",
            medians[0] / m
        );
    }
}

const MESSAGE: usize = 64;
const CONNECTIONS: usize = 100;
const RUN: Duration = Duration::from_secs(1);

fn echo() {
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        rates[0].push(echo_run(Api::Std, None, CONNECTIONS));
        rates[1].push(echo_run(Api::Xasync, None, CONNECTIONS));
    }
    let [std_rate, xasync_rate] = rates.map(median);
    println!(
        "echo of {MESSAGE} bytes, {CONNECTIONS} connections, server and clients on 1 worker, median of {ROUNDS} x {RUN:?}"
    );
    println!("  std::net (hooked) {std_rate:>9.0} round trips/s");
    println!(
        "  xasync::net       {xasync_rate:>9.0} round trips/s   std::net / xasync::net = {:.3}",
        std_rate / xasync_rate
    );
}

/// The hooked echo over `connections` on io_uring against epoll.
fn ring_echo(connections: usize) {
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        rates[0].push(echo_run(Api::Std, Some(IoBackend::Uring), connections));
        rates[1].push(echo_run(Api::Std, Some(IoBackend::Epoll), connections));
    }
    let [uring, epoll] = rates.map(median);
    println!(
        "echo of {MESSAGE} bytes through the hooks (std::net), {connections} connection(s), 1 worker, median of {ROUNDS} x {RUN:?}"
    );
    println!("  io_uring {uring:>9.0} round trips/s");
    println!(
        "  epoll    {epoll:>9.0} round trips/s   io_uring / epoll = {:.3}",
        uring / epoll
    );
}

#[derive(Clone, Copy)]
enum Api {
    Std,
    Xasync,
}

/// A connection of either kind, as `Read + Write`.
trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

/// Accepts the next connection (`None`: the listener failed).
type Accept = Box<dyn FnMut() -> Option<Box<dyn Conn>> + Send>;

fn listen(api: Api) -> (SocketAddr, Accept) {
    match api {
        Api::Std => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            (
                addr,
                Box::new(move || {
                    let (c, _) = l.accept().ok()?;
                    c.set_nodelay(true).unwrap();
                    Some(Box::new(c) as Box<dyn Conn>)
                }),
            )
        }
        Api::Xasync => {
            let l = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            (
                addr,
                Box::new(move || {
                    let (c, _) = l.accept().ok()?;
                    c.set_nodelay(true).unwrap();
                    Some(Box::new(c) as Box<dyn Conn>)
                }),
            )
        }
    }
}

fn connect(api: Api, addr: SocketAddr) -> Box<dyn Conn> {
    match api {
        Api::Std => {
            let c = std::net::TcpStream::connect(addr).unwrap();
            c.set_nodelay(true).unwrap();
            Box::new(c)
        }
        Api::Xasync => {
            let c = xasync::net::TcpStream::connect(addr).unwrap();
            c.set_nodelay(true).unwrap();
            Box::new(c)
        }
    }
}

/// Round trips per second of one run, on `backend` (`None`: the
/// default).
fn echo_run(api: Api, backend: Option<IoBackend>, connections: usize) -> f64 {
    let builder = xasync::Runtime::builder().workers(1);
    let builder = match backend {
        Some(backend) => builder.io(backend),
        None => builder,
    };
    let rt = builder.build().unwrap();
    let (addr, mut accept) = listen(api);
    drop(rt.xasync(move || {
        for _ in 0..connections {
            let Some(mut conn) = accept() else { return };
            drop(xasync::xasync(move || {
                let mut buf = [0u8; MESSAGE];
                while conn.read_exact(&mut buf).is_ok() && conn.write_all(&buf).is_ok() {}
            }));
        }
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (stop, count) = (stop.clone(), count.clone());
            rt.xasync(move || {
                let mut conn = connect(api, addr);
                let out = [7u8; MESSAGE];
                let mut back = [0u8; MESSAGE];
                while !stop.load(Ordering::Relaxed) {
                    conn.write_all(&out).unwrap();
                    conn.read_exact(&mut back).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100)); // all connected
    let start = (count.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(RUN);
    let done = count.load(Ordering::Relaxed) - start.0;
    let rate = done as f64 / start.1.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    rt.shutdown();
    rate
}
