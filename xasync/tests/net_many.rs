//! 10,000 concurrent echo connections over loopback, every one of them
//! open at the same time, each getting exactly its own bytes back.
//!
//! The server runs in a child process (each side needs 10,000 descriptors;
//! the hard limit may not allow 20,000 in one process); both raise their
//! soft `RLIMIT_NOFILE` to what they need.

mod nofile;

use nofile::raise_nofile;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;
use xasync::Runtime;
use xasync::net::{TcpListener, TcpStream};
use xasync::sync::{Barrier, Semaphore};

const CONNECTIONS: usize = 10_000;
/// Connects in flight at once (the listen backlog is finite).
const CONNECTING: usize = 512;
const HANG_GUARD: Duration = Duration::from_secs(120);

#[test]
fn ten_thousand_concurrent_echo_connections() {
    if std::env::var("XASYNC_ECHO_SERVER").is_ok() {
        serve();
        return;
    }
    raise_nofile(CONNECTIONS as u64 + 256);
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ten_thousand_concurrent_echo_connections",
            "--nocapture",
        ])
        .env("XASYNC_ECHO_SERVER", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The test harness prints its own lines first; keep the pipe open.
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let addr: std::net::SocketAddr = loop {
        let mut line = String::new();
        assert_ne!(output.read_line(&mut line).unwrap(), 0, "the server exited");
        if let Some(addr) = line.trim().strip_prefix("listening on ") {
            break addr.parse().unwrap();
        }
    };

    let rt = Runtime::builder().workers(2).build().unwrap();
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let all_open = Arc::new(Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (connecting, all_open) = (connecting.clone(), all_open.clone());
            rt.xasync(move || {
                let conn = {
                    let _permit = connecting.acquire(1).unwrap();
                    TcpStream::connect(addr).unwrap()
                };
                conn.set_read_timeout(Some(HANG_GUARD)).unwrap();
                all_open.wait(); // every connection is open now
                let message = format!("<{i}:{}>", "x".repeat(i % 200)).into_bytes();
                conn.write_all(&message).unwrap();
                let mut back = vec![0; message.len()];
                conn.read_exact(&mut back).unwrap();
                back == message
            })
        })
        .collect();
    let correct = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&ok| ok)
        .count();
    let _ = server.kill();
    let _ = server.wait();
    drop(output);
    assert_eq!(correct, CONNECTIONS);
}

fn serve() {
    raise_nofile(CONNECTIONS as u64 + 256);
    let rt = Runtime::builder().workers(2).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    rt.xasync(move || {
        while let Ok((conn, _)) = listener.accept() {
            xasync::xasync(move || {
                let _ = std::io::copy(&mut &conn, &mut &conn);
            })
            .detach();
        }
    })
    .join()
    .unwrap();
}
