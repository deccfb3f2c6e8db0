//! For the servers' tests: a server in a process of its own, so that a test
//! can limit its file descriptors, and a case that takes it down shows as
//! its exit rather than as the end of the test process.
//!
//! The server process is the test binary itself, running only one ignored
//! test which calls [`become_server`], then serves and prints its address.
//! The servers include this file with `#[path]`, like `accept.rs`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Set in the server process: the descriptor limit it gets, or `none`.
const CHILD_ENV: &str = "XASYNC_EXAMPLES_CHILD_SERVER";

/// How long a server process may take to print its address.
const STARTUP: Duration = Duration::from_secs(30);

/// A server process, killed when dropped.
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    stdout: Output,
    stderr: Output,
}

/// What a server process prints on one stream, read by a thread of its own
/// so that the server never blocks on a full pipe.
struct Output {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Output {
    fn read(stream: impl Read + Send + 'static) -> Output {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Output {
            text,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

impl ChildServer {
    /// Starts this test binary running only the ignored test `test` (its
    /// full path, e.g. `tests::server`), limited to `fds` descriptors, and
    /// waits until it prints `marker` followed by its address.
    pub fn start(test: &str, fds: Option<u64>, marker: &str) -> ChildServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                test,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, fds.map_or("none".into(), |n| n.to_string()))
            // The server ends when this process does: its stdin closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = ChildServer {
            stdout: Output::read(child.stdout.take().unwrap()),
            stderr: Output::read(child.stderr.take().unwrap()),
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        // The test harness's "test ... " may precede it on the line.
        let rest = server.wait_for(false, marker);
        server.addr = rest.parse().unwrap();
        server
    }

    /// Waits until the server prints a line containing `marker` on
    /// standard error if `on_stderr` (else output), while it keeps running
    /// (for tests that must see the server reach a state before they go
    /// on); returns the rest of that line. Panics if the server exits or
    /// takes longer than `STARTUP`.
    pub fn wait_for(&mut self, on_stderr: bool, marker: &str) -> String {
        let start = Instant::now();
        loop {
            let text = if on_stderr {
                &self.stderr
            } else {
                &self.stdout
            }
            .text();
            let line = text.split_once(marker).map(|(_, rest)| rest);
            if let Some((rest, _)) = line.and_then(|rest| rest.split_once('\n')) {
                return rest.to_string();
            }
            self.assert_running();
            assert!(start.elapsed() < STARTUP, "no {marker:?} in {STARTUP:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Panics, with what the server printed, if it has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "the server exited ({status}):\n{}{}",
                self.stdout.text(),
                self.stderr.text()
            );
        }
    }

    /// Stops the server; all it printed on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The pipe is closed now: its reader ends once it has read it all.
        if let Some(reader) = self.stderr.reader.take() {
            reader.join().unwrap();
        }
        self.stderr.text()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In the ignored test that a [`ChildServer`] runs: whether this is the
/// server process (else the test returns at once). If so, limits the
/// process to the descriptors it was given and ends it when the test
/// process that started it ends.
pub fn become_server() -> bool {
    let Some(fds) = std::env::var_os(CHILD_ENV) else {
        return false;
    };
    if let Ok(fds) = fds.to_string_lossy().parse() {
        let limit = libc::rlimit {
            rlim_cur: fds,
            rlim_max: fds,
        };
        // SAFETY: `limit` is a valid rlimit for the duration of the call.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    }
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    true
}
