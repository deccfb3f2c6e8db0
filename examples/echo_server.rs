//! A TCP echo server: one coroutine per connection, copying with plain
//! `std::io::copy` — each `read` and `write` suspends only its coroutine.
//!
//! ```sh
//! cargo run --release --example echo_server              # 127.0.0.1:7000
//! cargo run --release --example echo_client -- 127.0.0.1:7000
//! ```

#[path = "src/accept.rs"]
mod accept;

use std::io;
use xasync::net::TcpListener;
use xasync::{xasync, xawait};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echoing on {}", listener.local_addr()?);
    xawait(xasync(move || serve(&listener)))
}

/// Echoes on every connection `listener` accepts, one coroutine each.
fn serve(listener: &TcpListener) -> io::Result<()> {
    accept::accept_loop(listener, |conn, peer| {
        xasync(move || {
            // `&TcpStream` is both Read and Write: copy it onto itself.
            match io::copy(&mut &conn, &mut &conn) {
                Ok(bytes) => println!("{peer}: echoed {bytes} bytes"),
                Err(e) => println!("{peer}: {e}"),
            }
        })
        .detach();
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    /// The descriptor limit of the server process in the test.
    const FDS: u64 = 64;
    /// Set in the server process.
    const CHILD_ENV: &str = "XASYNC_ECHO_TEST_CHILD";

    /// Kills the server process when the test ends, however it ends.
    struct Kill(Child);

    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Sends `message` on `conn` and reads back as many bytes.
    fn echo(conn: &mut TcpStream, message: &[u8]) -> Vec<u8> {
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(message).unwrap();
        let mut back = vec![0; message.len()];
        conn.read_exact(&mut back).unwrap();
        back
    }

    /// The server runs in a process of its own (this test binary, running
    /// only `server_with_few_fds`) limited to `FDS` descriptors; this
    /// process opens twice as many connections, so accept fails with
    /// EMFILE, then closes them: the server must echo on a new one.
    #[test]
    fn survives_running_out_of_file_descriptors() {
        let server = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::server_with_few_fds", "--ignored"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Kill(server);
        let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the server exited").unwrap();
            // The test harness's "test ... " may precede it on the line.
            if let Some((_, addr)) = line.split_once("echoing on ") {
                break addr.to_owned();
            }
        };
        let mut many: Vec<TcpStream> = (0..2 * FDS)
            .map(|_| TcpStream::connect(&addr).unwrap())
            .collect();
        // The first connections are served; the last ones wait in the
        // kernel's queue while the server has no descriptor left.
        assert_eq!(echo(&mut many[0], b"first"), b"first");
        drop(many);
        let mut fresh = TcpStream::connect(&addr).unwrap();
        assert_eq!(echo(&mut fresh, b"after"), b"after");
        drop(fresh);
        drop(lines);
        let mut stderr = server.0.stderr.take().unwrap();
        server.0.kill().unwrap();
        let mut log = String::new();
        stderr.read_to_string(&mut log).unwrap();
        assert!(log.contains("Too many open files"), "{log}");
    }

    /// The server of `survives_running_out_of_file_descriptors`.
    #[test]
    #[ignore = "the server process of survives_running_out_of_file_descriptors"]
    fn server_with_few_fds() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        let limit = libc::rlimit {
            rlim_cur: FDS,
            rlim_max: FDS,
        };
        // SAFETY: `limit` is a valid rlimit for the duration of the call.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
        println!("echoing on {}", listener.local_addr().unwrap());
        let served = xasync::xawait(xasync::xasync(move || super::serve(&listener)));
        panic!("the server stopped: {served:?}");
    }
}
