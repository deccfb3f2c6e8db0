//! What the I/O benchmarks share: servers run as child processes of the
//! bench binary (pinned with `taskset`), their CPU time read from /proc,
//! and the xasync servers' runtime and listener.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The environment variable that turns the bench binary into a server.
pub const SERVER_ENV: &str = "XASYNC_BENCH_SERVER";

/// Seconds per measurement (`XASYNC_BENCH_SECS`, default 5).
pub fn seconds() -> u64 {
    std::env::var("XASYNC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Measurements per contender (`XASYNC_BENCH_ROUNDS`, default 3); the
/// median is reported.
pub fn rounds() -> usize {
    std::env::var("XASYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// The I/O backend of xasync server `kind`: epoll for `xasync-epoll`,
/// io_uring otherwise.
pub fn backend(kind: &str) -> xasync::io::IoBackend {
    if kind == "xasync-epoll" {
        xasync::io::IoBackend::Epoll
    } else {
        xasync::io::IoBackend::Uring
    }
}

/// The runtime and listener of xasync server `kind`: one worker on its
/// backend (see [`backend`]) and a local socket on a free port, announced.
pub fn xasync_server(kind: &str) -> (xasync::Runtime, xasync::net::TcpListener) {
    let rt = xasync::Runtime::builder()
        .workers(1)
        .io(backend(kind))
        .build()
        .unwrap();
    let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
    announce(listener.local_addr().unwrap());
    (rt, listener)
}

/// A server child process, pinned to CPU 0.
pub struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts this binary as server `kind` on CPU 0 and waits for its
    /// "listening on ADDR" line.
    pub fn start(kind: &str) -> Server {
        let mut child = Command::new("taskset")
            .args(["-c", "0"])
            .arg(std::env::current_exe().unwrap())
            .env(SERVER_ENV, kind)
            .stdout(Stdio::piped())
            .spawn()
            .expect("taskset (util-linux) is needed to pin the server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let addr = loop {
            let mut line = String::new();
            assert_ne!(
                stdout.read_line(&mut line).unwrap(),
                0,
                "{kind} server exited"
            );
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                break addr.parse().unwrap();
            }
        };
        std::thread::sleep(Duration::from_millis(100));
        Server {
            child,
            _stdout: stdout,
            addr,
        }
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command (which may contain spaces) end with ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints the line that servers print when ready.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
}
